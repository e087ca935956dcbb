"""What every `folio` sub-command shares: consoles, the --config option, settings loading."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from app.core.file_modes import use_private_umask
from app.core.logs import configure_logging
from app.core.settings import ConfigError, Settings, load_settings
from app.core.timeouts import head_timeout_protocol

console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="config.yaml (default: $FOLIO_CONFIG)")
]


def cli_settings(config: Path | None, *, check_paths: bool = True) -> Settings:
    """Settings for a command; a config error is one red line and exit code 2, no traceback.
    Whatever the command writes (storage, database, backups) is owner-only from here on."""
    use_private_umask()
    try:
        settings = load_settings(config, check_paths=check_paths)
    except ConfigError as exc:
        err_console.print(f"[red]config error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    # Commands print their own results; log lines are for problems (or everything at DEBUG).
    level = max(logging.getLevelName(settings.log_level), logging.WARNING)
    if settings.log_level == "DEBUG":
        level = logging.DEBUG
    configure_logging(level=logging.getLevelName(level), fmt=settings.effective_log_format)
    return settings


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
