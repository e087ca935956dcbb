"""Retrieval metrics through ranx (numba-compiled, TREC-compatible), plus latency and the paired
significance test used to compare two configs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from indexes.extras import require_extra

# Names as ranx spells them; hit_rate@k = 1 when a relevant document is in the top k.
METRICS = (
    "hit_rate@1",
    "hit_rate@5",
    "hit_rate@10",
    "mrr@10",
    "ndcg@10",
    "recall@10",
    "recall@100",
)
LABELS = {
    "hit_rate@1": "hit@1",
    "hit_rate@5": "hit@5",
    "hit_rate@10": "hit@10",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "recall@10": "R@10",
    "recall@100": "R@100",
}

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]


def per_query_metrics(
    qrels: Qrels, run: Run, metrics: Sequence[str] = METRICS
) -> dict[str, dict[str, float]]:
    """metric → query id → value, for every judged query (a query missing from the run scores
    0). Documents are ranked by descending score, as ranx and trec_eval do."""
    require_extra("evals", "retrieval metrics (folio eval)")
    from ranx import Qrels as RanxQrels
    from ranx import Run as RanxRun
    from ranx import evaluate

    qids = sorted(qrels)
    r_qrels = RanxQrels({q: dict(qrels[q]) for q in qids})
    r_run = RanxRun({q: dict(run.get(q, {})) for q in qids})
    evaluate(r_qrels, r_run, list(metrics), make_comparable=True)
    # ranx keeps the per-query values on the run, keyed by query id
    return {m: {q: float(v) for q, v in r_run.scores[m].items()} for m in metrics}


def mean_metrics(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    return {m: float(np.mean(list(v.values()))) if v else 0.0 for m, v in per_query.items()}


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean per-query latency in milliseconds."""
    if not latencies_ms:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "mean_ms": 0.0}
    arr = np.asarray(latencies_ms, dtype=float)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p95_ms": float(np.percentile(arr, 95)),
        "mean_ms": float(arr.mean()),
    }


def paired_test(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    """Two-sided paired t-test of b − a over the queries both have (as in ranx/BEIR reports).

    Returns the mean difference, its standard error and the p-value (1.0 when undefined,
    e.g. identical runs).
    """
    require_extra("evals", "the paired t-test (folio eval)")
    from scipy.stats import ttest_rel

    qids = sorted(set(a) & set(b))
    x = np.array([a[q] for q in qids])
    y = np.array([b[q] for q in qids])
    diff = y - x
    n = len(qids)
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    if n < 2 or not np.any(diff):
        return {"n": n, "mean_diff": float(diff.mean()) if n else 0.0, "se": se, "p_value": 1.0}
    result = ttest_rel(y, x)
    return {"n": n, "mean_diff": float(diff.mean()), "se": se, "p_value": float(result.pvalue)}
