"""One SQLAlchemy engine per app (opened in the lifespan), short sessions per unit of work.

SQLite is the embedded default; PostgreSQL comes through DATABASE_URL. `postgres://` (as some
hosts hand it out) is normalised to the psycopg2 driver name SQLAlchemy expects. Requests hold a
connection only while they talk to the database (never while the model works), so the pool is
sized for short transactions; a request that cannot get one within `pool_timeout_s` gets 503.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder (a fresh checkout has no storage/ yet)."""
    if not url.startswith("sqlite"):
        return
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, cfg: Any = None) -> Engine:
    """An engine for `url` (cfg: the `database` settings section, for pool sizes).

    SQLite gets WAL (readers never block the writer, commits are one fsync-free append with
    synchronous=NORMAL), foreign keys, a busy timeout and cross-thread use.
    """
    url = normalise_url(url)
    ensure_sqlite_folder(url)
    pool: dict[str, Any] = {}
    if cfg is not None:
        pool = {
            "pool_size": cfg.pool_size,
            "max_overflow": cfg.max_overflow,
            "pool_timeout": cfg.pool_timeout_s,
        }
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, **({} if memory else pool)
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **pool)
