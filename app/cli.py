"""`folio` command line: index, ask, serve, eval; db, keys, users (app/cli_admin.py); backup,
restore (app/cli_backup.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli_admin import db_app, feedback_app, keys_app, sessions_app, users_app
from app.cli_backup import backup, restore
from app.cli_common import ConfigOpt, cli_settings, console, err_console, uvicorn_options
from app.core.settings import Settings

app = typer.Typer(help="Folio: cited answers about your content.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(sessions_app, name="sessions")
app.add_typer(feedback_app, name="feedback")
models_app = typer.Typer(help="The local embedding model's ONNX export.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.command()(backup)
app.command()(restore)


def _settings(config: Path | None) -> Settings:
    return cli_settings(config)


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@app.command()
def index(
    config: ConfigOpt = None,
    rebuild: Annotated[
        bool,
        typer.Option(help="Move an index in the previous storage layout aside and rebuild it"),
    ] = False,
) -> None:
    """Re-index the sources in config: only changed documents are re-embedded."""
    from app.services.handoff import find_server

    settings = _settings(config)
    if rebuild:
        _rebuild_legacy(settings)
    started = time.perf_counter()
    server = None if settings.vector_store.is_server else find_server(settings.storage_dir)
    with _progress(eta=True) as progress:
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
    from app.services.handoff import reindex_via_server

    try:
        for event in reindex_via_server(server):
            if event["event"] == "progress":
                on_progress(event["done"], event["total"], event["document"])
            elif event["event"] == "config":
                _print_server_config(event, settings)
            elif event["event"] == "summary":
                return event
            elif event["event"] == "error":
                raise _fail(event["message"])
    except OSError as exc:
        raise _fail(f"could not reach the running server at {server.url} ({exc})") from None
    raise _fail("the server ended the re-index without a summary")


def _rebuild_legacy(settings: Settings) -> None:
    from app.services.legacy import move_legacy_aside

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

    from app.services.index_holder import open_index
    from app.services.legacy import reingest_legacy_api_documents
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
        raise _fail(str(exc)) from None
    except Exception as exc:
        raise _fail(f"{_describe(settings)} is unreachable ({type(exc).__name__})") from None
    try:
        report = folio.index_sources(progress=on_progress)
        reingested = reingest_legacy_api_documents(settings, folio)
        if reingested:
            console.print(f"re-ingested {reingested} API documents from the previous layout")
        return {"event": "summary", **report.counts(), "points": folio.point_count()}
    finally:
        folio.close()


def _describe(settings: Settings) -> str:
    from indexes.stores import describe_store

    return describe_store(settings.vector_store)


def _progress(eta: bool = False) -> Progress:
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    if eta:
        columns.append(TextColumn("{task.fields[eta]}"))
    return Progress(*columns, console=console, transient=True)


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


@models_app.command("export")
def models_export(config: ConfigOpt = None) -> None:
    """Export MiniLM to ONNX once (at setup or image build), so no later start loads torch."""
    from indexes.onnx_model import ensure_onnx, local_model_path

    settings = _settings(config)
    emb = settings.embedding
    if emb.provider != "local" or emb.runtime != "onnx":
        console.print("nothing to export: embedding.provider is not local on ONNX")
        return
    for precision in dict.fromkeys(("fp32", emb.precision)):
        path = ensure_onnx(local_model_path(), precision, emb.onnx_cache)
        console.print(f"{precision}: {path}", highlight=False)


@app.command()
def documents(
    config: ConfigOpt = None,
    origin: Annotated[str | None, typer.Option(help="config | api")] = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List what is indexed: id, origin, chapter, chunks, when (the ledger in the database, so
    it works while `folio serve` runs)."""
    from indexes.ledger import SqlLedger

    settings = _settings(config)
    if origin not in (None, "config", "api"):
        raise _fail("--origin must be config or api")
    ledger = SqlLedger.from_url(settings.database.url)
    try:
        entries = ledger.entries(origin=origin, offset=offset, limit=limit)
        total = ledger.count(origin)
    except Exception as exc:  # no ledger table yet, or the database is away
        raise _fail(
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


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question")],
    config: ConfigOpt = None,
    top_k: Annotated[int | None, typer.Option(help="Passages to retrieve")] = None,
) -> None:
    """Answer a question with numbered citations and list the sources."""
    from app.core.errors import FolioError
    from app.services.handoff import find_server

    settings = _settings(config)
    server = None if settings.vector_store.is_server else find_server(settings.storage_dir)
    if server is not None:
        answer = _ask_via_server(server.url, question, top_k)
    else:
        from app.services.index_holder import open_index
        from app.services.query import answer_question

        try:
            folio = open_index(settings)
        except Exception as exc:
            raise _fail(f"{_describe(settings)} is unavailable ({type(exc).__name__})") from None
        try:
            answer = answer_question(
                index=folio, settings=settings, question=question, top_k=top_k
            ).model_dump()
        except FolioError as exc:
            raise _fail(exc.message) from None
        finally:
            folio.close()
    console.print(answer["answer"], highlight=False)
    if answer["sources"]:
        console.print()
        for src in answer["sources"]:
            where = src["section"] or src["chapter"] or src["document_id"]
            console.print(f"\\[{src['n']}] {where} (score {src['score']})", highlight=False)
            snippet = " ".join(src["text"].split())
            more = "…" if len(snippet) > 300 else ""
            console.print(f"    {snippet[:300]}{more}", highlight=False)


def _ask_via_server(url: str, question: str, top_k: int | None) -> dict:
    import httpx

    response = httpx.post(f"{url}/query", json={"query": question, "top_k": top_k}, timeout=120)
    if response.status_code != 200:
        raise _fail(response.json().get("error", {}).get("message", response.text))
    return response.json()


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Serve the HTTP API (uvicorn). `folio index` meanwhile hands its work to this server."""
    import uvicorn

    from app.main import create_app
    from app.services.handoff import new_token, remove_server_info, write_server_info

    settings = _settings(config)
    from app.db.migrate import ensure_reachable

    ensure_reachable(settings.database.url)  # one line now, not a traceback from the lifespan
    token = new_token()
    local = not settings.vector_store.is_server
    application = create_app(
        settings,
        handoff_token=token,
        on_shutdown=(lambda: remove_server_info(settings.storage_dir)) if local else None,
    )
    if local:
        write_server_info(settings.storage_dir, host=host, port=port, token=token)
    try:
        # log_config=None: keep Folio's structured handler (create_app set it up); its own
        # access line replaces uvicorn's, which would log raw paths and query strings.
        uvicorn.run(
            application,
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            **uvicorn_options(settings),
            log_config=None,
            access_log=False,
        )
    finally:
        remove_server_info(settings.storage_dir)


@app.command("eval")
def eval_(
    dataset: Annotated[
        str,
        typer.Argument(
            help="Dataset name under ../shared/datasets ($FOLIO_DATASETS_DIR) or a folder"
        ),
    ],
    config: Annotated[
        list[Path] | None,
        typer.Option(
            "--config", "-c", help="Config to evaluate; repeat to compare (first = baseline)"
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="dev | train | train+dev")] = "dev",
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default eval-output/<dataset>-<split>)")
    ] = None,
    depth: Annotated[int, typer.Option(help="Chunks retrieved per query")] = 300,
    limit: Annotated[int | None, typer.Option(help="Only the first N queries")] = None,
    answers: Annotated[
        bool, typer.Option(help="Also measure answers (half the corpus indexed, by title)")
    ] = True,
    cache_dir: Annotated[Path, typer.Option(help="Where eval indexes are cached")] = Path(
        ".folio-cache/evals"
    ),
) -> None:
    """Retrieval metrics of one config on a labelled dataset, or a side-by-side comparison.
    `folio eval followups`: the labelled follow-up conversations (evals/followups)."""
    from evals.datasets import DatasetNotFound, load_dataset
    from evals.report import write_report
    from evals.runner import EvalSession

    paths = config or [None]
    configs = [(_eval_label(p, i, paths), _settings(p).index) for i, p in enumerate(paths)]
    if dataset == "followups":
        _eval_followups(configs, cache_dir, out)
        return
    try:
        data = load_dataset(dataset, split=split, limit=limit)
    except (DatasetNotFound, ValueError) as exc:
        raise _fail(str(exc)) from None
    from indexes.stores import StoreError

    session = EvalSession(cache_root=cache_dir)
    results = []
    try:
        with _progress() as progress:
            task = progress.add_task("", total=None)
            for label, cfg in configs:

                def on_progress(phase: str, done: int, total: int, label: str = label) -> None:
                    progress.update(
                        task, description=f"{label}: {phase}", total=total, completed=done
                    )

                results.append(
                    session.evaluate(
                        data, cfg, label=label, depth=depth, answers=answers, progress=on_progress
                    )
                )
    except StoreError as exc:
        raise _fail(str(exc)) from None
    finally:
        session.close()
    _print_eval(results)
    if len(results) > 1 or out is not None:
        folder = out or Path("eval-output") / f"{data.name}-{split}"
        meta = {
            "command": "folio " + " ".join(sys.argv[1:]),
            "dataset_path": str(data.path),
            # latency depends on what else the machine runs; keep the evidence with the numbers
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
        }
        write_report(results, folder, meta)
        console.print(f"report: {folder}/report.md, report.json, plot.png", highlight=False)


def _eval_followups(configs: list, cache_dir: Path, out: Path | None) -> None:
    """Hit rates of rewritten follow-ups (evals/followups.py) per config; JSON with --out."""
    from evals.followups import followup_eval

    table = Table(title="folio eval followups (gold section in the top-k passages)")
    for column in ("config", "follow-ups", "rewritten", "hand-written", "raw", "rewritten top-1"):
        table.add_column(column, justify="right")
    results = {}
    for label, cfg in configs:
        results[label] = followup_eval(cfg, cache_dir=cache_dir)
        s = results[label]["summary"]
        table.add_row(
            label,
            f"{s.get('followups', 0):.0f}",
            *(f"{s.get(k, 0.0):.3f}" for k in ("hit_rate", "standalone_hit_rate", "raw_hit_rate")),
            f"{s.get('top1_rate', 0.0):.3f}",
        )
        for book, reason in results[label]["skipped"].items():
            console.print(f"skipped {book}: {reason}", highlight=False)
    console.print(table)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "followups.json").write_text(json.dumps(results, indent=1))
        console.print(f"report: {out}/followups.json", highlight=False)


def _eval_label(path: Path | None, i: int, paths: list) -> str:
    stem = path.stem if path is not None else "default"
    stems = [p.stem if p is not None else "default" for p in paths]
    return stem if stems.count(stem) == 1 else f"{stem}#{i + 1}"


def _print_eval(results: list) -> None:
    from evals.metrics import LABELS, METRICS
    from evals.report import compare

    first = results[0]
    table = Table(
        title=f"folio eval {first.dataset} ({first.split}: {first.n_queries} queries, "
        f"{first.n_docs} docs, {first.n_chunks} chunks)"
    )
    table.add_column("config")
    table.add_column("mode")
    for m in METRICS:
        table.add_column(LABELS[m], justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("p95 w/o embed", justify="right")
    for r in results:
        table.add_row(
            r.label,
            r.retrieval["mode"],
            *(f"{r.metrics[m]:.3f}" for m in METRICS),
            f"{r.latency['p95_ms']:.1f}",
            f"{r.latency.get('search_p95_ms', 0.0):.1f}",
        )
    for comp in compare(results):
        row = comp["metrics"]
        table.add_row(
            f"Δ {comp['candidate']}",
            "p-value",
            *(f"{row[m]['diff']:+.3f} ({row[m]['p_value']:.2g})" for m in METRICS),
            f"{row['p95_ms']['diff']:+.1f}",
            "",
        )
    # 12 columns: render wide even when stdout is not a terminal (CI logs, pipes)
    Console(width=max(console.width, 170)).print(table)
    if any(r.answers for r in results):
        from evals.report import answer_table

        Console(width=max(console.width, 170)).print(answer_table(results))


def main() -> None:
    """Every expected failure is one line naming the cause and the fix, never a traceback."""
    from sqlalchemy.exc import DBAPIError

    from app.core.settings import ConfigError
    from app.db.migrate import DatabaseUnreachable

    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except ConfigError as exc:
        err_console.print(f"[red]config error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except DatabaseUnreachable as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except DBAPIError as exc:
        orig = exc.orig or exc
        reason = (str(orig).strip().splitlines() or [""])[0]
        err_console.print(
            f"[red]error:[/red] database error ({type(orig).__name__}: {reason}); "
            "check database.url in the config file or DATABASE_URL, then `folio db upgrade`",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        err_console.print(
            f"[red]error:[/red] {exc.strerror or exc}{where}", highlight=False, soft_wrap=True
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
