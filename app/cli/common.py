"""What every `folio` command shares: the consoles, the --config option, the one settings
loader, the one way to fail (`fail`), a database session, a progress bar."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from app.core.file_modes import use_private_umask
from app.core.logs import configure_logging
from app.core.settings import ConfigError, Settings, load_settings
from app.core.timeouts import head_timeout_protocol

console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="config.yaml (default: $FOLIO_CONFIG)")
]


def say_error(message: str, *, label: str = "error") -> None:
    """One red line on stderr: `error: …` (or `config error: …`), never a traceback."""
    err_console.print(f"[red]{label}:[/red] {message}", highlight=False, soft_wrap=True)


def fail(message: str, *, code: int = 1, label: str = "error") -> typer.Exit:
    """Print `message` as one error line; `raise fail(...)` ends the command with `code`."""
    say_error(message, label=label)
    return typer.Exit(code)


def cli_settings(config: Path | None, *, check_paths: bool = True) -> Settings:
    """Settings for a command; a config error is one red line and exit code 2, no traceback.
    Commands that touch only the database pass `check_paths=False`: the content folders need
    not exist where they run. Whatever the command writes (storage, database, backups) is
    owner-only from here on."""
    use_private_umask()
    try:
        settings = load_settings(config, check_paths=check_paths)
    except ConfigError as exc:
        raise fail(str(exc), code=2, label="config error") from None
    # Commands print their own results; log lines are for problems (or everything at DEBUG).
    level = max(logging.getLevelName(settings.log_level), logging.WARNING)
    if settings.log_level == "DEBUG":
        level = logging.DEBUG
    configure_logging(level=logging.getLevelName(level), fmt=settings.effective_log_format)
    return settings


@contextmanager
def database(config: Path | None) -> Iterator[tuple[Settings, Session]]:
    """Settings and a session on the database (migrated first when `database.auto_migrate`),
    for the operator commands; a FolioError from a service is one error line and exit 1."""
    from app.core.errors import FolioError
    from app.core.secrets import ensure_secrets
    from app.db import migrate
    from app.db.database import make_engine, session_scope

    settings = cli_settings(config, check_paths=False)
    ensure_secrets(settings)  # migrations need the key pepper
    if settings.database.auto_migrate:
        migrate.upgrade(settings.database.url, key_pepper=settings.auth.pepper())
    check_pepper_or_fail(settings)  # a key made under another pepper would never verify
    db_engine = make_engine(settings.database.url)
    try:
        with session_scope(db_engine) as db:
            yield settings, db
    except FolioError as exc:
        raise fail(exc.message) from None
    finally:
        db_engine.dispose()


def describe_store(settings: Settings) -> str:
    """The vector store, as error messages name it (`Qdrant at …`, `the local store in …`)."""
    from indexes.stores import describe_store as describe

    return describe(settings.vector_store)


def progress_bar(eta: bool = False) -> Progress:
    """A transient progress bar: description, bar, done/total, elapsed (and an ETA field)."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    if eta:
        columns.append(TextColumn("{task.fields[eta]}"))
    return Progress(*columns, console=console, transient=True)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for `folio serve`: its h11 protocol with a request-head deadline
    (`api.header_timeout_s`), and proxy headers: X-Forwarded-* are believed only from
    `api.trusted_proxies`. None configured: uvicorn's proxy middleware is off, because its
    default trusts 127.0.0.1, and a local reverse proxy that does not overwrite the header
    (or any local process) would let a client pick its own address, and so its rate limit."""
    proxies = settings.api.trusted_proxies
    # h11 with a deadline for each request head (uvicorn has none; app/core/timeouts.py)
    http = {"http": head_timeout_protocol(settings.api.header_timeout_s)}
    if not proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": "", **http}
    return {"proxy_headers": True, "forwarded_allow_ips": list(proxies), **http}


def check_pepper_or_fail(settings: Settings) -> None:
    """One line and exit 1 when the pepper is not the one the database's secrets were made
    with (app/services/pepper.py)."""
    from app.db.database import make_engine
    from app.services.pepper import PepperMismatch, check_pepper

    db_engine = make_engine(settings.database.url)
    try:
        check_pepper(engine=db_engine, pepper=settings.auth.pepper())
    except PepperMismatch as exc:
        raise fail(exc.message) from None
    finally:
        db_engine.dispose()
