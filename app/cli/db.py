"""`folio db upgrade | downgrade | current`: the database schema (Alembic migrations)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import ConfigOpt, check_pepper_or_fail, cli_settings, console, fail

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
    if revision == "head":  # a fresh database records this pepper; another one is refused
        check_pepper_or_fail(settings)


@db_app.command("reset-pepper")
def db_reset_pepper(
    yes: Annotated[bool, typer.Option("--yes", help="I know every API key and TOTP dies")] = False,
    config: ConfigOpt = None,
) -> None:
    """Accept the current FOLIO_KEY_PEPPER after the original is lost: every API key, recovery
    code and TOTP secret made with the old one stops working and must be issued again."""
    from app.core.secrets import ensure_secrets
    from app.db.database import make_engine
    from app.services.pepper import reset_pepper

    if not yes:
        raise fail(
            "this makes every existing API key, recovery code and TOTP secret useless; run "
            "again with --yes if the original pepper is lost",
            code=2,
        )
    settings = cli_settings(config, check_paths=False)
    ensure_secrets(settings)
    db_engine = make_engine(settings.database.url)
    try:
        previous = reset_pepper(engine=db_engine, pepper=settings.auth.pepper())
    finally:
        db_engine.dispose()
    was = f" (was {previous[:12]}…)" if previous else ""
    console.print(f"the database now belongs to this FOLIO_KEY_PEPPER{was}", highlight=False)


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
