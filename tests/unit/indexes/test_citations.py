"""Citation checking for LLM answers."""

from __future__ import annotations

from indexes.citations import CitationFilter, check_citations, cited_numbers


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


def _regex_check(text: str, n_sources: int) -> tuple[str, list[int]]:
    """The whole-text rules as they were written before the streaming filter, as an oracle."""
    import re

    marker = re.compile(r"\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")
    invalid: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"[,;]", match.group(1))]
        invalid.extend(n for n in numbers if not 1 <= n <= n_sources)
        return "".join(f"[{n}]" for n in numbers if 1 <= n <= n_sources)

    cleaned = marker.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return cleaned, sorted(set(invalid))


def test_streamed_pieces_join_to_the_whole_text_check_however_cut():
    """Regression: the stream showed "[2, 9]" and the final answer "[2]". Random texts made of
    marker fragments, cut at random places, must give exactly the whole-text result."""
    import random

    parts = ["[", "]", "1", "2", "7", "12", ",", ";", " ", "  ", "\t", "\n", ".", "a", "word", "!"]
    rng = random.Random(22)
    for _ in range(3000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 30)))
        n_sources = rng.randint(0, 3)
        expected = _regex_check(text, n_sources)
        assert check_citations(text, n_sources) == expected, text
        cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(0, 6))))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        citations = CitationFilter(n_sources)
        out = "".join(citations.feed(p) for p in pieces) + citations.close()
        assert (out, citations.invalid) == expected, pieces


def test_an_open_marker_waits_for_its_end():
    citations = CitationFilter(n_sources=2)
    assert citations.feed("Salt waits [2,") == "Salt waits"
    assert citations.feed(" 9") == ""
    assert citations.feed("]. Then") == " [2]. Then"
    assert citations.close() == "" and citations.invalid == [9]


def test_an_open_marker_that_never_closes_is_text():
    citations = CitationFilter(n_sources=2)
    assert citations.feed("see [1") == "see"
    assert citations.close() == " [1"
