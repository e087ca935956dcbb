"""Backup and restore round trips on real SQLite and PostgreSQL: back up an installation with
users, keys, TOTP, sessions, feedback and usage, wipe it, restore the archive; then every row is
the same, the key and the password + TOTP still work, and 20 questions about the sample book get
the same answers with the same citations. Corrupted and mismatched archives are refused."""

from __future__ import annotations

import io
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from app.core.settings import Settings, load_settings
from app.db import migrate
from app.db.database import make_engine
from app.main import create_app
from app.ops.backup import BackupFailed, create_backup, list_archives
from app.ops.restore import restore_backup
from indexes.folio_index import FolioIndex
from indexes.ledger import metadata as ledger_metadata
from tests.utils.builders import write_config
from tests.utils.cli import run_folio
from tests.utils.services import fresh_pg_schema, postgres_url_or_skip

pytestmark = pytest.mark.integration

ADMIN = "bootstrap-admin-key-for-backup-tests-0123"
EMAIL, PASSWORD = "keeper@example.com", "a long backup passphrase"
QUESTIONS = [
    "What is a sourdough starter?",
    "How do I create a starter from scratch?",
    "How often should I feed my starter?",
    "Can I store my starter in the refrigerator?",
    "How do I know when my starter is ready?",
    "Which flour should I choose?",
    "What do whole grains and rye change?",
    "What is the hydration percentage?",
    "Why does salt matter in the dough?",
    "What is autolyse?",
    "How do I build a levain?",
    "How long does bulk fermentation take?",
    "How can I read the dough during bulk fermentation?",
    "What are stretch and folds and coil folds?",
    "What is the windowpane test?",
    "How does temperature change the flavor?",
    "What is pre-shaping and bench rest?",
    "How do I use a banneton?",
    "Why score the loaf before baking?",
    "Why is the crumb gummy or dense?",
]


def _settings(root: Path, book: Path, template: Path, db_url: str | None = None) -> Settings:
    """An installation in `root` whose storage starts as a copy of the indexed sample book."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template / "storage", root / "storage")
    env = {"DATABASE_URL": db_url} if db_url else {}
    config = write_config(root, book, auth={"bcrypt_rounds": 4, "admin_api_key": ADMIN})
    return load_settings(config, environ=env)


async def _populate(settings: Settings, minilm) -> dict[str, Any]:
    """Accounts, a TOTP user, an API key, an ingested document, sessions, feedback, usage."""
    migrate.upgrade(settings.database.url)
    app = create_app(
        settings, index_factory=lambda cfg, **kw: FolioIndex(cfg, embed_model=minilm, **kw)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio") as c:
            assert (
                await c.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
            ).is_success
            login = {"email": EMAIL, "password": PASSWORD}
            tokens = (await c.post("/auth/login", json=login)).json()
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            enroll = {"password": PASSWORD}
            secret = (await c.post("/auth/totp/enroll", json=enroll, headers=bearer)).json()[
                "secret"
            ]
            code = pyotp.TOTP(secret).at(time.time() - 30)
            confirmed = await c.post("/auth/totp/confirm", json={"code": code}, headers=bearer)
            assert confirmed.is_success
            key = (
                await c.post(
                    "/keys",
                    json={"name": "ops", "scopes": ["ingest", "query"]},
                    headers={"X-API-Key": ADMIN},
                )
            ).json()["key"]
            ingested = await c.post(
                "/ingest",
                json={
                    "chapter": "Appendix: Altitude",
                    "content": "At high altitude dough rises faster, so shorten the proof.",
                },
                headers={"X-API-Key": key},
            )
            assert ingested.is_success, ingested.text
            session = (await c.post("/sessions", headers=bearer)).json()["id"]
            for question in ("What is autolyse?", "How long should it last?"):
                message = await c.post(
                    f"/sessions/{session}/messages", json={"query": question}, headers=bearer
                )
                assert message.is_success, message.text
            feedback = await c.post(
                f"/messages/{message.json()['id']}/feedback",
                json={"rating": -1, "comment": "too short"},
                headers=bearer,
            )
            assert feedback.is_success
            for question in ("How do I score a loaf?", "Does altitude change proofing?"):
                assert (await c.post("/query", json={"query": question})).is_success
    return {"key": key, "totp_secret": secret, "session": session}


def _rows(url: str) -> dict[str, list[dict]]:
    """Every row of every Folio table (the document ledger too), in primary-key order."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    dict(r._mapping)
                    for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                ]
                for table in [*SQLModel.metadata.sorted_tables, *ledger_metadata.sorted_tables]
            }
    finally:
        engine.dispose()


def _answers(settings: Settings, minilm) -> list[tuple[str, list[tuple[int, str]]]]:
    index = FolioIndex(settings.index, embed_model=minilm)
    try:
        out = []
        for question in QUESTIONS:
            answer = index.query(question)
            out.append((answer.answer, [(s.n, s.node_id) for s in answer.sources]))
        return out
    finally:
        index.close()


async def _still_works(settings: Settings, minilm, state: dict[str, Any]) -> None:
    """The restored key and password + TOTP authenticate, and new rows get fresh ids."""
    app = create_app(
        settings, index_factory=lambda cfg, **kw: FolioIndex(cfg, embed_model=minilm, **kw)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://folio") as c:
            r = await c.post(
                "/query", json={"query": "What is autolyse?"}, headers={"X-API-Key": state["key"]}
            )
            assert r.status_code == 200 and r.json()["sources"]
            login = {"email": EMAIL, "password": PASSWORD}
            assert (await c.post("/auth/login", json=login)).json()["error"][
                "code"
            ] == "mfa_required"
            code = pyotp.TOTP(state["totp_secret"]).now()
            tokens = await c.post("/auth/login", json={**login, "totp_code": code})
            assert tokens.status_code == 200
            bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
            history = await c.get(f"/sessions/{state['session']}", headers=bearer)
            assert [m["question"] for m in history.json()["messages"]] == [
                "What is autolyse?",
                "How long should it last?",
            ]
            new = await c.post(
                "/auth/register", json={"email": "new@example.com", "password": PASSWORD}
            )
            assert new.status_code == 201 and new.json()["id"] == 2  # the sequence went on


def _wipe_storage(settings: Settings, keep_secrets: Path | None = None) -> None:
    """Lose the installation; with `keep_secrets`, its secrets folder is first moved there, as
    an operator keeps them apart from the backups (`folio backup` says where they are)."""
    if keep_secrets is not None:
        shutil.move(settings.storage_dir / "secrets", keep_secrets)
    shutil.rmtree(settings.storage_dir)


def _put_secrets_back(kept: Path, settings: Settings) -> None:
    settings.storage_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(kept, settings.storage_dir / "secrets")


async def test_sqlite_round_trip_through_the_cli(
    tmp_path: Path, book_dir: Path, indexed_template, minilm
):
    settings = _settings(tmp_path / "site", book_dir, indexed_template)
    state = await _populate(settings, minilm)
    rows, answers = _rows(settings.database.url), _answers(settings, minilm)
    assert rows["usage_records"] and rows["feedback"] and rows["recovery_codes"]
    assert any(r["owner"] for r in rows["documents"])  # the API document's owner is kept
    config = str(settings.config_path)

    made = run_folio("backup", "--config", config, "--out", str(tmp_path / "backups"))
    assert made.returncode == 0, made.stderr
    (archive,) = list_archives(tmp_path / "backups")
    assert archive.stat().st_mode & 0o077 == 0  # password hashes and TOTP secrets inside
    with tarfile.open(archive) as tar:  # ... and so do the files it unpacks to
        assert {m.mode for m in tar.getmembers()} == {0o600}
    secrets = settings.storage_dir / "secrets"
    assert str(secrets / "key_pepper") in made.stdout  # where the secrets to keep apart are

    refused = run_folio("restore", str(archive), "--config", config)
    assert refused.returncode == 1 and "not empty" in refused.stderr  # never over live data

    _wipe_storage(settings, keep_secrets=tmp_path / "kept-secrets")
    Path(settings.database.url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    no_pepper = run_folio("restore", str(archive), "--config", config)
    assert no_pepper.returncode == 1 and "FOLIO_KEY_PEPPER" in no_pepper.stderr
    assert not settings.storage_dir.exists() or not any(settings.storage_dir.iterdir())
    _put_secrets_back(tmp_path / "kept-secrets", settings)
    restored = run_folio("restore", str(archive), "--config", config)
    assert restored.returncode == 0, restored.stderr
    assert "Traceback" not in restored.stderr

    assert _rows(settings.database.url) == rows
    assert _answers(settings, minilm) == answers
    await _still_works(settings, minilm, state)


async def test_postgres_round_trip_into_a_migrated_empty_database(
    tmp_path: Path, book_dir: Path, indexed_template, minilm
):
    with fresh_pg_schema(postgres_url_or_skip()) as url:
        settings = _settings(tmp_path / "site", book_dir, indexed_template, db_url=url)
        state = await _populate(settings, minilm)
        rows, answers = _rows(url), _answers(settings, minilm)
        assert any(r["owner"] for r in rows["documents"])  # the API document's owner is kept
        result = create_backup(settings=settings, out_dir=tmp_path / "backups")
        assert result.manifest["database"]["kind"] == "postgresql"
        assert result.manifest["versions"]["pg_dump"]
        names = tarfile.open(result.archive).getnames()
        assert "database/folio.pgdump" in names and names[0] == "manifest.json"

        _wipe_storage(settings)
        engine = make_engine(url)
        with engine.begin() as conn:  # drop every table: an empty database ...
            SQLModel.metadata.drop_all(conn)
            ledger_metadata.drop_all(conn)
            conn.execute(sa.text("DROP TABLE alembic_version"))
        engine.dispose()
        migrate.upgrade(url)  # ... migrated first, as compose's migrate service does
        restored = restore_backup(settings=settings, archive=result.archive)
        assert restored.manifest["vectors"]["counts"]["documents_api"] == 1

        assert _rows(url) == rows
        # backup and restore used the app's database for the ledger, not a stray SQLite file
        assert not (Path(settings.storage_dir) / "folio.db").exists()
        assert _answers(settings, minilm) == answers
        await _still_works(settings, minilm, state)


def _empty_site(root: Path, book: Path, env: dict | None = None, **sections: Any) -> Settings:
    root.mkdir(parents=True)
    return load_settings(write_config(root, book, **sections), environ=env or {})


def _flip_byte_inside(archive: Path, target: Path, member: str) -> None:
    """Rewrite the archive with one byte of `member` changed (a valid gzip, a wrong file)."""
    with tarfile.open(archive) as src, tarfile.open(target, "w:gz") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read()
            if info.name == member:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            dst.addfile(info, fileobj=io.BytesIO(data))


def test_corrupted_and_mismatched_archives_are_refused(
    tmp_path: Path, book_dir: Path, indexed_template
):
    settings = _settings(tmp_path / "site", book_dir, indexed_template)
    migrate.upgrade(settings.database.url)
    archive = create_backup(settings=settings, out_dir=tmp_path / "backups").archive
    fresh = _empty_site(tmp_path / "empty", book_dir)

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(BackupFailed, match="corrupted or not a Folio backup"):
        restore_backup(settings=fresh, archive=truncated)

    tampered = tmp_path / "tampered.tar.gz"
    _flip_byte_inside(archive, tampered, "vectors/points.jsonl")
    with pytest.raises(BackupFailed, match="checksum mismatch for vectors/points.jsonl"):
        restore_backup(settings=fresh, archive=tampered)

    other_model = _empty_site(
        tmp_path / "other", book_dir, embedding={"provider": "mock", "dimensions": 8}
    )
    with pytest.raises(BackupFailed, match="vectors were made by"):
        restore_backup(settings=other_model, archive=archive)

    other_collection = _empty_site(
        tmp_path / "coll", book_dir, vector_store={"collection": "elsewhere"}
    )
    with pytest.raises(BackupFailed, match="collection is 'test'"):
        restore_backup(settings=other_collection, archive=archive)

    for site in ("empty", "other", "coll"):  # refused before anything was written
        assert not (tmp_path / site / "storage").exists()


def test_sqlite_archive_is_refused_by_a_postgres_installation(
    tmp_path: Path, book_dir, indexed_template
):
    settings = _settings(tmp_path / "site", book_dir, indexed_template)
    migrate.upgrade(settings.database.url)
    archive = create_backup(settings=settings, out_dir=tmp_path / "backups").archive
    with fresh_pg_schema(postgres_url_or_skip()) as url:
        target = _empty_site(tmp_path / "pg", book_dir, env={"DATABASE_URL": url})
        with pytest.raises(
            BackupFailed, match="holds a sqlite database; this installation uses postgresql"
        ):
            restore_backup(settings=target, archive=archive)


def test_keep_prunes_the_oldest_archives(tmp_path: Path, book_dir: Path, indexed_template):
    settings = _settings(tmp_path / "site", book_dir, indexed_template)
    migrate.upgrade(settings.database.url)
    out = tmp_path / "backups"
    made = [create_backup(settings=settings, out_dir=out, keep=2).archive for _ in range(3)]
    assert list_archives(out) == made[1:]
    with pytest.raises(BackupFailed, match="at least 1"):
        create_backup(settings=settings, out_dir=out, keep=0)


def test_backup_while_serving_the_local_store_goes_through_the_server(
    tmp_path: Path, book_dir: Path
):
    """Local Qdrant allows one process: a running `folio serve` exports under its own lock and
    the CLI packs the result; a restore aimed at the served store is refused."""
    import os
    import subprocess
    import sys

    from tests.utils.builders import REPO
    from tests.utils.http import free_port

    mock = {"embedding": {"provider": "mock", "dimensions": 8}}
    site = tmp_path / "site"
    site.mkdir()
    config = write_config(site, book_dir, **mock)
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while not (site / "storage" / "server.json").exists() or not _ready(port):
            assert server.poll() is None and time.time() < deadline, "server did not start"
            time.sleep(0.3)
        indexed = run_folio("index", "--config", str(config))  # handed to the server too
        assert indexed.returncode == 0 and "via http" in indexed.stdout, indexed.stderr
        made = run_folio("backup", "--config", str(config), "--out", str(tmp_path / "out"))
        assert made.returncode == 0, made.stderr
        assert not list((site / "storage").glob(".export-*"))  # the server's export was moved
        (archive,) = list_archives(tmp_path / "out")
        refused = run_folio("restore", str(archive), "--config", str(config))
        assert refused.returncode == 1 and "restore" in refused.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    target = _empty_site(tmp_path / "new", book_dir, **mock)
    _put_secrets_back(site / "storage" / "secrets", target)  # kept apart, as the backup says
    result = restore_backup(settings=target, archive=archive)
    assert result.manifest["vectors"]["counts"]["points"] > 0
    assert result.manifest["vectors"]["counts"]["documents_config"] == 5


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
