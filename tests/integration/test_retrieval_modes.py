"""BM25 and hybrid retrieval on the sample book: BM25 follows every add/update/delete of the
vectors, survives restarts, and each mode answers from config alone."""

from __future__ import annotations

import pytest

from tests.utils.builders import write_config

pytestmark = pytest.mark.integration


def _bm25_docs(folio) -> set[str]:
    return set(folio.bm25.doc_ids)


def _open(tmp_path, book_dir, minilm, mode: str, **retrieval):
    from app.core.settings import load_settings
    from indexes.engine import FolioIndex

    config = write_config(tmp_path, book_dir, retrieval={"mode": mode, **retrieval})
    settings = load_settings(config, environ={})
    return FolioIndex.from_config(settings.index, embed_model=minilm)


def test_bm25_covers_exactly_the_indexed_chunks(folio):
    folio.index_sources()
    assert sorted(folio.bm25.node_ids) == sorted(folio.indexer.chunk_ids())
    assert len(_bm25_docs(folio)) == 5


def test_bm25_follows_update_and_delete(folio, book_dir):
    folio.index_sources()
    chapter = book_dir / "ch03-fermentation.md"
    chapter.write_text(chapter.read_text() + "\n\n## Notes\n\nQuokkaflour ferments oddly.\n")
    folio.index_sources()
    hits = folio.bm25.search("quokkaflour", 5)
    assert hits and hits[0][1] == "sourdough:ch03-fermentation.md"
    (book_dir / "ch03-fermentation.md").unlink()
    folio.index_sources()
    assert folio.bm25.search("quokkaflour", 5) == []
    assert "sourdough:ch03-fermentation.md" not in _bm25_docs(folio)
    assert sorted(folio.bm25.node_ids) == sorted(folio.indexer.chunk_ids())


def test_bm25_delete_document_api(folio):
    folio.index_sources()
    assert folio.delete_document("sourdough:ch01-starter.md")
    assert "sourdough:ch01-starter.md" not in _bm25_docs(folio)


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_modes_answer_from_config_and_survive_restart(tmp_path, book_dir, minilm, mode):
    first = _open(tmp_path, book_dir, minilm, mode)
    first.index_sources()
    first.close()
    second = _open(tmp_path, book_dir, minilm, mode)  # loads the persisted BM25 index
    try:
        answer = second.query("How often should a refrigerated starter be fed?")
        assert answer.found and answer.sources
        assert answer.sources[0].document_id == "sourdough:ch01-starter.md"
        assert all(s.text for s in answer.sources)
    finally:
        second.close()


def test_stale_bm25_is_rebuilt_on_open(tmp_path, book_dir, minilm):
    """A run killed between the docstore save and the BM25 save must converge on restart."""
    import shutil

    first = _open(tmp_path, book_dir, minilm, "hybrid")
    first.index_sources()
    expected = sorted(first.bm25.node_ids)
    first.close()
    shutil.rmtree(tmp_path / "storage" / "bm25")
    second = _open(tmp_path, book_dir, minilm, "hybrid", bm25={"k1": 0.9})
    try:
        assert sorted(second.bm25.node_ids) == expected
    finally:
        second.close()


def test_shipped_config_retrieval_answers_and_refuses(tmp_path, book_dir, minilm):
    """config.yaml's own retrieval section (hybrid): right chapter for a book question, and
    'not found' for a question the book cannot answer."""
    import yaml

    from app.core.settings import load_settings
    from indexes.engine import FolioIndex
    from tests.utils.builders import REPO

    shipped = yaml.safe_load((REPO / "config.yaml").read_text())["retrieval"]
    assert shipped["mode"] == "hybrid"
    config = write_config(tmp_path, book_dir, retrieval=shipped)
    index = FolioIndex.from_config(load_settings(config, environ={}).index, embed_model=minilm)
    try:
        index.index_sources()
        answer = index.query("What is a banneton?")
        assert answer.sources[0].document_id == "sourdough:ch04-shaping-and-scoring.md"
        assert "banneton" in answer.answer.lower()
        unrelated = index.query("Who won the 1998 world cup final?")
        assert unrelated.found is False and unrelated.sources == []
    finally:
        index.close()
