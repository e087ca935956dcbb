"""ParseLimits: the cheap checks refuse the shapes that made parsing slow, and nothing in a
real book; the budget stops a parse that runs long."""

from __future__ import annotations

import pytest
from llama_index.core import Document

from indexes.parsers import (
    BookNodeParser,
    ContentTooComplex,
    ParseLimits,
    ParseTimeout,
    check_text,
)
from tests.utils.builders import SAMPLE_BOOK


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("line\n" * 60_000, "lines"),
        ("# h\n" * 1_001, "headings"),
        ("## " + "x " * 200, "heading over"),
        ("a" * 1_001, "without a space"),
        ("-" * 600, "repeated"),
        ("- " + "=" * 501, "repeated"),
        ("> " * 40 + "deep", "quotes nested"),
        ("<b>x</b> " * 6_000, "HTML tags"),
        (". " * 100_000, "letters or digits"),
        ("| --- | --- |\n" * 50 + "a table with little text", "letters or digits"),
    ],
)
def test_each_limit_refuses_its_shape(text: str, reason: str) -> None:
    with pytest.raises(ContentTooComplex, match=reason):
        check_text(text, ParseLimits())


def test_the_sample_book_is_within_every_limit() -> None:
    for path in SAMPLE_BOOK.glob("*.md"):
        check_text(path.read_text(), ParseLimits())


def test_the_budget_stops_a_long_parse_and_is_per_call() -> None:
    parser = BookNodeParser(chunk_size=64, chunk_overlap=8)
    doc = Document(text=" ".join(f"Sentence {i} here." for i in range(2000)), id_="d")
    with pytest.raises(ParseTimeout):
        parser.split_document(doc, ParseLimits(timeout_s=0.0))
    assert parser.split_document(doc)  # no limits: no budget left behind by the call above
    assert parser.split_document(doc, ParseLimits(timeout_s=None))


def test_a_heading_path_longer_than_a_chunk_is_too_complex_not_a_crash() -> None:
    """LlamaIndex's splitter raises a bare ValueError when a section's heading path fills the
    chunk; with limits it becomes the refusal the API turns into a 422."""
    parser = BookNodeParser(chunk_size=32, chunk_overlap=4)
    headings = "".join(f"{'#' * (i + 1)} {'heading ' * 8}\n" for i in range(6))
    doc = Document(text=headings + "Body text.", id_="d")
    with pytest.raises(ContentTooComplex, match="chunks of 32 tokens"):
        parser.split_document(doc, ParseLimits())
