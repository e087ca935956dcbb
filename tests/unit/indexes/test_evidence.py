"""Passages without retrieval evidence are not offered as sources."""

from __future__ import annotations

from llama_index.core.schema import NodeWithScore, TextNode

from indexes.query import with_evidence


def test_zero_and_negative_scores_are_dropped():
    """Regression: a source showed `score=0.0` — the weakest keyword-only candidate, which
    min-max fusion scales to exactly 0. It carries no evidence and has no place among sources."""
    nodes = [
        NodeWithScore(node=TextNode(text="a", id_="a"), score=0.91),
        NodeWithScore(node=TextNode(text="b", id_="b"), score=0.0),
        NodeWithScore(node=TextNode(text="c", id_="c"), score=None),
        NodeWithScore(node=TextNode(text="d", id_="d"), score=-0.2),
    ]
    assert [n.node.node_id for n in with_evidence(nodes)] == ["a", "c"]
