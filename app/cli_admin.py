"""`folio db …`, `folio keys …`, `folio users …`: operator commands on the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import ConfigOpt, cli_settings, console, err_console
from app.core.settings import Settings

db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)


def _settings(config: Path | None) -> Settings:
    # Operator commands touch only the database: the content folders need not exist here.
    return cli_settings(config, check_paths=False)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
    config: ConfigOpt = None,
) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from app.core.secrets import ensure_secrets
    from app.db import migrate

    settings = _settings(config)
    ensure_secrets(settings)  # migration 0003 encrypts TOTP secrets with the pepper
    migrate.upgrade(settings.database.url, revision, key_pepper=settings.auth.pepper())
    console.print(f"database at {revision}")
    if revision == "head":  # a fresh database records this pepper; another one is refused
        _check_pepper(settings)


@db_app.command("reset-pepper")
def db_reset_pepper(
    yes: Annotated[bool, typer.Option("--yes", help="I know every API key and TOTP dies")] = False,
    config: ConfigOpt = None,
) -> None:
    """Accept the current FOLIO_KEY_PEPPER after the original is lost: every API key, recovery
    code and TOTP secret made with the old one stops working and must be issued again."""
    from app.core.secrets import ensure_secrets
    from app.db.engine import make_engine
    from app.services.pepper import reset_pepper

    if not yes:
        err_console.print(
            "[red]error:[/red] this makes every existing API key, recovery code and TOTP "
            "secret useless; run again with --yes if the original pepper is lost",
            highlight=False,
        )
        raise typer.Exit(2)
    settings = _settings(config)
    ensure_secrets(settings)
    engine = make_engine(settings.database.url)
    try:
        previous = reset_pepper(engine=engine, pepper=settings.auth.pepper())
    finally:
        engine.dispose()
    was = f" (was {previous[:12]}…)" if previous else ""
    console.print(f"the database now belongs to this FOLIO_KEY_PEPPER{was}", highlight=False)


def _check_pepper(settings: Settings) -> None:
    """One line and exit 1 when the pepper is not the one the database's secrets were made
    with (app/services/pepper.py)."""
    from app.db.engine import make_engine
    from app.services.pepper import PepperMismatch, check_pepper

    engine = make_engine(settings.database.url)
    try:
        check_pepper(engine=engine, pepper=settings.auth.pepper())
    except PepperMismatch as exc:
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; -1 is one step")] = "-1",
    config: ConfigOpt = None,
) -> None:
    """Revert migrations down to REVISION (default: one step)."""
    from app.core.secrets import ensure_secrets
    from app.db import migrate

    settings = _settings(config)
    ensure_secrets(settings)
    migrate.downgrade(settings.database.url, revision, key_pepper=settings.auth.pepper())
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


keys_app = typer.Typer(help="API keys: create, list, rotate, revoke.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts: list, deactivate.", no_args_is_help=True)
feedback_app = typer.Typer(help="Reader feedback: export.", no_args_is_help=True)
sessions_app = typer.Typer(help="Chat sessions: purge expired ones.", no_args_is_help=True)


def _db(config: Path | None):  # type: ignore[no-untyped-def]
    """Settings plus a session on a migrated database."""
    from sqlmodel import Session

    from app.core.secrets import ensure_secrets
    from app.db import migrate
    from app.db.engine import make_engine

    settings = _settings(config)
    ensure_secrets(settings)
    if settings.database.auto_migrate:
        migrate.upgrade(settings.database.url, key_pepper=settings.auth.pepper())
    _check_pepper(settings)  # a key made under another pepper would never verify
    return settings, Session(make_engine(settings.database.url), expire_on_commit=False)


def _run(action):  # type: ignore[no-untyped-def]
    from app.core.errors import FolioError

    try:
        return action()
    except FolioError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False)
        raise typer.Exit(1) from None


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

    settings, db = _db(config)
    with db:
        key, plaintext = _run(
            lambda: create_key(
                db=db,
                settings=settings,
                name=name,
                scopes=scopes,
                rate_limit_per_minute=per_minute,
                rate_limit_per_day=per_day,
            )
        )
        _print_new_key(key, plaintext)


@keys_app.command("list")
def keys_list(config: ConfigOpt = None) -> None:
    """List keys (prefix, scopes, state); never the keys themselves."""
    from rich.table import Table

    from app.services.keys import is_active, list_keys

    _, db = _db(config)
    table = Table("id", "name", "prefix", "scopes", "active", "expires", "last used")
    with db:
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

    settings, db = _db(config)
    with db:
        new, plaintext = _run(
            lambda: rotate_key(db=db, settings=settings, key_id=key_id, grace=parse_duration(grace))
        )
        console.print(f"key {key_id} stays valid for {grace}", highlight=False)
        _print_new_key(new, plaintext)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="Key id")], config: ConfigOpt = None
) -> None:
    """Revoke a key at once."""
    from app.services.keys import revoke_key

    _, db = _db(config)
    with db:
        _run(lambda: revoke_key(db=db, key_id=key_id))
    console.print(f"key {key_id} revoked")


@users_app.command("list")
def users_list(config: ConfigOpt = None) -> None:
    """List accounts."""
    from app.services.users import list_users

    _, db = _db(config)
    with db:
        for u in list_users(db=db):
            mfa = "totp" if u.totp_enabled else "-"
            state = "active" if u.is_active else "disabled"
            console.print(f"{u.id}\t{u.email}\t{state}\t{mfa}", highlight=False)


@users_app.command("deactivate")
def users_deactivate(user_id: Annotated[int, typer.Argument()], config: ConfigOpt = None) -> None:
    """Block an account."""
    from app.services.users import set_user_active

    _, db = _db(config)
    with db:
        _run(lambda: set_user_active(db=db, user_id=user_id, active=False))
    console.print(f"user {user_id} deactivated")


@sessions_app.command("purge")
def sessions_purge(config: ConfigOpt = None) -> None:
    """Delete sessions idle longer than SESSION_TIMEOUT_HOURS, with their messages."""
    from app.services.chat import purge_expired

    settings, db = _db(config)
    with db:
        count = purge_expired(db=db, settings=settings)
    console.print(f"{count} expired session(s) deleted", highlight=False)


@feedback_app.command("export")
def feedback_export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv | json")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout)")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Every rating with its question and answer, worst first (for finding weak answers)."""
    from app.services.feedback import export_feedback

    if fmt not in ("csv", "json"):
        err_console.print("[red]error:[/red] --format must be csv or json", highlight=False)
        raise typer.Exit(2)
    _, db = _db(config)
    with db:
        text = export_feedback(db=db, fmt=fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"feedback written to {output}", highlight=False)
