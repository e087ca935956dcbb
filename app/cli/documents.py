"""`folio documents`: what is indexed, read from the document ledger."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from app.cli.common import ConfigOpt, cli_settings, console, fail


def documents(
    config: ConfigOpt = None,
    origin: Annotated[str | None, typer.Option(help="config | api")] = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List what is indexed: id, origin, chapter, chunks, when (the ledger in the database, so
    it works while `folio serve` runs)."""
    from indexes.ledger import SqlLedger

    settings = cli_settings(config)
    if origin not in (None, "config", "api"):
        raise fail("--origin must be config or api")
    ledger = SqlLedger.from_url(settings.database.url)
    try:
        entries = ledger.entries(origin=origin, offset=offset, limit=limit)
        total = ledger.count(origin)
    except Exception as exc:  # no ledger table yet, or the database is away
        raise fail(
            f"cannot read the document ledger ({type(exc).__name__}); "
            "run `.venv/bin/folio db upgrade` or check database.url"
        ) from None
    finally:
        ledger.close()
    table = Table(title=f"documents {offset + 1}-{offset + len(entries)} of {total}")
    for column in ("id", "origin", "chapter", "chunks", "indexed at"):
        table.add_column(column, overflow="fold")
    for e in entries:
        when = e.indexed_at.isoformat(timespec="seconds") if e.indexed_at else ""
        table.add_row(e.id, e.origin, e.chapter or "", str(e.chunk_count), when)
    console.print(table)
