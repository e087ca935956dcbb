"""Reports of one or more eval results: comparison with paired tests, report.json/.md, a plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals import answering
from evals.metrics import LABELS, METRICS, paired_test
from evals.runner import EvalResult
from indexes.extras import require_extra

PLOT_METRICS = ("ndcg@10", "mrr@10", "hit_rate@5", "recall@100")


def compare(results: Sequence[EvalResult]) -> list[dict[str, Any]]:
    """Every result against the first: per-metric difference and paired t-test p-value."""
    if len(results) < 2:
        return []
    base = results[0]
    out = []
    for other in results[1:]:
        rows = {}
        for m in METRICS:
            test = paired_test(base.per_query[m], other.per_query[m])
            rows[m] = {
                "baseline": base.metrics[m],
                "candidate": other.metrics[m],
                "diff": other.metrics[m] - base.metrics[m],
                "se": test["se"],
                "p_value": test["p_value"],
                "n": test["n"],
            }
        rows["p95_ms"] = {
            "baseline": base.latency["p95_ms"],
            "candidate": other.latency["p95_ms"],
            "diff": other.latency["p95_ms"] - base.latency["p95_ms"],
        }
        out.append(
            {
                "baseline": base.label,
                "candidate": other.label,
                "metrics": rows,
                "answers": answering.compare_answers(answer_values(base), answer_values(other)),
            }
        )
    return out


def answer_values(result: EvalResult) -> dict[str, dict[str, float]]:
    """The per-query answer series of a result (empty when answers were not checked)."""
    prefix = answering.PREFIX
    return {k[len(prefix) :]: v for k, v in result.per_query.items() if k.startswith(prefix)}


def to_json(results: Sequence[EvalResult], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        **meta,
        "results": [r.summary() for r in results],
        "comparisons": compare(results),
    }


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def to_markdown(results: Sequence[EvalResult], meta: dict[str, Any]) -> str:
    """A Markdown page: metrics table, latency, answer checks, comparisons."""
    first = results[0]
    lines = [
        f"# Retrieval eval: {first.dataset} ({first.split}, {first.n_queries} queries, "
        f"{first.n_docs} documents, {first.n_chunks} chunks)",
        "",
        f"Command: `{meta.get('command', '')}`",
        "",
        f"Machine: {meta.get('cpus', '?')} CPUs, load average (1/5/15 min) at the end "
        f"{meta.get('load_average_1_5_15', '?')}; latency is per query, in process.",
        "",
        "| config | mode | "
        + " | ".join(LABELS[m] for m in METRICS)
        + " | p50 ms | p95 ms | p95 ms w/o embed |",
        "|---|---|" + "---:|" * (len(METRICS) + 3),
    ]
    for r in results:
        cells = [_fmt(r.metrics[m]) for m in METRICS]
        lat = [
            f"{r.latency['p50_ms']:.1f}",
            f"{r.latency['p95_ms']:.1f}",
            f"{r.latency.get('search_p95_ms', 0.0):.1f}",
        ]
        lines.append(f"| {r.label} | {r.retrieval['mode']} | " + " | ".join(cells + lat) + " |")
    if any(r.answers for r in results):
        lines += [
            "",
            "Answers through the query engine, half of the documents indexed by title "
            "(`evals/answering.py`):",
            "",
            "| config | answerable q | unanswerable q | "
            + " | ".join(answering.LABELS[k] for k in answering.HEADLINE)
            + " | answer p95 ms |",
            "|---|---:|---:|" + "---:|" * (len(answering.HEADLINE) + 1),
        ]
        for r in results:
            a = r.answers
            cells = [_fmt(a[k]) if k in a else "–" for k in answering.HEADLINE]
            counts = [
                str(int(a.get("answerable_queries", 0))),
                str(int(a.get("unanswerable_queries", 0))),
            ]
            p95 = f"{a['answer_p95_ms']:.1f}" if "answer_p95_ms" in a else "–"
            lines.append(f"| {r.label} | " + " | ".join(counts + cells + [p95]) + " |")
    for comp in compare(results):
        lines += [
            "",
            f"{comp['candidate']} vs {comp['baseline']} (paired two-sided t-test over queries):",
            "",
            "| metric | " + f"{comp['baseline']} | {comp['candidate']} | diff | ± se | p |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for m in METRICS:
            row = comp["metrics"][m]
            lines.append(
                f"| {LABELS[m]} | {_fmt(row['baseline'])} | {_fmt(row['candidate'])} | "
                f"{row['diff']:+.3f} | {row['se']:.3f} | {row['p_value']:.3g} |"
            )
        if comp.get("answers"):
            lines += [
                "",
                answer_comparison_md(comp["answers"], comp["baseline"], comp["candidate"]),
            ]
    if meta.get("plot"):
        lines += ["", f"![metrics]({meta['plot']})"]
    return "\n".join(lines) + "\n"


def answer_table(results: Sequence[EvalResult]) -> Any:
    """The answer metrics of each config as a rich Table (for `folio eval`)."""
    from rich.table import Table

    table = Table(title="answers (half of the documents indexed, by title)")
    table.add_column("config")
    table.add_column("q (ans/unans)", justify="right")
    for key in answering.HEADLINE:
        table.add_column(answering.LABELS[key], justify="right")
    table.add_column("answer p95 ms", justify="right")
    for r in results:
        a = r.answers
        table.add_row(
            r.label,
            f"{int(a.get('answerable_queries', 0))}/{int(a.get('unanswerable_queries', 0))}",
            *(_fmt(a[k]) if k in a else "–" for k in answering.HEADLINE),
            f"{a['answer_p95_ms']:.1f}" if "answer_p95_ms" in a else "–",
        )
    return table


def answer_comparison_md(rows: dict[str, dict[str, Any]], baseline: str, candidate: str) -> str:
    """A Markdown table of `answering.compare_answers` rows."""
    lines = [
        f"| answer metric | {baseline} | {candidate} | diff | paired diff ± se | n | p |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {answering.LABELS[name]} | {_fmt(row['baseline'])} | {_fmt(row['candidate'])} | "
            f"{row['diff']:+.3f} | {row['paired_diff']:+.3f} ± {row['se']:.3f} | {row['n']} | "
            f"{row['p_value']:.3g} |"
        )
    return "\n".join(lines)


def plot(results: Sequence[EvalResult], path: Path) -> Path:
    """Grouped bars of the main metrics per config, p95 latency in the legend."""
    require_extra("evals", "the eval plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        xs = [j + i * width for j in range(len(PLOT_METRICS))]
        values = [r.metrics[m] for m in PLOT_METRICS]
        bars = ax.bar(xs, values, width, label=f"{r.label} (p95 {r.latency['p95_ms']:.0f} ms)")
        ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(PLOT_METRICS))])
    ax.set_xticklabels([LABELS[m] for m in PLOT_METRICS])
    ax.set_ylim(0, 1.08)
    first = results[0]
    ax.set_title(f"{first.dataset} {first.split} ({first.n_queries} queries)", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(results: Sequence[EvalResult], out_dir: Path, meta: dict[str, Any]) -> Path:
    """report.json, report.md and plot.png in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plot(results, out_dir / "plot.png")
    meta = {**meta, "plot": "plot.png"}
    (out_dir / "report.json").write_text(json.dumps(to_json(results, meta), indent=2))
    (out_dir / "report.md").write_text(to_markdown(results, meta))
    answers = {r.label: answer_values(r) for r in results if r.answers}
    if answers:  # per-query outcomes (ids and numbers only), for paired comparisons later
        (out_dir / "answers.json").write_text(json.dumps(answers))
    return out_dir
