"""Incremental ingestion on the real model, the embedded Qdrant (Edge) and the SQLite ledger."""

from __future__ import annotations

import time

import pytest

from tests.utils.counting import count_embedded_chunks

pytestmark = pytest.mark.integration


@pytest.fixture
def config_file(tmp_path, book_dir):
    """Sentence vectors are embedded per answer here, so the embedder sees exactly the chunks
    (test_sentence_vectors.py covers the default, which embeds sentences at ingest too)."""
    from tests.utils.builders import write_config

    return write_config(tmp_path, book_dir, synthesis={"sentence_vectors": "query"})


def ledger_chunk_ids(folio) -> set[str]:
    return {cid for entry in folio.documents() for cid in entry.chunk_ids}


def assert_consistent(folio) -> None:
    """Points are exactly the chunks the ledger lists: no duplicates, no orphans."""
    assert folio.vector_store.point_ids() == ledger_chunk_ids(folio)
    assert folio.point_count() == folio.indexer.chunk_count()
    assert all(e.state == "indexed" for e in folio.documents())


def test_first_index_embeds_every_chunk_once(folio):
    with count_embedded_chunks() as counter:
        report = folio.index_sources()
    assert len(report.added) == 5 and not report.updated and not report.deleted
    assert report.chunks_embedded == counter.count > 20
    assert folio.point_count() == report.chunks_embedded
    assert_consistent(folio)


def test_noop_reindex_embeds_nothing(folio):
    folio.index_sources()
    with count_embedded_chunks() as counter:
        report = folio.index_sources()
    assert counter.count == 0
    assert len(report.unchanged) == 5 and report.chunks_embedded == 0


def test_noop_reindex_across_restart_embeds_nothing(settings, minilm):
    from indexes.folio_index import FolioIndex

    first = FolioIndex.from_config(settings.index, embed_model=minilm)
    first.index_sources()
    first.close()
    second = FolioIndex.from_config(settings.index, embed_model=minilm)
    with count_embedded_chunks() as counter:
        report = second.index_sources()
    second.close()
    assert counter.count == 0 and len(report.unchanged) == 5


def test_editing_one_chapter_reembeds_only_its_chunks(folio, book_dir):
    folio.index_sources()
    old_ids = set(folio.document("sourdough:ch03-fermentation.md").chunk_ids)
    chapter = book_dir / "ch03-fermentation.md"
    chapter.write_text(chapter.read_text() + "\n\n## Notes\n\nRye ferments faster than wheat.\n")
    expected = len(folio.parser.split_document(folio.load_source_documents()[2]))
    with count_embedded_chunks() as counter:
        report = folio.index_sources()
    assert report.updated == ["sourdough:ch03-fermentation.md"]
    assert len(report.unchanged) == 4
    assert counter.count == report.chunks_embedded == expected
    assert not old_ids & folio.vector_store.point_ids()  # the old version's points are gone
    assert_consistent(folio)
    answer = folio.query("Which flour ferments faster than wheat?")
    assert "Rye ferments faster than wheat." in answer.answer


def test_deleting_a_file_removes_its_points(folio, book_dir):
    folio.index_sources()
    before = folio.point_count()
    doomed = "sourdough:ch04-shaping-and-scoring.md"
    n_doomed = folio.document(doomed).chunk_count
    (book_dir / "ch04-shaping-and-scoring.md").unlink()
    report = folio.index_sources()
    assert report.deleted == [doomed]
    assert folio.point_count() == before - n_doomed
    assert_consistent(folio)
    hits = [s.document_id for s in folio.query("What is a banneton?", top_k=10).sources]
    assert doomed not in hits


def test_api_documents_survive_a_config_reindex(folio):
    folio.index_sources()
    folio.ingest_text(
        content="# Rye\n\nRye bread uses a sour starter.", chapter="Rye", source_id="api:rye"
    )
    report = folio.index_sources()
    assert not report.deleted
    assert folio.document("api:rye").origin == "api"
    assert_consistent(folio)


def test_ingest_same_content_twice_is_unchanged(folio):
    text = "# Rye\n\nRye bread uses a sour starter and dense crumb is normal."
    first = folio.ingest_text(content=text, chapter="Rye", source_id="api:rye")
    with count_embedded_chunks() as counter:
        second = folio.ingest_text(content=text, chapter="Rye", source_id="api:rye")
    assert first.added == ["api:rye"] and second.unchanged == ["api:rye"]
    assert counter.count == 0


def test_the_ledger_records_origin_chapter_and_time(folio):
    folio.index_sources()
    entry = folio.document("sourdough:ch01-starter.md")
    assert entry.origin == "config" and entry.chapter and entry.book == "The Sourdough Handbook"
    assert entry.indexed_at is not None and entry.chunk_count == len(entry.chunk_ids) > 0


def test_two_index_objects_over_the_same_stores_see_each_other_at_once(settings, minilm):
    """Replica safety: nothing an answer needs is held in one object. A document ingested
    through one index object is answered by the other at once, and its deletion disappears
    from the other at once (they share only Qdrant and the ledger database)."""
    from indexes.folio_index import FolioIndex

    one = FolioIndex.from_config(settings.index, embed_model=minilm)
    two = FolioIndex.from_config(settings.index, embed_model=minilm)
    try:
        namespace = two.answer_namespace(top_k=None)
        one.ingest_text(
            content="# Einkorn\n\nEinkorn is an ancient wheat with a weak gluten network.",
            chapter="Einkorn",
            source_id="api:einkorn",
        )
        deadline = time.monotonic() + 3  # another replica sees the version within its TTL
        while two.answer_namespace(top_k=None) == namespace and time.monotonic() < deadline:
            time.sleep(0.1)
        assert two.answer_namespace(top_k=None) != namespace  # shared caches see the change
        answer = two.query("What is einkorn?")
        assert answer.found and answer.sources[0].document_id == "api:einkorn"
        assert two.document("api:einkorn") is not None
        assert one.delete_document("api:einkorn")
        after = two.query("What is einkorn?")
        assert "api:einkorn" not in [s.document_id for s in after.sources]
        assert two.document("api:einkorn") is None
    finally:
        one.close()
        two.close()
