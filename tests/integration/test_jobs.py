"""Upload jobs on the embedded default (SQLite, the in-process worker): 202 and progress, who
sees a job, a restart with a queued job, a crashed run resumed once, atomic claims, the owner
rule at run time, and `folio jobs` / `folio worker`."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session

from app.db.models import Job, JobInput, utcnow
from app.services import jobs
from tests.utils.apps import admin, make_settings, mock_index, running
from tests.utils.cli import run_folio
from tests.utils.jobs import key_headers, make_key, wait_for_job

pytestmark = pytest.mark.integration

PARAGRAPH = "Autolyse rests flour and water before the salt goes in, so gluten forms unaided. "
LONG_MD = ("# Autolyse\n\n" + PARAGRAPH * 60).encode()  # ~5 kB: a job below


def _settings(tmp_path, **sections):
    api = {"sync_upload_max_bytes": 1024, **sections.pop("api", {})}
    return make_settings(tmp_path, api=api, **sections)


def _upload(name: str = "autolyse.md", data: bytes = LONG_MD) -> dict:
    return {"file": (name, data, "application/octet-stream")}


async def test_a_large_upload_returns_202_and_the_job_reports_its_result(tmp_path):
    async with running(_settings(tmp_path)) as client:
        r = await client.post("/documents", files=_upload(), data={"book": "B"}, headers=admin())
        assert r.status_code == 202, r.text
        queued = r.json()
        assert r.headers["Location"] == f"/jobs/{queued['id']}"
        assert queued["state"] in ("queued", "running") and queued["media_type"] == "markdown"
        assert queued["document_id"] == "api:autolyse.md" and queued["size_bytes"] == len(LONG_MD)
        job = await wait_for_job(client, queued["id"])
        assert job["state"] == "succeeded" and job["progress"] == 1.0 and job["stage"] == "done"
        assert job["attempts"] == 1 and job["error"] is None
        assert job["result"]["status"] == "added" and job["result"]["chunks"] > 1
        assert job["finished_at"] >= job["started_at"] >= job["created_at"]
        index = client.app.state.index_holder.get()
        assert index.document("api:autolyse.md").chunk_count == job["result"]["chunks"]
        with Session(client.app.state.db_engine) as db:  # the bytes are not kept once it ended
            assert db.get(JobInput, queued["id"]) is None
        # the same file again: a job whose result is `unchanged`
        r = await client.post("/documents", files=_upload(), data={"book": "B"}, headers=admin())
        again = await wait_for_job(client, r.json()["id"])
        assert again["result"] == {**job["result"], "status": "unchanged", "chunks": 0}


async def test_only_the_owner_or_an_admin_sees_a_job(tmp_path):
    async with running(_settings(tmp_path), job_workers=0) as client:
        alice, bob = await make_key(client, ["ingest"]), await make_key(client, ["ingest"])
        r = await client.post("/documents", files=_upload(), headers=key_headers(alice))
        job_id = r.json()["id"]
        assert (await client.get(f"/jobs/{job_id}", headers=key_headers(alice))).status_code == 200
        r = await client.get(f"/jobs/{job_id}", headers=key_headers(bob))
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        missing = await client.get(f"/jobs/{'0' * 32}", headers=key_headers(bob))
        assert (
            missing.json()["error"]["message"].replace("0" * 32, job_id)
            == r.json()["error"]["message"]
        )  # another key's job reads exactly like one that does not exist
        assert (await client.get(f"/jobs/{job_id}", headers=admin())).status_code == 200
        assert (await client.get("/jobs", headers=key_headers(bob))).json()["count"] == 0
        listed = (await client.get("/jobs", headers=key_headers(alice))).json()
        assert [j["id"] for j in listed["data"]] == [job_id]
        assert (await client.get("/jobs?state=queued", headers=admin())).json()["count"] == 1
        assert (await client.get("/jobs?state=failed", headers=admin())).json()["count"] == 0
        # the key that replaced alice's by rotation sees her jobs
        r = await client.post(f"/keys/{alice['id']}/rotate", json={}, headers=admin())
        successor = {"X-API-Key": r.json()["key"]}
        assert (await client.get(f"/jobs/{job_id}", headers=successor)).status_code == 200
        assert (await client.get("/jobs", headers=successor)).json()["count"] == 1


async def test_jobs_need_the_ingest_scope(tmp_path):
    async with running(_settings(tmp_path), job_workers=0) as client:
        job_id = (await client.post("/documents", files=_upload(), headers=admin())).json()["id"]
        assert (await client.get(f"/jobs/{job_id}")).status_code == 401
        reader = await make_key(client, ["query"])
        assert (await client.get(f"/jobs/{job_id}", headers=key_headers(reader))).status_code == 403
        assert (await client.get("/jobs", headers=key_headers(reader))).status_code == 403
        r = await client.get("/jobs/not-a-job-id", headers=admin())
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


async def test_a_queued_job_survives_a_restart_and_runs_once(tmp_path):
    settings = _settings(tmp_path)
    async with running(settings, job_workers=0) as client:  # accepts, runs nothing
        r = await client.post("/documents", files=_upload(), headers=admin())
        job_id = r.json()["id"]
        assert (await client.get(f"/jobs/{job_id}", headers=admin())).json()["state"] == "queued"
    async with running(settings) as client:  # a new app instance on the same database
        job = await wait_for_job(client, job_id)
        assert job["state"] == "succeeded" and job["attempts"] == 1
        index = client.app.state.index_holder.get()
        entry = index.document("api:autolyse.md")
        assert entry.chunk_count == job["result"]["chunks"] == index.point_count()


async def test_a_crashed_run_is_resumed_once_and_not_duplicated(tmp_path):
    """A worker that died mid-run (claim taken, lease never renewed) leaves the job `running`;
    the next worker takes it over when the lease expires, and the document is indexed once."""
    settings = _settings(tmp_path, jobs={"lease_s": 2})
    async with running(settings, job_workers=0) as client:
        job_id = (await client.post("/documents", files=_upload(), headers=admin())).json()["id"]
        dead = jobs.claim(client.app.state.db_engine, job_id, worker="dead-host:1:x", lease_s=0.5)
        assert dead is not None
        # while its lease holds, nobody else can take it
        assert jobs.claim(client.app.state.db_engine, job_id, worker="other", lease_s=5) is None
    async with running(settings) as client:
        job = await wait_for_job(client, job_id)
        assert job["state"] == "succeeded" and job["attempts"] == 2
        index = client.app.state.index_holder.get()
        assert index.point_count() == index.document("api:autolyse.md").chunk_count
        # the dead worker's late outcome cannot overwrite the record
        assert not jobs.fail(client.app.state.db_engine, dead, code="x", message="late")
        assert (await client.get(f"/jobs/{job_id}", headers=admin())).json()["state"] == (
            "succeeded"
        )


async def test_a_job_that_keeps_crashing_fails_after_max_attempts(tmp_path):
    settings = _settings(tmp_path, jobs={"lease_s": 2, "max_attempts": 2})
    async with running(settings, job_workers=0) as client:
        job_id = (await client.post("/documents", files=_upload(), headers=admin())).json()["id"]
        with Session(client.app.state.db_engine) as db:
            job = db.get(Job, job_id)
            job.state, job.attempts, job.worker = "running", 2, "crashed"
            job.lease_until = utcnow() - timedelta(seconds=1)
            db.add(job)
            db.commit()
    async with running(settings) as client:
        job = await wait_for_job(client, job_id)
        assert job["state"] == "failed" and job["error"]["code"] == "interrupted"
        assert client.app.state.index_holder.get().point_count() == 0


def test_only_one_of_many_concurrent_claims_wins(tmp_path):
    from app.db import migrate
    from app.db.database import make_engine

    settings = _settings(tmp_path)
    migrate.upgrade(settings.database.url, key_pepper="p" * 32)
    engine = make_engine(settings.database.url, settings.database)
    try:
        _assert_one_claim_wins(engine)
    finally:
        engine.dispose()


def _assert_one_claim_wins(engine) -> None:  # type: ignore[no-untyped-def]
    """Sixteen threads claim one job at once: exactly one gets it, attempts counts one."""
    job_id = _insert_job(engine)
    barrier = threading.Barrier(16)
    wins: list[str] = []

    def claim(n: int) -> None:
        barrier.wait()
        if jobs.claim(engine, job_id, worker=f"w{n}", lease_s=30) is not None:
            wins.append(f"w{n}")

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    with Session(engine) as db:
        job = db.get(Job, job_id)
        assert job.state == "running" and job.worker == wins[0] and job.attempts == 1


def _insert_job(engine, data: bytes = b"abc", filename: str = "a.md") -> str:  # type: ignore[no-untyped-def]
    """A queued job straight in the database (as another replica would have recorded it)."""
    job_id = uuid.uuid4().hex
    with Session(engine) as db:
        db.add(
            Job(
                id=job_id,
                owner="bootstrap",
                owner_admin=True,
                filename=filename,
                media_type="markdown",
                size_bytes=len(data),
                document_id=f"api:{filename}",
            )
        )
        db.add(JobInput(job_id=job_id, data=data))
        db.commit()
    return job_id


async def test_the_owner_rule_holds_when_the_job_runs(tmp_path):
    """The document may be ingested by another key between the upload and its run: the job
    fails `forbidden`, and the other key's document stays as it was."""
    async with running(_settings(tmp_path), job_workers=0) as client:
        alice, mallory = await make_key(client, ["ingest"]), await make_key(client, ["ingest"])
        r = await client.post(
            "/documents",
            files=_upload(),
            data={"source_id": "autolyse"},
            headers=key_headers(mallory),
        )
        job_id = r.json()["id"]
        mine = {
            "chapter": "Autolyse",
            "content": "Alice's autolyse notes.",
            "source_id": "autolyse",
        }
        assert (
            await client.post("/ingest", json=mine, headers=key_headers(alice))
        ).status_code == 200
        keys = {"alice": alice, "mallory": mallory}
    async with running(_settings(tmp_path)) as client:
        job = await wait_for_job(client, job_id, headers=key_headers(keys["mallory"]))
        assert job["state"] == "failed" and job["error"]["code"] == "forbidden"
        index = client.app.state.index_holder.get()
        [node] = index.vector_store.get_nodes([index.document("api:autolyse").chunk_ids[0]])
        assert node.get_content() == "Alice's autolyse notes."


async def test_a_job_waits_while_the_store_is_down_and_runs_when_it_is_back(tmp_path):
    """The vector store being away is not the file's fault: the job goes back to the queue
    (not counted as an attempt) and runs once the store answers."""
    from app.main import create_app
    from indexes.stores import StoreError

    up = threading.Event()

    def flaky_index(cfg, **kwargs):  # type: ignore[no-untyped-def]
        if not up.is_set():
            raise StoreError("vector store down (test)")
        return mock_index(cfg, **kwargs)

    app = create_app(_settings(tmp_path, jobs={"poll_s": 0.1}), index_factory=flaky_index)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            engine = app.state.db_engine
            job_id = _insert_job(engine, LONG_MD, "autolyse.md")
            app.state.job_queue.submit(job_id)
            await asyncio.sleep(1.0)
            r = await client.get(f"/jobs/{job_id}", headers=admin())
            assert r.json()["state"] == "queued" and r.json()["attempts"] == 0
            up.set()
            app.state.index_holder._last_try = 0.0  # retry the store now, not in 5 s
            with Session(engine) as db:  # and the job without its 10 s back-off
                job = db.get(Job, job_id)
                job.enqueued_at = utcnow()
                db.add(job)
                db.commit()
            job = await wait_for_job(client, job_id)
            assert job["state"] == "succeeded" and job["attempts"] == 1
            assert app.state.index_holder.get().document("api:autolyse.md") is not None


async def test_a_store_failing_mid_job_puts_the_job_back_not_failed(tmp_path):
    """The store going away while the job writes is not the file's fault: the job is released
    (it asked the store, which said it is down) and succeeds once the store is back."""
    from indexes.stores import StoreError

    down = threading.Event()

    def failing_store_index(cfg, **kwargs):  # type: ignore[no-untyped-def]
        index = mock_index(cfg, **kwargs)
        add, check = index.vector_store.add, index.check

        def add_unless_down(nodes, **kw):  # type: ignore[no-untyped-def]
            if down.is_set():
                raise ConnectionError("connection refused (test)")
            return add(nodes, **kw)

        def check_unless_down() -> None:
            if down.is_set():
                raise StoreError("vector store down (test)")
            check()

        object.__setattr__(index.vector_store, "add", add_unless_down)  # a pydantic model
        index.check = check_unless_down
        return index

    settings = _settings(tmp_path, jobs={"poll_s": 0.1})
    async with running(settings, index_factory=failing_store_index) as client:
        down.set()
        job_id = (await client.post("/documents", files=_upload(), headers=admin())).json()["id"]
        deadline = time.monotonic() + 30  # claimed, embedded, failed to write, released
        while time.monotonic() < deadline:
            with Session(client.app.state.db_engine) as db:
                job = db.get(Job, job_id)
            if job.started_at is not None and job.state != "running":
                break
            await asyncio.sleep(0.05)
        assert (job.state, job.attempts, job.error_code) == ("queued", 0, None)
        down.clear()
        with Session(client.app.state.db_engine) as db:  # skip the 10 s back-off
            job = db.get(Job, job_id)
            job.enqueued_at = utcnow()
            db.add(job)
            db.commit()
        job = await wait_for_job(client, job_id)
        assert job["state"] == "succeeded" and job["attempts"] == 1


def slow_index(cfg, **kwargs):  # type: ignore[no-untyped-def]
    """A mock-embedding index whose every embedding call takes 50 ms."""
    from llama_index.core.embeddings import MockEmbedding

    from indexes.folio_index import FolioIndex

    class SlowEmbedding(MockEmbedding):
        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            time.sleep(0.05)
            return super()._get_text_embeddings(texts)

    return FolioIndex(cfg, embed_model=SlowEmbedding(embed_dim=8), **kwargs)


# ~700 small chunks in one document: several embedding slices of indexes/pipeline.py
MANY_CHUNKS = {"chunking": {"chunk_size": 32, "chunk_overlap": 0}}
BIG_MD = ("# Autolyse\n\n" + PARAGRAPH * 1100).encode()


async def _poll(client, job_id: str, until) -> list[tuple[str, str, float]]:  # type: ignore[no-untyped-def]
    seen: list[tuple[str, str, float]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = (await client.get(f"/jobs/{job_id}", headers=admin())).json()
        seen.append((body["state"], body["stage"], body["progress"]))
        if until(seen[-1]):
            break
        await asyncio.sleep(0.05)
    return seen


async def test_progress_moves_while_a_large_document_embeds(tmp_path):
    async with running(_settings(tmp_path, **MANY_CHUNKS), index_factory=slow_index) as client:
        r = await client.post("/documents", files=_upload("big.md", BIG_MD), headers=admin())
        job_id = r.json()["id"]
        seen = await _poll(client, job_id, lambda s: s[0] in ("succeeded", "failed"))
    assert seen[-1] == ("succeeded", "done", 1.0)
    between = {p for state, stage, p in seen if stage == "embedding" and 0.1 < p < 1.0}
    assert len(between) >= 2, seen  # progress inside one document, not only at its end
    assert [p for _, _, p in seen] == sorted(p for _, _, p in seen)


async def test_a_job_running_at_shutdown_goes_back_and_runs_once_after_restart(tmp_path):
    """Stopping the server mid-embedding releases the job (nothing of it is written) and the
    next server runs it from the start, once."""
    await shutdown_mid_job_then_restart(_settings(tmp_path, **MANY_CHUNKS))


async def shutdown_mid_job_then_restart(settings) -> None:  # type: ignore[no-untyped-def]
    async with running(settings, index_factory=slow_index) as client:
        r = await client.post("/documents", files=_upload("big.md", BIG_MD), headers=admin())
        job_id = r.json()["id"]
        seen = await _poll(client, job_id, lambda s: s[1] == "embedding" and s[2] > 0.1)
        assert seen[-1][0] == "running"
    with Session(client.app.state.db_engine) as db:
        job = db.get(Job, job_id)
        assert (job.state, job.attempts, job.lease_until) == ("queued", 0, None)
    async with running(settings) as client:
        index = client.app.state.index_holder.get()
        assert index.document("api:big.md") is None and index.point_count() == 0
        job = await wait_for_job(client, job_id)
        assert job["state"] == "succeeded" and job["attempts"] == 1
        assert index.point_count() == index.document("api:big.md").chunk_count


async def test_a_job_over_jobs_max_chunks_fails_and_indexes_nothing(tmp_path):
    async with running(_settings(tmp_path, jobs={"max_chunks": 2})) as client:
        job_id = (await client.post("/documents", files=_upload(), headers=admin())).json()["id"]
        job = await wait_for_job(client, job_id)
        assert job["state"] == "failed" and job["error"]["code"] == "payload_too_large"
        assert "jobs.max_chunks" in job["error"]["message"]
        assert client.app.state.index_holder.get().point_count() == 0


def test_compose_runs_workers_with_the_servers_environment():
    import yaml

    from tests.utils.builders import REPO

    services = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]
    assert services["worker"]["command"] == ["folio", "worker"]
    assert services["worker"]["environment"] == services["folio"]["environment"]
    assert services["worker"]["environment"]["QDRANT_URL"]  # workers index into Qdrant


def test_folio_jobs_lists_and_shows_jobs(tmp_path):
    settings = _settings(tmp_path)

    async def submit() -> str:
        async with running(settings, job_workers=0) as client:
            r = await client.post("/documents", files=_upload(), headers=admin())
            return r.json()["id"]

    job_id = asyncio.run(submit())
    config = str(settings.config_path)
    listed = _folio("jobs", "-c", config)
    assert listed.exit_code == 0, listed.output
    assert job_id in listed.stdout and "queued" in listed.stdout and "autolyse.md" in listed.stdout
    shown = _folio("jobs", "show", job_id, "-c", config)
    assert shown.exit_code == 0 and f'"id": "{job_id}"' in shown.stdout
    assert '"state": "queued"' in shown.stdout
    missing = _folio("jobs", "show", "f" * 32, "-c", config)
    assert missing.exit_code == 1 and "not found" in missing.stderr
    none_failed = _folio("jobs", "--state", "failed", "-c", config)
    assert none_failed.exit_code == 0 and job_id not in none_failed.stdout
    purged = _folio("jobs", "purge", "--days", "0", "-c", config)
    assert purged.exit_code == 0 and "deleted 0 finished jobs" in purged.stdout  # queued: kept
    assert job_id in _folio("jobs", "-c", config).stdout


def test_purge_deletes_only_finished_jobs_older_than_the_cutoff(tmp_path):
    from app.db import migrate
    from app.db.database import make_engine

    settings = _settings(tmp_path)
    migrate.upgrade(settings.database.url, key_pepper="p" * 32)
    engine = make_engine(settings.database.url)
    old_done, new_done, old_queued = (_insert_job(engine) for _ in range(3))
    with Session(engine) as db:
        for job_id, state, age_days in (
            (old_done, "succeeded", 40),
            (new_done, "failed", 1),
            (old_queued, "queued", 40),
        ):
            job = db.get(Job, job_id)
            job.state = state
            job.finished_at = utcnow() - timedelta(days=age_days) if state != "queued" else None
            job.created_at = utcnow() - timedelta(days=age_days)
            db.add(job)
        db.commit()
        assert jobs.purge_jobs(db=db, older_than=timedelta(days=30)) == 1
    with Session(engine) as db:
        assert db.get(Job, old_done) is None and db.get(JobInput, old_done) is None
        assert db.get(Job, new_done) is not None and db.get(Job, old_queued) is not None
    engine.dispose()


def test_folio_worker_refuses_the_embedded_store(tmp_path):
    """`folio worker` as an operator runs it (a subprocess)."""
    settings = _settings(tmp_path)
    r = run_folio("worker", "-c", str(settings.config_path))
    assert r.returncode == 1 and "folio serve" in r.stderr and "QDRANT_URL" in r.stderr


def _folio(*args: str):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from app.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_jobs_workers_zero_needs_a_qdrant_server(tmp_path):
    from app.core.settings import ConfigError

    with pytest.raises(ConfigError, match="jobs.workers"):
        make_settings(tmp_path, jobs={"workers": 0})
