"""Convex fusion (indexes/fusion.py, used by hybrid search) and the chunk → document collapse
used by the evals."""

from __future__ import annotations

import pytest

from indexes.fusion import best_per_group, convex_fusion

DENSE = [("a", 0.9), ("b", 0.8), ("c", 0.5)]
BM25 = [("c", 12.0), ("a", 3.0)]


def test_convex_normalises_each_list():
    fused = dict(convex_fusion([DENSE, BM25], [0.5, 0.5]))
    # dense: a=1, b=0.75, c=0; bm25: c=1, a=0
    assert fused["a"] == pytest.approx(0.5)
    assert fused["b"] == pytest.approx(0.375)
    assert fused["c"] == pytest.approx(0.5)


def test_convex_weight_zero_ignores_a_list_and_equal_scores_count_fully():
    assert [i for i, _ in convex_fusion([DENSE, BM25], [0.0, 1.0])] == ["c", "a"]
    assert dict(convex_fusion([[("x", 2.0), ("y", 2.0)]], [0.5])) == {"x": 0.5, "y": 0.5}


def test_best_chunk_per_document_keeps_rank_order():
    ranking = [("a#1", 0.9), ("b#0", 0.8), ("a#0", 0.7), ("c#0", 0.1)]
    groups = {"a#1": "a", "a#0": "a", "b#0": "b", "c#0": "c"}
    assert best_per_group(ranking, groups) == [("a", 0.9), ("b", 0.8), ("c", 0.1)]
