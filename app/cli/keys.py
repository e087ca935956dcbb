"""`folio keys create | list | rotate | revoke`: API keys, from the operator's shell."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import ConfigOpt, console, database

keys_app = typer.Typer(help="API keys: create, list, rotate, revoke.", no_args_is_help=True)


def _print_new_key(key, plaintext: str) -> None:  # type: ignore[no-untyped-def]
    console.print(f"id {key.id}  name {key.name}  scopes {key.scopes}", highlight=False)
    console.print("Key (shown once, only its hash is stored):", highlight=False)
    console.print(plaintext, highlight=False, soft_wrap=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key")],
    scopes: Annotated[str, typer.Option("--scopes", help="Comma-separated: ingest,query,admin")],
    per_minute: Annotated[int | None, typer.Option(help="Rate-limit override per minute")] = None,
    per_day: Annotated[int | None, typer.Option(help="Rate-limit override per day")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create a key and print it once."""
    from app.services.keys import create_key

    with database(config) as (settings, db):
        key, plaintext = create_key(
            db=db,
            settings=settings,
            name=name,
            scopes=scopes,
            rate_limit_per_minute=per_minute,
            rate_limit_per_day=per_day,
        )
        _print_new_key(key, plaintext)


@keys_app.command("list")
def keys_list(config: ConfigOpt = None) -> None:
    """List keys (prefix, scopes, state); never the keys themselves."""
    from rich.table import Table

    from app.services.keys import is_active, list_keys

    table = Table("id", "name", "prefix", "scopes", "active", "expires", "last used")
    with database(config) as (_, db):
        for k in list_keys(db=db):
            table.add_row(
                str(k.id),
                k.name,
                k.prefix,
                k.scopes,
                "yes" if is_active(k) else "no",
                str(k.expires_at or ""),
                str(k.last_used_at or ""),
            )
    console.print(table)


@keys_app.command("rotate")
def keys_rotate(
    key_id: Annotated[int, typer.Argument(help="Key id")],
    grace: Annotated[str, typer.Option(help="How long the old key keeps working")] = "24h",
    config: ConfigOpt = None,
) -> None:
    """Issue a successor key; the old one stays valid until the grace period ends."""
    from app.services.keys import parse_duration, rotate_key

    with database(config) as (settings, db):
        new, plaintext = rotate_key(
            db=db, settings=settings, key_id=key_id, grace=parse_duration(grace)
        )
        console.print(f"key {key_id} stays valid for {grace}", highlight=False)
        _print_new_key(new, plaintext)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="Key id")], config: ConfigOpt = None
) -> None:
    """Revoke a key at once."""
    from app.services.keys import revoke_key

    with database(config) as (_, db):
        revoke_key(db=db, key_id=key_id)
    console.print(f"key {key_id} revoked")
