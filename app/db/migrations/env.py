"""Alembic environment: the URL comes from Folio's settings, the schema from SQLModel.metadata.

`folio db upgrade` passes the URL (and the key pepper, for migrations that encrypt data) in
`config.attributes`; plain `alembic upgrade head` builds Settings the usual way (config.yaml +
DATABASE_URL) and resolves the secrets as the server would.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import app.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from app.db.database import make_engine
from indexes import ledger

config = context.config


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return url
    from app.core.secrets import ensure_secrets
    from app.core.settings import load_settings

    settings = load_settings(check_paths=False)
    ensure_secrets(settings)
    config.attributes.setdefault("key_pepper", settings.auth.pepper())
    return settings.database.url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=[SQLModel.metadata, ledger.metadata],
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=[SQLModel.metadata, ledger.metadata],
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER needs batch mode
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
