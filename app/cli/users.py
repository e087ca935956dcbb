"""`folio users list | deactivate`: accounts, from the operator's shell."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import ConfigOpt, console, database

users_app = typer.Typer(help="Accounts: list, deactivate.", no_args_is_help=True)


@users_app.command("list")
def users_list(config: ConfigOpt = None) -> None:
    """List accounts."""
    from app.services.users import list_users

    with database(config) as (_, db):
        for u in list_users(db=db):
            mfa = "totp" if u.totp_enabled else "-"
            state = "active" if u.is_active else "disabled"
            console.print(f"{u.id}\t{u.email}\t{state}\t{mfa}", highlight=False)


@users_app.command("deactivate")
def users_deactivate(user_id: Annotated[int, typer.Argument()], config: ConfigOpt = None) -> None:
    """Block an account."""
    from app.services.users import set_user_active

    with database(config) as (_, db):
        set_user_active(db=db, user_id=user_id, active=False)
    console.print(f"user {user_id} deactivated")
