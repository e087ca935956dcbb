"""`folio db …`, `folio keys …`, `folio users …`: operator commands on the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.core.settings import ConfigError, Settings, load_settings

console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="config.yaml (default: $FOLIO_CONFIG)")
]

db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config, check_paths=False)
    except ConfigError as exc:
        err_console.print(f"[red]config error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
    config: ConfigOpt = None,
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from app.db import migrate

    settings = _settings(config)
    migrate.upgrade(settings.database.url, revision)
    console.print(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; -1 is one step")] = "-1",
    config: ConfigOpt = None,
) -> None:
    """Revert migrations down to REVISION (default: one step)."""
    from app.db import migrate

    settings = _settings(config)
    migrate.downgrade(settings.database.url, revision)
    console.print(f"database downgraded ({revision})")


@db_app.command("current")
def db_current(config: ConfigOpt = None) -> None:
    """Print the database's current revision."""
    from app.db import migrate
    from app.db.engine import make_engine

    engine = make_engine(_settings(config).database.url)
    try:
        console.print(migrate.current_revision(engine) or "(empty)")
    finally:
        engine.dispose()
