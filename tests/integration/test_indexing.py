"""Incremental ingestion on the real model and local Qdrant."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.utils.counting import count_embedded_chunks

pytestmark = pytest.mark.integration


def _point_ids(folio) -> set[str]:
    points, _ = folio.client.scroll(folio.cfg.vector_store.collection, limit=100_000)
    return {str(p.id) for p in points}


def _chunk_ids(folio) -> set[str]:
    return set(folio.indexer.nodes.store.docs)


def test_first_index_embeds_every_chunk_once(folio):
    with count_embedded_chunks() as counter:
        report = folio.index_sources()
    assert len(report.added) == 5 and not report.updated and not report.deleted
    assert report.chunks_embedded == counter.count > 20
    assert folio.point_count() == folio.indexer.chunk_count() == report.chunks_embedded
    assert _point_ids(folio) == _chunk_ids(folio)


def test_noop_reindex_embeds_nothing(folio):
    folio.index_sources()
    with count_embedded_chunks() as counter:
        report = folio.index_sources()
    assert counter.count == 0
    assert len(report.unchanged) == 5 and report.chunks_embedded == 0


def test_noop_reindex_across_restart_embeds_nothing(settings, minilm):
    from indexes.engine import FolioIndex

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
    chapter = book_dir / "ch03-fermentation.md"
    chapter.write_text(chapter.read_text() + "\n\n## Notes\n\nRye ferments faster than wheat.\n")
    expected = len(folio.parser.split_document(folio.load_source_documents()[2]))
    with count_embedded_chunks() as counter:
        report = folio.index_sources()
    assert report.updated == ["sourdough:ch03-fermentation.md"]
    assert len(report.unchanged) == 4
    assert counter.count == report.chunks_embedded == expected
    assert folio.point_count() == folio.indexer.chunk_count()
    answer = folio.query("Which flour ferments faster than wheat?")
    assert "Rye ferments faster than wheat." in answer.answer


def test_deleting_a_file_removes_its_points(folio, book_dir):
    folio.index_sources()
    before = folio.point_count()
    doomed = "sourdough:ch04-shaping-and-scoring.md"
    n_doomed = len(folio.indexer.nodes.store.get_ref_doc_info(doomed).node_ids)
    (book_dir / "ch04-shaping-and-scoring.md").unlink()
    report = folio.index_sources()
    assert report.deleted == [doomed]
    assert folio.point_count() == before - n_doomed == folio.indexer.chunk_count()
    hits = [s.document_id for s in folio.query("What is a banneton?", top_k=10).sources]
    assert doomed not in hits


def test_api_documents_survive_a_config_reindex(folio):
    folio.index_sources()
    folio.ingest_text(
        content="# Rye\n\nRye bread uses a sour starter.", chapter="Rye", source_id="api:rye"
    )
    report = folio.index_sources()
    assert not report.deleted
    assert folio.indexer.origin_of("api:rye") == "api"


def test_ingest_same_content_twice_is_unchanged(folio):
    text = "# Rye\n\nRye bread uses a sour starter and dense crumb is normal."
    first = folio.ingest_text(content=text, chapter="Rye", source_id="api:rye")
    with count_embedded_chunks() as counter:
        second = folio.ingest_text(content=text, chapter="Rye", source_id="api:rye")
    assert first.added == ["api:rye"] and second.unchanged == ["api:rye"]
    assert counter.count == 0


CRASH_SCRIPT = """
import sys, time
from app.core.settings import load_settings
from indexes.engine import FolioIndex
folio = FolioIndex.from_config(load_settings(sys.argv[1], environ={}).index, eager=False)
folio.indexer.batch_docs = 2
def progress(done, total, doc):
    print(f"batch {done}/{total}", flush=True)
folio.index_sources(progress=progress)
print("finished", flush=True)
time.sleep(60)
"""


def test_killed_mid_index_converges_on_rerun(tmp_path, book_dir, minilm):
    """kill -9 between batches of a run: the next run leaves points == chunk nodes, no dupes."""
    from app.core.settings import load_settings
    from indexes.engine import FolioIndex
    from tests.utils.builders import write_config

    for i in range(6):  # more documents, so the kill lands with work still to do
        text = (book_dir / "ch01-starter.md").read_text()
        (book_dir / f"extra-{i}.md").write_text(text.replace("Starter", f"Starter {i}"))
    config = write_config(tmp_path, book_dir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(config)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()  # first batch is stored; the next one is in flight
        assert line.startswith("batch"), line
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    folio = FolioIndex.from_config(load_settings(config, environ={}).index, embed_model=minilm)
    try:
        report = folio.index_sources()
        assert report.added, "the killed run should have left documents to add"
        assert folio.point_count() == folio.indexer.chunk_count()
        assert _point_ids(folio) == _chunk_ids(folio)
        again = folio.index_sources()
        assert again.chunks_embedded == 0 and len(again.unchanged) == 11
    finally:
        folio.close()
