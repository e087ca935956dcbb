"""Reports of one or more eval results: comparison with paired tests, report.json/.md, a plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.metrics import LABELS, METRICS, paired_test
from evals.runner import EvalResult

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
        out.append({"baseline": base.label, "candidate": other.label, "metrics": rows})
    return out


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
        lines += ["", "Answer checks (extractive synthesizer):", ""]
        keys = sorted({k for r in results for k in r.answers if k != "answered_queries"})
        lines.append("| config | queries | " + " | ".join(keys) + " |")
        lines.append("|---|---:|" + "---:|" * len(keys))
        for r in results:
            cells = [_fmt(r.answers[k]) if k in r.answers else "–" for k in keys]
            queries = int(r.answers.get("answered_queries", 0))
            lines.append(f"| {r.label} | {queries} | " + " | ".join(cells) + " |")
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
    if meta.get("plot"):
        lines += ["", f"![metrics]({meta['plot']})"]
    return "\n".join(lines) + "\n"


def plot(results: Sequence[EvalResult], path: Path) -> Path:
    """Grouped bars of the main metrics per config, p95 latency in the legend."""
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
    return out_dir
