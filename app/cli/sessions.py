"""`folio sessions purge`: chat sessions past their timeout."""

from __future__ import annotations

import typer

from app.cli.common import ConfigOpt, console, database

sessions_app = typer.Typer(help="Chat sessions: purge expired ones.", no_args_is_help=True)


@sessions_app.command("purge")
def sessions_purge(config: ConfigOpt = None) -> None:
    """Delete sessions idle longer than SESSION_TIMEOUT_HOURS, with their messages."""
    from app.services.sessions import purge_expired

    with database(config) as (settings, db):
        count = purge_expired(db=db, settings=settings)
    console.print(f"{count} expired session(s) deleted", highlight=False)
