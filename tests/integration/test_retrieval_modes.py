"""BM25 (sparse vectors in Qdrant) and hybrid retrieval on the sample book: BM25 follows every
add/update/delete at once (there is no separate lexical index to rebuild), every mode and fusion
answers from config alone, across restarts."""

from __future__ import annotations

import pytest

from tests.utils.builders import write_config

pytestmark = pytest.mark.integration


def _open(tmp_path, book_dir, minilm, mode: str, **retrieval):
    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex

    config = write_config(tmp_path, book_dir, retrieval={"mode": mode, **retrieval})
    settings = load_settings(config, environ={})
    return FolioIndex.from_config(settings.index, embed_model=minilm)


def _bm25_docs(folio, question: str) -> list[str]:
    return [s.document_id for s in folio.query(question, top_k=5).sources]


def test_bm25_follows_update_and_delete(tmp_path, book_dir, minilm):
    folio = _open(tmp_path, book_dir, minilm, "bm25")
    try:
        folio.index_sources()
        assert _bm25_docs(folio, "quokkaflour") == []
        chapter = book_dir / "ch03-fermentation.md"
        chapter.write_text(chapter.read_text() + "\n\n## Notes\n\nQuokkaflour ferments oddly.\n")
        folio.index_sources()
        assert _bm25_docs(folio, "quokkaflour") == ["sourdough:ch03-fermentation.md"]
        chapter.unlink()
        folio.index_sources()
        assert _bm25_docs(folio, "quokkaflour") == []
    finally:
        folio.close()


def test_bm25_sees_deletes_through_the_api(tmp_path, book_dir, minilm):
    folio = _open(tmp_path, book_dir, minilm, "bm25")
    try:
        folio.index_sources()
        folio.ingest_text(
            content="# Spelt\n\nZorblat spelt loaves.", chapter="S", source_id="api:s"
        )
        assert _bm25_docs(folio, "zorblat") == ["api:s"]
        assert folio.delete_document("api:s")
        assert _bm25_docs(folio, "zorblat") == []
    finally:
        folio.close()


@pytest.mark.parametrize(
    ("mode", "fusion"),
    [
        ("bm25", "rrf"),
        ("dense", "rrf"),
        ("hybrid", "rrf"),
        ("hybrid", "dbsf"),
        ("hybrid", "convex"),
    ],
)
def test_modes_answer_from_config_and_survive_restart(tmp_path, book_dir, minilm, mode, fusion):
    first = _open(tmp_path, book_dir, minilm, mode, fusion={"method": fusion})
    first.index_sources()
    first.close()
    second = _open(tmp_path, book_dir, minilm, mode, fusion={"method": fusion})
    try:
        answer = second.query("How often should a refrigerated starter be fed?")
        assert answer.found and answer.sources
        assert answer.sources[0].document_id == "sourdough:ch01-starter.md"
        assert all(s.text and s.chapter for s in answer.sources)
    finally:
        second.close()


def test_shipped_config_retrieval_answers_and_refuses(tmp_path, book_dir, minilm):
    """config.yaml's own retrieval section (hybrid): right chapter for a book question, and
    'not found' for a question the book cannot answer."""
    import yaml

    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex
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


def test_previous_storage_layout_is_refused_with_the_command(tmp_path, book_dir, minilm):
    """An index from an earlier Folio (JSON docstores, Qdrant local mode) is never mixed with
    the current layout: opening it names the command that rebuilds it."""
    from indexes.stores import LegacyLayoutError

    storage = tmp_path / "storage"
    storage.mkdir()
    (storage / "nodes.json").write_text("{}")
    with pytest.raises(LegacyLayoutError, match="folio index --rebuild"):
        _open(tmp_path, book_dir, minilm, "hybrid")
