"""One SQLAlchemy engine per app (opened in the lifespan), sessions per request.

SQLite is the embedded default; PostgreSQL comes through DATABASE_URL. `postgres://` (as some
hosts hand it out) is normalised to the psycopg2 driver name SQLAlchemy expects.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from app.core.metrics import DB_POOLS


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys on and cross-thread use (FastAPI pools)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        DB_POOLS.track(engine)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    DB_POOLS.track(engine)  # folio_db_pool_* at /metrics
    return engine
