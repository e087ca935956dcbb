"""Upload jobs on real Redis (the dramatiq queue) and real PostgreSQL; each test skips with the
reason when FOLIO_TEST_REDIS_URL / FOLIO_TEST_POSTGRES_URL is unset (.ci/run sets them)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.db.models import Job
from tests.integration.test_jobs import (
    LONG_MD,
    MANY_CHUNKS,
    _assert_one_claim_wins,
    _upload,
    shutdown_mid_job_then_restart,
)
from tests.utils.apps import admin, make_settings, running
from tests.utils.builders import REPO
from tests.utils.jobs import wait_for_job
from tests.utils.services import fresh_pg_schema, postgres_url_or_skip, redis_url_or_skip

pytestmark = pytest.mark.integration


def _redis_settings(tmp_path: Path, queue_name: str, **sections):  # type: ignore[no-untyped-def]
    api = {"sync_upload_max_bytes": 1024, "redis_url": redis_url_or_skip()}
    api.update(sections.pop("api", {}))
    jobs = {"queue_name": queue_name, **sections.pop("jobs", {})}
    return make_settings(tmp_path, api=api, jobs=jobs, **sections)


def _queue_name() -> str:
    return f"folio-test-{uuid.uuid4().hex[:10]}"  # its own Redis keys: tests never share one


async def test_a_job_goes_through_redis_to_the_next_server(tmp_path):
    """Submitted by a server that runs no jobs, the job id waits in Redis (not only in the
    database) and the next server's dramatiq worker takes it from there."""
    settings = _redis_settings(tmp_path, _queue_name())
    async with running(settings, job_workers=0) as client:
        queue = client.app.state.job_queue
        assert queue.kind == "redis"
        job_id = (await client.post("/documents", files=_upload(), headers=admin())).json()["id"]
        assert queue.broker.do_qsize(queue.queue_name) == 1
    async with running(settings) as client:
        job = await wait_for_job(client, job_id)
        assert job["state"] == "succeeded" and job["attempts"] == 1
        queue = client.app.state.job_queue
        assert queue.broker.do_qsize(queue.queue_name) == 0


async def test_a_job_delivered_many_times_runs_once(tmp_path):
    settings = _redis_settings(tmp_path, _queue_name())
    async with running(settings) as client:
        job_id = (await client.post("/documents", files=_upload(), headers=admin())).json()["id"]
        for _ in range(4):  # the same id sent again: duplicates find the job claimed or done
            client.app.state.job_queue.submit(job_id)
        job = await wait_for_job(client, job_id)
        queue = client.app.state.job_queue
        deadline = time.monotonic() + 10
        while queue.broker.do_qsize(queue.queue_name) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the last duplicate is handled
        job = await wait_for_job(client, job_id)
        assert job["state"] == "succeeded" and job["attempts"] == 1
        assert job["result"]["status"] == "added"
        index = client.app.state.index_holder.get()
        assert index.point_count() == index.document("api:autolyse.md").chunk_count


async def test_jobs_lost_with_redis_are_sent_again_from_the_database(tmp_path):
    """Redis here keeps nothing on disk: after it restarts, the queue is empty but the jobs are
    still `queued` in the database, and the sweeper puts them back."""
    settings = _redis_settings(tmp_path, _queue_name(), jobs={"lease_s": 2})
    async with running(settings, job_workers=0) as client:
        job_id = (await client.post("/documents", files=_upload(), headers=admin())).json()["id"]
        queue = client.app.state.job_queue
        queue.broker.flush_all()  # what a Redis restart does to the queue
        assert queue.broker.do_qsize(queue.queue_name) == 0
    time.sleep(2.1)  # older than a lease: the sweeper leaves recently sent jobs alone
    async with running(settings) as client:
        job = await wait_for_job(client, job_id, timeout_s=30)
        assert job["state"] == "succeeded" and job["attempts"] == 1


async def test_a_job_running_at_shutdown_is_sent_again_through_redis(tmp_path):
    """The released job goes straight back on the Redis queue (not after a sweep a lease
    later): the next server runs it at once, and once."""
    settings = _redis_settings(tmp_path, _queue_name(), **MANY_CHUNKS)
    started = time.monotonic()
    await shutdown_mid_job_then_restart(settings)
    assert time.monotonic() - started < settings.jobs.lease_s


def test_two_worker_processes_share_the_queue_and_run_each_job_once(tmp_path):
    """Workers scale out: two processes consume one Redis queue and one jobs database; every
    job runs exactly once, in one of them. (Each worker indexes into its own folder here; in
    production they share a Qdrant server, which is why `folio worker` requires one.)"""
    from app.db import migrate
    from app.db.database import make_engine
    from app.services.identity import Identity
    from app.services.job_queue import RedisQueue
    from app.services.jobs import new_job
    from app.services.uploads import Upload
    from tests.utils.builders import write_config

    queue_name, shared_db = _queue_name(), f"sqlite:///{tmp_path / 'jobs.db'}"
    configs = []
    for name in ("a", "b"):
        root = tmp_path / name
        (root / "book").mkdir(parents=True)
        configs.append(
            write_config(
                root,
                root / "book",
                embedding={"provider": "mock", "dimensions": 8},
                api={"redis_url": redis_url_or_skip()},
                jobs={"queue_name": queue_name},
                database={"url": shared_db},
                auth={"admin_api_key": "k" * 40, "key_pepper": "p" * 40, "jwt_secret": "j" * 40},
            )
        )
    settings = make_settings(
        tmp_path / "api", api={"redis_url": redis_url_or_skip()}, jobs={"queue_name": queue_name}
    )
    settings.database.url = shared_db
    migrate.upgrade(shared_db, key_pepper="p" * 40)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.utils.job_worker", str(c)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for c in configs
    ]
    engine = make_engine(shared_db)
    submitter = RedisQueue(settings, engine)
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        owner = Identity(kind="bootstrap", subject="bootstrap", scopes=frozenset({"admin"}))
        ids = []
        with Session(engine, expire_on_commit=False) as db:
            for i in range(8):
                upload = Upload(
                    filename=f"doc{i}.md",
                    reader="markdown",
                    data=LONG_MD + f"\n\nDocument {i}.".encode(),
                    document_id=f"api:doc{i}",
                    book=None,
                    chapter=None,
                )
                ids.append(new_job(db=db, identity=owner, upload=upload).id)
        for job_id in ids:
            submitter.submit(job_id)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with Session(engine) as db:
                rows = db.exec(select(Job).where(Job.id.in_(ids))).all()  # type: ignore[attr-defined]
            if all(r.state in ("succeeded", "failed") for r in rows):
                break
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        submitter.close()
    assert [r.state for r in rows] == ["succeeded"] * 8
    assert all(r.attempts == 1 for r in rows)
    ran_by = {r.worker.split(":")[1] for r in rows}  # host:pid:random
    assert ran_by <= {str(w.pid) for w in workers}
    documents = [_ledger_ids(tmp_path / name / "storage") for name in ("a", "b")]
    assert documents[0].isdisjoint(documents[1])  # no job ran in both
    assert documents[0] | documents[1] == {f"api:doc{i}" for i in range(8)}
    engine.dispose()


def _ledger_ids(storage: Path) -> set[str]:
    from indexes.ledger import SqlLedger

    ledger = SqlLedger.from_url(f"sqlite:///{storage / 'folio.db'}")
    try:
        return {e.id for e in ledger.entries()}
    finally:
        ledger.close()


async def test_jobs_on_postgres_survive_a_restart_and_run_once(tmp_path):
    with fresh_pg_schema(postgres_url_or_skip()) as url:
        settings = make_settings(
            tmp_path, database={"url": url}, api={"sync_upload_max_bytes": 1024}
        )
        async with running(settings, job_workers=0) as client:
            r = await client.post("/documents", files=_upload(), headers=admin())
            job_id = r.json()["id"]
            assert r.status_code == 202
        async with running(settings) as client:
            job = await wait_for_job(client, job_id)
            assert job["state"] == "succeeded" and job["attempts"] == 1
            listed = (await client.get("/jobs", headers=admin())).json()
            assert [j["id"] for j in listed["data"]] == [job_id]


def test_only_one_of_many_concurrent_claims_wins_on_postgres():
    from app.db import migrate
    from app.db.database import make_engine

    with fresh_pg_schema(postgres_url_or_skip()) as url:
        migrate.upgrade(url, key_pepper="p" * 32)
        engine = make_engine(url)
        try:
            _assert_one_claim_wins(engine)
        finally:
            engine.dispose()
