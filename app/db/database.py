"""The database engine (one per app, opened in the lifespan) and `session_scope`, the one way to
get a database session (per request, per unit of answering work, per CLI command).

SQLite is the embedded default; PostgreSQL comes through DATABASE_URL. `postgres://` (as some
hosts hand it out) is normalised to the psycopg2 driver name SQLAlchemy expects. A SQLite file
is created (with its folder) owner-only, mode 0600: it holds password hashes and encrypted TOTP
secrets; SQLite gives its journal and WAL files the same mode.

Requests hold a connection only while they talk to the database (never while the model works),
so the pool is sized for short transactions; a request that cannot get one within
`pool_timeout_s` gets 503.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio.to_thread
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from app.core.metrics import DB_POOLS

log = logging.getLogger("folio.db")

PG_CONNECT_TIMEOUT_S = 5  # an unreachable host fails in seconds, not after the TCP timeout


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None (not SQLite, in memory)."""
    parsed = make_url(normalise_url(url))
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def prepare_sqlite_file(path: Path) -> None:
    """Create the folder (0700) and an empty owner-only file; tighten a file others can read."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("database file %s was mode %o; now 0600", path, mode)


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder (a fresh checkout has no storage/ yet)."""
    if (path := sqlite_path(url)) is not None:
        prepare_sqlite_file(path)


def make_engine(url: str, cfg: Any = None) -> Engine:
    """An engine for `url` (cfg: the `database` settings section, for pool sizes).

    SQLite gets WAL (readers never block the writer; with synchronous=NORMAL a commit is an
    append, not an fsync), foreign keys, a busy timeout and cross-thread use.
    """
    url = normalise_url(url)
    pool: dict[str, Any] = {}
    if cfg is not None:
        pool = {
            "pool_size": cfg.pool_size,
            "max_overflow": cfg.max_overflow,
            "pool_timeout": cfg.pool_timeout_s,
        }
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            prepare_sqlite_file(path)
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, **(pool if path else {})
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            if path is not None:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        DB_POOLS.track(engine)
        return engine
    engine = create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
        **pool,
    )
    DB_POOLS.track(engine)  # folio_db_pool_* at /metrics
    return engine


def database_problem(engine: Engine) -> str | None:
    """None when the database answers `SELECT 1`, else a short reason safe to show (no host,
    path or message: /ready is public). A SQLite file that was removed counts as unreachable
    even while pooled connections still read the deleted inode."""
    path = sqlite_path(str(engine.url))
    if path is not None and not path.exists():
        return "unreachable (database file missing)"
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return None


def session_scope(engine: Engine) -> SessionScope:
    """`with session_scope(engine) as db:` (or `async with`): a database session that is closed
    at the end of the block; whatever it did not commit is rolled back and its connection goes
    back to the pool. Services commit what they write."""
    return SessionScope(engine)


class SessionScope:
    """The context manager behind `session_scope`. A session connects on first use, so one that
    was never used costs nothing. `async with` (on the event loop) closes a session that is
    still inside a transaction on a worker thread, because that close is a rollback: I/O."""

    def __init__(self, engine: Engine) -> None:
        self.session = Session(engine, expire_on_commit=False)

    def __enter__(self) -> Session:
        return self.session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.close()

    async def __aenter__(self) -> Session:
        return self.session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.session.in_transaction():
            await anyio.to_thread.run_sync(self.session.close)
        else:
            self.session.close()
