"""`folio feedback export`: readers' ratings with their questions and answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import ConfigOpt, console, database, fail

feedback_app = typer.Typer(help="Reader feedback: export.", no_args_is_help=True)


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
        raise fail("--format must be csv or json", code=2)
    with database(config) as (_, db):
        text = export_feedback(db=db, fmt=fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"feedback written to {output}", highlight=False)
