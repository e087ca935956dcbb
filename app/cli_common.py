"""What every `folio` sub-command shares: consoles, the --config option, settings loading."""

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


def cli_settings(config: Path | None, *, check_paths: bool = True) -> Settings:
    """Settings for a command; a config error is one red line and exit code 2, no traceback."""
    try:
        return load_settings(config, check_paths=check_paths)
    except ConfigError as exc:
        err_console.print(f"[red]config error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
