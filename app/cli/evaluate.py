"""`folio eval`: retrieval (and answer) metrics of configs on a labelled dataset."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import cli_settings, console, fail, progress_bar


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
    from indexes.extras import require_extra

    require_extra("evals", "folio eval")  # before minutes of indexing, not after
    from evals.datasets import DatasetNotFound, load_dataset
    from evals.report import write_report
    from evals.runner import EvalSession

    paths = config or [None]
    configs = [(_eval_label(p, i, paths), cli_settings(p).index) for i, p in enumerate(paths)]
    if dataset == "followups":
        _eval_followups(configs, cache_dir, out)
        return
    try:
        data = load_dataset(dataset, split=split, limit=limit)
    except (DatasetNotFound, ValueError) as exc:
        raise fail(str(exc)) from None
    from indexes.stores import StoreError

    session = EvalSession(cache_root=cache_dir)
    results = []
    try:
        with progress_bar() as progress:
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
        raise fail(str(exc)) from None
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
