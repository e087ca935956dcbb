"""`folio db upgrade | downgrade | current`: the database schema (Alembic migrations)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import ConfigOpt, cli_settings, console

db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
    config: ConfigOpt = None,
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from app.core.secrets import ensure_secrets
    from app.db import migrate

    settings = cli_settings(config, check_paths=False)
    ensure_secrets(settings)  # migration 0003 encrypts TOTP secrets with the pepper
    migrate.upgrade(settings.database.url, revision, key_pepper=settings.auth.pepper())
    console.print(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; -1 is one step")] = "-1",
    config: ConfigOpt = None,
) -> None:
    """Revert migrations down to REVISION (default: one step)."""
    from app.core.secrets import ensure_secrets
    from app.db import migrate

    settings = cli_settings(config, check_paths=False)
    ensure_secrets(settings)
    migrate.downgrade(settings.database.url, revision, key_pepper=settings.auth.pepper())
    console.print(f"database downgraded ({revision})")


@db_app.command("current")
def db_current(config: ConfigOpt = None) -> None:
    """Print the database's current revision."""
    from app.db import migrate
    from app.db.database import make_engine

    db_engine = make_engine(cli_settings(config, check_paths=False).database.url)
    try:
        console.print(migrate.current_revision(db_engine) or "(empty)")
    finally:
        db_engine.dispose()
