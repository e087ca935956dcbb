"""Metric values checked by hand, so a ranx upgrade or a run-format slip cannot go unnoticed."""

from __future__ import annotations

import math

import pytest

from evals.metrics import latency_summary, mean_metrics, paired_test, per_query_metrics

# q1: relevant d1, d3; ranked d1, d2, d3.  q2: relevant d2; ranked d1, d2.  q3: nothing retrieved.
QRELS = {"q1": {"d1": 1, "d3": 1}, "q2": {"d2": 1}, "q3": {"d9": 1}}
RUN = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d1": 2.0, "d2": 1.0}}


@pytest.fixture(scope="module")
def values() -> dict[str, dict[str, float]]:
    return per_query_metrics(QRELS, RUN)


def test_ndcg_matches_hand_computation(values):
    # q1: DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3)
    assert values["ndcg@10"]["q1"] == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    # q2: DCG = 1/log2(3); ideal = 1
    assert values["ndcg@10"]["q2"] == pytest.approx(1 / math.log2(3))
    assert values["ndcg@10"]["q3"] == 0.0


def test_mrr_hit_and_recall_match_hand_computation(values):
    assert values["mrr@10"] == {"q1": 1.0, "q2": 0.5, "q3": 0.0}
    assert values["hit_rate@1"] == {"q1": 1.0, "q2": 0.0, "q3": 0.0}
    assert values["hit_rate@5"] == {"q1": 1.0, "q2": 1.0, "q3": 0.0}
    assert values["recall@10"] == {"q1": 1.0, "q2": 1.0, "q3": 0.0}


def test_mean_is_over_all_judged_queries(values):
    means = mean_metrics(values)
    assert means["mrr@10"] == pytest.approx(0.5)
    assert means["hit_rate@5"] == pytest.approx(2 / 3)


def test_latency_percentiles():
    summary = latency_summary([float(i) for i in range(1, 101)])
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p95_ms"] == pytest.approx(95.05)


def test_paired_test_sees_consistent_gain_and_ignores_ties():
    a = {f"q{i}": 0.5 for i in range(20)}
    b = {f"q{i}": 0.5 + (0.1 if i % 2 else 0.08) for i in range(20)}
    gain = paired_test(a, b)
    assert gain["mean_diff"] == pytest.approx(0.09)
    assert gain["p_value"] < 1e-6
    assert paired_test(a, dict(a))["p_value"] == 1.0
