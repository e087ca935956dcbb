"""Upgrading a storage folder from the previous layout (Qdrant local mode, JSON docstores,
bm25s): refused with the command to run, then rebuilt by `folio index --rebuild`, with the
documents that came in over HTTP re-ingested from the old chunk store. Never a silent mix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.builders import write_config
from tests.utils.cli import run_folio

pytestmark = pytest.mark.integration

RYE = (
    "# Rye\n\nRye flour holds little gluten, so rye loaves are dense.\n\n"
    "## Starter\n\nA rye starter ferments fast and smells of fruit."
)


def _legacy_storage(storage: Path) -> None:
    """What an earlier Folio left: docstores of hashes and chunks, a bm25 folder, local Qdrant."""
    from llama_index.core.storage.docstore import SimpleDocumentStore

    from indexes.parsers import BookNodeParser
    from indexes.readers import make_document

    storage.mkdir(parents=True)
    doc = make_document(doc_id="api:rye", text=RYE, book="B", chapter="Rye", origin="api")
    chunks = BookNodeParser(chunk_size=32, chunk_overlap=4).split_document(doc)
    assert len(chunks) > 1
    hashes, nodes = SimpleDocumentStore(), SimpleDocumentStore()
    hashes.set_document_hash(doc.doc_id, doc.hash)
    nodes.add_documents(chunks)
    hashes.persist(str(storage / "docstore-api.json"))
    SimpleDocumentStore().persist(str(storage / "docstore-config.json"))
    nodes.persist(str(storage / "nodes.json"))
    (storage / "bm25").mkdir()
    (storage / "qdrant" / "collection").mkdir(parents=True)


def test_previous_layout_is_refused_then_rebuilt(tmp_path, book_dir):
    config = str(write_config(tmp_path, book_dir))
    _legacy_storage(tmp_path / "storage")

    refused = run_folio("index", "--config", config)
    assert refused.returncode == 1
    assert "folio index --rebuild" in refused.stderr and "Traceback" not in refused.stderr

    rebuilt = run_folio("index", "--rebuild", "--config", config)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "re-ingested 1 API documents" in rebuilt.stdout
    moved = list((tmp_path / "storage").glob("legacy-*"))
    assert len(moved) == 1 and (moved[0] / "nodes.json").is_file()  # kept, not deleted
    assert not (tmp_path / "storage" / "nodes.json").exists()

    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex

    settings = load_settings(config, environ={})
    folio = FolioIndex(settings.index, ledger_url=settings.database.url, create_schema=False)
    try:
        rye = folio.document("api:rye")
        assert rye is not None and rye.origin == "api" and rye.chapter == "Rye"
        assert len(folio.documents(origin="config")) == 5
        answer = folio.query("Why are rye loaves dense?")
        assert answer.sources[0].document_id == "api:rye"
        assert "Rye flour holds little gluten" in answer.sources[0].text
    finally:
        folio.close()

    again = run_folio("index", "--config", config)  # nothing left to do, nothing re-ingested
    assert again.returncode == 0 and "re-ingested" not in again.stdout
