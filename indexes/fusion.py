"""Rank fusion for hybrid retrieval: merge several ranked lists of ids into one.

Pure functions over (id, score) lists, so the arithmetic is unit-tested without any index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Ranking = Sequence[tuple[str, float]]  # (id, score), best first


def reciprocal_rank_fusion(
    rankings: Sequence[Ranking], weights: Sequence[float], k: int = 60
) -> list[tuple[str, float]]:
    """Weighted RRF (Cormack et al. 2009): score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1.

    Ties are broken by the order of first appearance, which keeps the result deterministic.
    """
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if weight == 0:
            continue
        for rank, (item, _) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


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


def fuse(
    rankings: Sequence[Ranking],
    weights: Sequence[float],
    *,
    method: Literal["rrf", "convex"] = "rrf",
    rrf_k: int = 60,
) -> list[tuple[str, float]]:
    """One ranking from several, by `method` (see the two functions above)."""
    match method:
        case "rrf":
            return reciprocal_rank_fusion(rankings, weights, k=rrf_k)
        case "convex":
            return convex_fusion(rankings, weights)
    raise ValueError(f"unknown fusion method {method!r}")


def best_per_group(ranking: Ranking, group_of: dict[str, str]) -> list[tuple[str, float]]:
    """Collapse a ranking of chunks to one of groups (documents): each keeps its best chunk."""
    best: dict[str, float] = {}
    for item, score in ranking:
        group = group_of.get(item, item)
        if group not in best:
            best[group] = score
    return list(best.items())
