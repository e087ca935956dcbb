"""`folio index`: re-index the configured sources (here, or through a running `folio serve`
that holds the local store), with a progress bar and a summary table."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from app.cli.common import (
    ConfigOpt,
    cli_settings,
    console,
    describe_store,
    fail,
    progress_bar,
)
from app.core.settings import Settings


def index(
    config: ConfigOpt = None,
    rebuild: Annotated[
        bool,
        typer.Option(help="Move an index in the previous storage layout aside and rebuild it"),
    ] = False,
) -> None:
    """Re-index the sources in config: only changed documents are re-embedded."""
    from app.ops.handoff import find_server

    settings = cli_settings(config)
    if rebuild:
        _rebuild_legacy(settings)
    started = time.perf_counter()
    server = None if settings.vector_store.is_server else find_server(settings.storage_dir)
    with progress_bar(eta=True) as progress:
        task = progress.add_task("reading sources", total=None, eta="")
        eta = EtaClock()

        def on_progress(done: int, total: int, doc_id: str) -> None:
            progress.update(
                task,
                total=total,
                completed=done,
                description=doc_id[-40:],
                eta=eta.text(done, total),
            )

        if server is not None:
            progress.update(task, description=f"via running server {server.url}")
            summary = _index_via_server(server, settings, on_progress)
        else:

            def on_model_load(seconds: float | None) -> None:
                if seconds is None:
                    model = settings.embedding.model
                    progress.console.print(f"loading the embedding model ({model})…")
                    progress.update(task, description="loading the embedding model")
                else:
                    progress.console.print(f"model loaded in {seconds:.1f} s; embedding")
                    progress.update(task, description="embedding")
                    eta.start()  # the ETA counts embedding time, not the model load

            summary = _index_here(settings, on_progress, on_model_load)
    summary["elapsed_s"] = round(time.perf_counter() - started, 2)
    _print_summary(summary, via=server.url if server else None)


class EtaClock:
    """Time left, from the rate since embedding started: shown from the first progress report
    (rich's own column waits for two)."""

    def __init__(self) -> None:
        self._started: float | None = None

    def start(self) -> None:
        self._started = time.perf_counter()

    def text(self, done: int, total: int, now: float | None = None) -> str:
        if self._started is None:
            self._started = time.perf_counter()  # via a server: its first report starts it
            return ""
        if done <= 0 or done >= total:
            return ""
        elapsed = (now or time.perf_counter()) - self._started
        # whole seconds, rounded: a clock read as 99.99999 s (float error on a large
        # perf_counter) is 1:40, not 1:39
        left = round(elapsed / done * (total - done))
        return f"ETA {left // 60}:{left % 60:02d}"


def _index_via_server(server, settings: Settings, on_progress) -> dict:  # type: ignore[no-untyped-def]
    from app.ops.handoff import reindex_via_server

    try:
        for event in reindex_via_server(server):
            if event["event"] == "progress":
                on_progress(event["done"], event["total"], event["document"])
            elif event["event"] == "config":
                _print_server_config(event, settings)
            elif event["event"] == "summary":
                return event
            elif event["event"] == "error":
                raise fail(event["message"])
    except OSError as exc:
        raise fail(f"could not reach the running server at {server.url} ({exc})") from None
    raise fail("the server ended the re-index without a summary")


def _rebuild_legacy(settings: Settings) -> None:
    from app.ops.legacy import move_legacy_aside

    moved = move_legacy_aside(settings)
    if moved is not None:
        console.print(f"previous layout moved to {moved}; rebuilding", highlight=False)


def _print_server_config(event: dict, settings: Settings) -> None:
    """Say plainly what the server indexed when its config is not the one this command read,
    or when it has changes that only a restart applies."""
    say = lambda text: console.print(text, highlight=False, soft_wrap=True)  # noqa: E731
    if event["path"] != str(settings.config_path):
        say(
            f"[yellow]note:[/yellow] the running server reads {event['path']}, not "
            f"{settings.config_path}; it indexes the sources listed there: "
            f"{', '.join(event['sources']) or '(none)'}"
        )
    if event["added_sources"] or event["removed_sources"]:
        changes = [f"+{n}" for n in event["added_sources"]]
        changes += [f"-{n}" for n in event["removed_sources"]]
        say(f"the server re-read {event['path']}: sources {' '.join(changes)}")
    if event["restart_needed"]:
        say(
            f"[yellow]warning:[/yellow] {event['path']} changed "
            f"{', '.join(event['restart_needed'])} since the server started; those apply only "
            "after restarting `folio serve` (sources are re-read on every `folio index`)"
        )


def _index_here(settings: Settings, on_progress, on_model_load) -> dict:  # type: ignore[no-untyped-def]
    from functools import cached_property

    from app.ops.legacy import reingest_legacy_api_documents
    from app.services.index_holder import open_index
    from indexes.folio_index import FolioIndex
    from indexes.stores import StoreError

    class AnnouncedIndex(FolioIndex):
        """Says when the embedding model starts and ends loading: it loads only when something
        changed, and its first load is the longest silent wait of a re-index."""

        @cached_property
        def embed_model(self):  # type: ignore[no-untyped-def]
            on_model_load(None)
            loading = time.perf_counter()
            model = super().embed_model
            on_model_load(time.perf_counter() - loading)
            return model

    try:
        folio = open_index(settings, index_cls=AnnouncedIndex, eager=False)
    except StoreError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        raise fail(f"{describe_store(settings)} is unreachable ({type(exc).__name__})") from None
    try:
        report = folio.index_sources(progress=on_progress)
        reingested = reingest_legacy_api_documents(settings, folio)
        if reingested:
            console.print(f"re-ingested {reingested} API documents from the previous layout")
        return {"event": "summary", **report.counts(), "points": folio.point_count()}
    finally:
        folio.close()


def _print_summary(summary: dict, via: str | None) -> None:
    table = Table(title="folio index" + (f" (via {via})" if via else ""))
    for key in ("added", "updated", "unchanged", "deleted", "chunks_embedded", "elapsed_s"):
        table.add_column(key.replace("_", " "), justify="right")
    table.add_row(
        *(
            str(summary.get(k, ""))
            for k in ("added", "updated", "unchanged", "deleted", "chunks_embedded", "elapsed_s")
        )
    )
    console.print(table)
