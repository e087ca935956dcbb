"""Run Alembic migrations from code (`folio db upgrade`, the lifespan's auto-migrate, tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from app.db.database import database_problem, make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, *, key_pepper: str | None = None) -> Config:
    """`key_pepper` lets data migrations encrypt secrets (0003: TOTP secrets)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url  # not via set_main_option: '%' in passwords breaks configparser
    if key_pepper:
        cfg.attributes["key_pepper"] = key_pepper
    return cfg


class DatabaseUnreachable(Exception):
    """The configured database does not answer; the message is one line naming the database
    (password hidden), the driver's reason and where to fix it."""


def describe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def unreachable(url: str, exc: BaseException) -> DatabaseUnreachable:
    orig = getattr(exc, "orig", None) or exc
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return DatabaseUnreachable(
        f"database {describe(url)} is unreachable ({reason}); "
        "check database.url in the config file or DATABASE_URL"
    )


@contextmanager
def explained(url: str) -> Iterator[None]:
    """Turn a driver error into DatabaseUnreachable when the database really does not answer
    (a migration bug stays what it is)."""
    try:
        yield
    except DBAPIError as exc:
        engine = make_engine(url)
        try:
            down = database_problem(engine) is not None
        finally:
            engine.dispose()
        if down:
            raise unreachable(url, exc) from None
        raise


def ensure_reachable(url: str) -> None:
    """DatabaseUnreachable unless `SELECT 1` works (used before `folio serve` starts)."""
    engine = make_engine(url)
    try:
        with explained(url), engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head", *, key_pepper: str | None = None) -> None:
    with explained(url):
        command.upgrade(alembic_config(url, key_pepper=key_pepper), revision)


def downgrade(url: str, revision: str = "-1", *, key_pepper: str | None = None) -> None:
    with explained(url):
        command.downgrade(alembic_config(url, key_pepper=key_pepper), revision)


def current_revision(engine: Engine) -> str | None:
    with explained(engine.url.render_as_string(hide_password=False)), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def known_revisions() -> set[str]:
    """Every revision this code can migrate from (an archive's revision must be one of them)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {rev.revision for rev in script.walk_revisions()}
