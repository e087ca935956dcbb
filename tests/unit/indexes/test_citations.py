"""Citation checking for LLM answers."""

from __future__ import annotations

from indexes.citations import check_citations, cited_numbers


def test_markers_outside_sources_are_removed_and_listed():
    text, invalid = check_citations("Bake hot [1]. Cool it [7]. Both [2, 9].", n_sources=3)
    assert text == "Bake hot [1]. Cool it. Both [2]."
    assert invalid == [7, 9]


def test_valid_markers_are_kept():
    text, invalid = check_citations("A [1][2]. B [3].", n_sources=3)
    assert text == "A [1][2]. B [3]." and invalid == []


def test_zero_is_invalid():
    assert check_citations("x [0].", 2)[1] == [0]


def test_cited_numbers_in_order():
    assert cited_numbers("a [2] b [1, 3] c [2]") == [2, 1, 3, 2]
