"""Score fusion and grouping over ranked (id, score) lists.

Pure functions, so the arithmetic is unit-tested without any index: convex fusion for hybrid
search (collection.py; RRF and DBSF run inside Qdrant) and the chunk → document collapse the
retrieval evals score.
"""

from __future__ import annotations

from collections.abc import Sequence

Ranking = Sequence[tuple[str, float]]  # (id, score), best first


def convex_fusion(rankings: Sequence[Ranking], weights: Sequence[float]) -> list[tuple[str, float]]:
    """Weighted sum of min-max normalised scores (Bruch et al. 2023, "convex combination").

    Each list is scaled to [0, 1] over its own candidates; an id absent from a list gets 0 there.
    A list whose scores are all equal contributes its full weight to each of its ids.
    """
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if weight == 0 or not ranking:
            continue
        scores = [s for _, s in ranking]
        low, high = min(scores), max(scores)
        span = high - low
        for item, score in ranking:
            norm = (score - low) / span if span > 0 else 1.0
            fused[item] = fused.get(item, 0.0) + weight * norm
    return sorted(fused.items(), key=lambda kv: -kv[1])


def best_per_group(ranking: Ranking, group_of: dict[str, str]) -> list[tuple[str, float]]:
    """Collapse a ranking of chunks to one of groups (documents): each keeps its best chunk."""
    best: dict[str, float] = {}
    for item, score in ranking:
        group = group_of.get(item, item)
        if group not in best:
            best[group] = score
    return list(best.items())
