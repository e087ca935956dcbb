"""Run Alembic migrations from code (`folio db upgrade`, the lifespan's auto-migrate, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, *, key_pepper: str | None = None) -> Config:
    """`key_pepper` lets data migrations encrypt secrets (0003: TOTP secrets)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url  # not via set_main_option: '%' in passwords breaks configparser
    if key_pepper:
        cfg.attributes["key_pepper"] = key_pepper
    return cfg


def upgrade(url: str, revision: str = "head", *, key_pepper: str | None = None) -> None:
    command.upgrade(alembic_config(url, key_pepper=key_pepper), revision)


def downgrade(url: str, revision: str = "-1", *, key_pepper: str | None = None) -> None:
    command.downgrade(alembic_config(url, key_pepper=key_pepper), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
