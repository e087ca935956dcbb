"""Chunk metadata: book, chapter, heading path, source id and exact character spans."""

from __future__ import annotations

from indexes.config import ChunkingConfig
from indexes.parsers import BookNodeParser, chunk_id
from indexes.readers import make_document

TEXT = (
    """# Chapter 1: Bread

Bread is old. People have baked it for thousands of years.

## Flour

Flour is milled grain. """
    + "Strong flour has more protein than cake flour. " * 30
    + """

### Protein

Protein forms gluten when wet.

## Water

Water activates the flour.
"""
)


def _chunks(chunk_size: int = 64):
    doc = make_document(
        doc_id="s:ch1.md", text=TEXT, book="B", chapter="Chapter 1: Bread", origin="config"
    )
    parser = BookNodeParser.from_config(ChunkingConfig(chunk_size=chunk_size, chunk_overlap=8))
    return doc, parser.split_document(doc)


def test_every_chunk_carries_book_chapter_section_and_source():
    _, chunks = _chunks()
    assert len(chunks) > 4
    for chunk in chunks:
        assert chunk.metadata["book"] == "B"
        assert chunk.metadata["chapter"] == "Chapter 1: Bread"
        assert chunk.metadata["source_id"] == "s:ch1.md"
        assert chunk.ref_doc_id == "s:ch1.md"
    sections = [c.metadata["section"] for c in chunks]
    assert "Chapter 1: Bread > Flour > Protein" in sections
    assert sections[-1] == "Chapter 1: Bread > Water"


def test_char_spans_point_at_the_chunk_text():
    doc, chunks = _chunks()
    for chunk in chunks:
        start, end = chunk.metadata["char_start"], chunk.metadata["char_end"]
        assert doc.text[start:end] == chunk.text


def test_chunk_ids_are_deterministic():
    doc, first = _chunks()
    _, second = _chunks()
    assert [c.node_id for c in first] == [c.node_id for c in second]
    assert first[0].node_id == chunk_id("s:ch1.md", 0, doc.hash[:16])


def test_a_new_version_of_a_document_gets_new_chunk_ids():
    """The new version is written beside the old one, which keeps answering until the ledger
    switches (indexes/pipeline.py): their point ids must never collide."""
    from llama_index.core.schema import Document

    doc, first = _chunks()
    parser = BookNodeParser.from_config(ChunkingConfig(chunk_size=64, chunk_overlap=8))
    changed = Document(text=doc.text + "\n\nMore.", id_=doc.doc_id, metadata=doc.metadata)
    second = parser.split_document(changed)
    assert not {c.node_id for c in first} & {c.node_id for c in second}


def _words(text: str) -> list[str]:
    return text.split()


def test_long_sections_are_split_within_size():
    """Regression (the test checked only that there were several chunks): each chunk of the
    long "Flour" section fits `chunk_size` tokens together with its section line, which the
    embedder sees too, and the chunks hold all of the section's text."""
    doc = make_document(
        doc_id="s:ch1.md", text=TEXT, book="B", chapter="Chapter 1: Bread", origin="config"
    )
    parser = BookNodeParser.from_config(
        ChunkingConfig(chunk_size=64, chunk_overlap=8), tokenizer=_words
    )
    section = "Chapter 1: Bread > Flour"
    flour = [c for c in parser.split_document(doc) if c.metadata["section"] == section]
    assert len(flour) > 2
    header = len(_words(f"section: {section}"))
    assert all(len(_words(c.text)) + header <= 64 for c in flour)
    # all 30 copies of the long sentence are in some chunk (overlapping chunks repeat some)
    assert sum(c.text.count("Strong flour has more protein") for c in flour) >= 30


def test_embedding_text_holds_section_but_not_ids():
    from llama_index.core.schema import MetadataMode

    _, chunks = _chunks()
    embedded = chunks[-1].get_content(metadata_mode=MetadataMode.EMBED)
    assert "section: Chapter 1: Bread > Water" in embedded
    assert "s:ch1.md" not in embedded and "char_start" not in embedded
