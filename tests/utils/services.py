"""Real PostgreSQL / Redis for integration tests, or a skip that says why.

CI (.ci/run) sets FOLIO_TEST_POSTGRES_URL and FOLIO_TEST_REDIS_URL; elsewhere these tests skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def postgres_url_or_skip() -> str:
    url = os.environ.get("FOLIO_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("FOLIO_TEST_POSTGRES_URL is not set (run .ci/run for the PostgreSQL tests)")
    import sqlalchemy as sa

    from app.db.database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL at FOLIO_TEST_POSTGRES_URL is unreachable ({type(exc).__name__})")
    finally:
        engine.dispose()
    return url


@contextmanager
def fresh_pg_schema(url: str) -> Iterator[str]:
    """A URL whose search_path is a new empty schema, dropped afterwards: tests stay independent."""
    import sqlalchemy as sa

    from app.db.database import make_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def redis_url_or_skip() -> str:
    url = os.environ.get("FOLIO_TEST_REDIS_URL")
    if not url:
        pytest.skip("FOLIO_TEST_REDIS_URL is not set (run .ci/run for the Redis tests)")
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except Exception as exc:
        pytest.skip(f"Redis at FOLIO_TEST_REDIS_URL is unreachable ({type(exc).__name__})")
    return url
