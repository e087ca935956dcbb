"""The database remembers which key pepper its secrets were made with (issue 25, item 4).

Started with another FOLIO_KEY_PEPPER (a new host after a restore, a replica without the
variable), every API key used to be refused with a bare 401 and every TOTP code failed, and
nothing said why. Now a fresh database records the pepper's fingerprint on first start, an
existing one adopts the pepper it is first started with, and every later start, the key and
user commands and restore refuse another pepper with a message that says what to do."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlmodel import Session

from app.core.security import pepper_fingerprint
from app.db import migrate
from app.db.database import make_engine
from app.services.keys import create_key
from app.services.pepper import PepperMismatch, check_pepper, recorded_fingerprint
from tests.utils.apps import admin, make_settings, running
from tests.utils.cli import run_folio
from tests.utils.http import free_port

pytestmark = pytest.mark.integration

PEPPER_A = "pepper-a-" + "a" * 40
PEPPER_B = "pepper-b-" + "b" * 40


def _site(tmp_path: Path, pepper: str | None):  # type: ignore[no-untyped-def]
    auth = {"key_pepper": pepper} if pepper else {}
    return make_settings(tmp_path, auth=auth)


async def test_a_fresh_database_records_the_fingerprint_never_the_pepper(tmp_path: Path) -> None:
    settings = _site(tmp_path, None)  # the pepper is generated into storage/secrets
    async with running(settings) as client:
        assert (await client.get("/health")).status_code == 200
    engine = make_engine(settings.database.url)
    try:
        recorded = recorded_fingerprint(engine)
    finally:
        engine.dispose()
    pepper = settings.auth.pepper()
    assert recorded == pepper_fingerprint(pepper) and len(recorded) == 64
    database = Path(settings.database.url.removeprefix("sqlite:///"))
    data = b"".join(p.read_bytes() for p in database.parent.glob("folio.db*"))
    assert pepper.encode() not in data and recorded.encode() in data


async def test_an_existing_database_adopts_its_pepper_then_refuses_another(tmp_path: Path) -> None:
    """A database from before the fingerprint (migrated to 0004, a key made with pepper A)
    adopts A when first started after the upgrade: its key keeps working. Started with B
    afterwards, the server refuses to start, naming the cause and the fix."""
    settings = _site(tmp_path, PEPPER_A)
    migrate.upgrade(settings.database.url, "0004", key_pepper=PEPPER_A)
    engine = make_engine(settings.database.url)
    with Session(engine) as db:
        _, key = create_key(db=db, settings=settings, name="old", scopes="ingest")
    engine.dispose()

    async with running(settings) as client:  # upgrade to head, record A
        r = await client.get("/documents", headers={"X-API-Key": key})
        assert r.status_code == 200, r.text

    with pytest.raises(PepperMismatch) as refused:
        async with running(_site(tmp_path, PEPPER_B)):
            pass
    message = refused.value.message
    assert "FOLIO_KEY_PEPPER" in message and "reset-pepper" in message
    assert pepper_fingerprint(PEPPER_A)[:12] in message and PEPPER_A not in message
    assert PEPPER_B not in message

    async with running(_site(tmp_path, PEPPER_A)) as client:  # the right pepper: still fine
        assert (await client.get("/documents", headers={"X-API-Key": key})).status_code == 200


def test_cli_key_commands_and_the_server_refuse_another_pepper(tmp_path: Path) -> None:
    """What the issue saw: a key made by `folio keys create` refused by the server started
    next. Whatever made the two disagree on the pepper, it is now an error that says so,
    from the command and from `folio serve`, instead of a 401 later."""
    settings = _site(tmp_path, None)
    config = str(settings.config_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    assert run_folio("db", "upgrade", "--config", config, env=env).returncode == 0
    made = run_folio("keys", "create", "--name", "k", "--scopes", "ingest", "-c", config, env=env)
    assert made.returncode == 0, made.stderr

    other = {**env, "FOLIO_KEY_PEPPER": PEPPER_B}
    refused = run_folio(
        "keys", "create", "--name", "k2", "--scopes", "ingest", "-c", config, env=other
    )
    assert refused.returncode == 1 and "FOLIO_KEY_PEPPER is not the pepper" in refused.stderr
    assert "Traceback" not in refused.stderr

    serve = run_folio("serve", "--config", config, "--port", str(free_port()), env=other)
    assert serve.returncode != 0
    output = serve.stdout + serve.stderr
    assert "FOLIO_KEY_PEPPER is not the pepper" in output and "Traceback" not in output

    reset = run_folio("db", "reset-pepper", "--yes", "-c", config, env=other)
    assert reset.returncode == 0, reset.stderr
    again = run_folio("keys", "list", "-c", config, env=other)
    assert again.returncode == 0, again.stderr


def test_replicas_recording_at_once_agree(tmp_path: Path) -> None:
    """Several processes starting on a fresh database insert the record at once: one wins,
    the others read it back and compare (the same pepper matches, another is refused)."""
    settings = _site(tmp_path, PEPPER_A)
    migrate.upgrade(settings.database.url, key_pepper=PEPPER_A)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def start(pepper: str) -> None:
        engine = make_engine(settings.database.url)
        try:
            barrier.wait()
            outcomes.append(check_pepper(engine=engine, pepper=pepper))
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start, args=(PEPPER_A,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(outcomes) == ["matches"] * 5 + ["recorded"]
    engine = make_engine(settings.database.url)
    try:
        with pytest.raises(PepperMismatch):
            check_pepper(engine=engine, pepper=PEPPER_B)
    finally:
        engine.dispose()


async def test_restore_refuses_another_pepper_unless_told_it_is_lost(tmp_path: Path) -> None:
    """The archive holds the pepper's fingerprint (never the pepper): a restore into an
    installation with another pepper is refused before anything is written; with
    `new_pepper` it goes ahead and the database then belongs to the new pepper."""
    from app.ops.backup import BackupFailed, create_backup
    from app.ops.restore import restore_backup

    source = _site(tmp_path / "source", PEPPER_A)
    async with running(source) as client:
        r = await client.post("/keys", json={"name": "k", "scopes": ["query"]}, headers=admin())
        assert r.status_code == 201, r.text
    result = create_backup(settings=source, out_dir=tmp_path / "backups")
    assert result.manifest["database"]["key_pepper_fingerprint"] == pepper_fingerprint(PEPPER_A)

    wrong = _site(tmp_path / "wrong", PEPPER_B)
    with pytest.raises(BackupFailed, match="FOLIO_KEY_PEPPER is not the pepper the archive"):
        restore_backup(settings=wrong, archive=result.archive)
    assert not Path(wrong.database.url.removeprefix("sqlite:///")).exists()

    right = _site(tmp_path / "right", PEPPER_A)
    restore_backup(settings=right, archive=result.archive)

    lost = _site(tmp_path / "lost", PEPPER_B)
    restore_backup(settings=lost, archive=result.archive, new_pepper=True)
    engine = make_engine(lost.database.url)
    try:
        assert recorded_fingerprint(engine) == pepper_fingerprint(PEPPER_B)
    finally:
        engine.dispose()
    async with running(lost) as client:  # starts: the database now belongs to pepper B
        assert (await client.get("/health")).status_code == 200
