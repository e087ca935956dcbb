"""Alembic migrations on real SQLite and PostgreSQL: upgrade, one-step downgrade, no drift."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel
from typer.testing import CliRunner

import app.db.models  # noqa: F401
from app.db import migrate
from app.db.database import make_engine
from indexes import ledger
from tests.utils.builders import REPO
from tests.utils.services import fresh_pg_schema, postgres_url_or_skip

pytestmark = pytest.mark.integration

TABLES = {"users", "api_keys", "refresh_tokens", "oauth_identities", "recovery_codes"}
CONVERSATION_TABLES = {"chat_sessions", "messages", "feedback", "usage_records"}
LEDGER_TABLES = {"documents", "index_state"}
JOB_TABLES = {"jobs", "job_inputs"}
SCHEMA = [SQLModel.metadata, ledger.metadata]  # app models + the document ledger (indexes/)


def _check_round_trip(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        assert TABLES <= set(sa.inspect(engine).get_table_names())
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.connect() as conn:  # the models and the migrations describe the same schema
            diff = compare_metadata(MigrationContext.configure(conn), SCHEMA)
            assert diff == []
        assert LEDGER_TABLES | JOB_TABLES <= set(sa.inspect(engine).get_table_names())
        migrate.downgrade(url, "0005")  # 0006 → 0005: only the job tables go
        names = set(sa.inspect(engine).get_table_names())
        assert LEDGER_TABLES <= names and not JOB_TABLES & names
        migrate.downgrade(url, "0003")  # 0004 → 0003: only the ledger tables go
        names = set(sa.inspect(engine).get_table_names())
        assert CONVERSATION_TABLES <= names and not LEDGER_TABLES & names
        assert _totp_column_length(engine) == 255  # 0003: room for the encrypted secret
        migrate.downgrade(url, "0002")
        assert _totp_column_length(engine) == 64
        migrate.downgrade(url, "-1")  # 0002 → 0001: only the conversation tables go
        names = set(sa.inspect(engine).get_table_names())
        assert TABLES <= names and not CONVERSATION_TABLES & names
        migrate.downgrade(url, "-1")
        assert not TABLES & set(sa.inspect(engine).get_table_names())
        migrate.upgrade(url)
        assert CONVERSATION_TABLES <= set(sa.inspect(engine).get_table_names())
        assert TABLES <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _totp_column_length(engine: sa.Engine) -> int:
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("users")}
    return columns["totp_secret"]["type"].length


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _check_round_trip(f"sqlite:///{tmp_path / 'm.db'}")


def test_postgres_upgrade_downgrade_upgrade() -> None:
    with fresh_pg_schema(postgres_url_or_skip()) as url:
        _check_round_trip(url)


def test_folio_db_cli_and_plain_alembic(tmp_path: Path) -> None:
    """`folio db upgrade|downgrade|current` and `alembic upgrade head` use the configured URL."""
    from app.cli import app as cli

    db = tmp_path / "cli.db"
    config = tmp_path / "config.yaml"
    config.write_text(f"environment: test\ndatabase:\n  url: sqlite:///{db}\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade", "-c", str(config)]).exit_code == 0
    current = runner.invoke(cli, ["db", "current", "-c", str(config)])
    assert migrate.head_revision() in current.output
    assert runner.invoke(cli, ["db", "downgrade", "base", "-c", str(config)]).exit_code == 0
    assert "(empty)" in runner.invoke(cli, ["db", "current", "-c", str(config)]).output

    env = {**os.environ, "FOLIO_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    alembic = [sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"), "upgrade", "head"]
    done = subprocess.run(alembic, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    engine = make_engine(f"sqlite:///{db}")
    try:
        assert TABLES <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


PEPPER = "a-test-pepper-of-more-than-32-bytes-0123456789"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a base32 TOTP secret, as 0002 stored it


def _migrate_plaintext_totp(url: str) -> None:
    """Rows written before 0003 hold the TOTP secret in clear; 0003 encrypts them (AES-GCM,
    key from the pepper, user id bound), and the app then verifies codes with them."""
    from app.core.security import decrypt_totp_secret, totp_data_key

    migrate.upgrade(url, "0002")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, email, is_active, totp_secret, totp_enabled,"
                    " totp_last_step, created_at) VALUES (7, 'old@example.com', true, :s, true,"
                    " 0, CURRENT_TIMESTAMP)"
                ),
                {"s": SECRET},
            )
        with pytest.raises(RuntimeError, match="FOLIO_KEY_PEPPER"):
            migrate.upgrade(url)  # a row to encrypt and no key: stop, say what is missing
        migrate.upgrade(url, key_pepper=PEPPER)

        def stored() -> str:
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT totp_secret FROM users")).scalar_one()

        sealed = stored()
        assert sealed.startswith("v1:") and SECRET not in sealed
        key = totp_data_key(PEPPER)
        assert decrypt_totp_secret(sealed, key=key, user_id=7) == SECRET
        migrate.downgrade(url, "0002", key_pepper=PEPPER)
        assert stored() == SECRET
    finally:
        engine.dispose()


def test_migration_0003_encrypts_existing_totp_secrets_sqlite(tmp_path: Path) -> None:
    _migrate_plaintext_totp(f"sqlite:///{tmp_path / 'm.db'}")


def test_migration_0003_encrypts_existing_totp_secrets_postgres() -> None:
    with fresh_pg_schema(postgres_url_or_skip()) as url:
        _migrate_plaintext_totp(url)
