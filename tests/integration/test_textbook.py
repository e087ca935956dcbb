"""Index the real open textbook in ../shared (skips with a reason when it is absent)."""

from __future__ import annotations

import pytest

from app.core.settings import load_settings
from indexes.folio_index import FolioIndex
from tests.utils.builders import SHARED

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHAPTERS = SHARED / "textbooks" / "rust-book" / "chapters"


@pytest.fixture(scope="module")
def rust_book(tmp_path_factory, minilm):
    if not CHAPTERS.is_dir():
        pytest.skip(f"textbook not found at {CHAPTERS} (../shared is absent)")
    import yaml

    root = tmp_path_factory.mktemp("rustbook")
    config = root / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage_dir": str(root / "storage"),
                "sources": [
                    {
                        "name": "rust",
                        "path": str(CHAPTERS),
                        "globs": ["ch*.md"],
                        "book": "The Rust Programming Language",
                    }
                ],
                "vector_store": {"path": str(root / "storage" / "vectors"), "collection": "rust"},
            }
        )
    )
    folio = FolioIndex.from_config(load_settings(config, environ={}).index, embed_model=minilm)
    report = folio.index_sources()
    yield folio, report
    folio.close()


def test_whole_textbook_indexes_with_consistent_counts(rust_book):
    folio, report = rust_book
    n_files = len(list(CHAPTERS.glob("ch*.md")))
    assert len(report.added) == n_files > 90
    assert folio.point_count() == folio.indexer.chunk_count() == report.chunks_embedded
    assert folio.index_sources().chunks_embedded == 0


def test_textbook_chunks_fit_the_model_window_and_spans_are_exact(rust_book):
    folio, _ = rust_book
    word_pieces = folio.embed_model.word_pieces
    docs = {d.doc_id: d for d in folio.load_source_documents()}
    chunk_ids = [cid for entry in folio.documents() for cid in entry.chunk_ids]
    chunks = folio.vector_store.get_nodes(chunk_ids)
    assert len(chunks) == len(chunk_ids)
    too_long = 0
    for chunk in chunks:
        doc = docs[chunk.metadata["source_id"]]
        start, end = chunk.metadata["char_start"], chunk.metadata["char_end"]
        assert doc.text[start:end] == chunk.text
        if len(word_pieces(chunk.text)) > 256:
            too_long += 1
    assert too_long / len(chunks) < 0.01  # the splitter may keep an unsplittable long token run


def test_textbook_question_cites_the_ownership_chapter(rust_book):
    folio, _ = rust_book
    answer = folio.query("What are the ownership rules in Rust?")
    assert answer.sources
    assert answer.sources[0].document_id.startswith("rust:ch04")
    assert "[1]" in answer.answer
