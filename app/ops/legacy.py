"""Upgrading an index built by an earlier Folio (Qdrant local mode + JSON docstores + bm25s).

`folio index --rebuild` moves the old files into `storage/legacy-<time>/` (nothing is deleted),
re-indexes the config sources into the current layout, and re-ingests the documents that came in
over HTTP: their text is stitched back from the old chunk store by character span (the old
layout kept chunks, not documents). With a Qdrant server, an old-layout collection is dropped
and rebuilt the same way. Without `--rebuild`, opening such a storage folder is refused with the
command to run (indexes/stores.py): never a silent mix of the two.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from app.core.settings import Settings
from indexes.readers import ORIGIN_API, make_document
from indexes.stores import legacy_paths

log = logging.getLogger("folio.legacy")

_DONE = "reingested.json"


def move_legacy_aside(settings: Settings) -> Path | None:
    """Move the previous layout out of the way (or drop an old server collection)."""
    if settings.vector_store.is_server:
        _drop_old_collection(settings)
        return None
    old = legacy_paths(settings.index)
    if not old:
        return None
    target = settings.storage_dir / f"legacy-{time.strftime('%Y%m%d-%H%M%S')}"
    target.mkdir(parents=True)
    for path in old:
        path.rename(target / path.name)
    log.warning("moved the previous index layout to %s", target)
    return target


def _drop_old_collection(settings: Settings) -> None:
    from qdrant_client import QdrantClient

    vs = settings.vector_store
    client = QdrantClient(
        url=str(vs.url), api_key=vs.api_key.get_secret_value() if vs.api_key else None
    )
    try:
        if not client.collection_exists(vs.collection):
            return
        params = client.get_collection(vs.collection).config.params
        if isinstance(params.vectors, dict) and "dense" in params.vectors:
            return  # already the current layout
        client.delete_collection(vs.collection)
        log.warning("dropped Qdrant collection %s (previous layout)", vs.collection)
    finally:
        client.close()


def reingest_legacy_api_documents(settings: Settings, folio: Any) -> int:
    """Re-ingest API documents found in moved-aside legacy folders (once per folder)."""
    count = 0
    for folder in sorted(settings.storage_dir.glob("legacy-*")):
        if (folder / _DONE).exists() or not (folder / "docstore-api.json").is_file():
            continue
        documents = legacy_api_documents(folder)
        if documents:
            folio.ingest_documents(documents, origin=ORIGIN_API)
            count += len(documents)
        (folder / _DONE).write_text(json.dumps({"documents": [d.doc_id for d in documents]}))
    return count


def legacy_api_documents(folder: Path) -> list[Any]:
    """API documents of a legacy folder, their text stitched from chunks by character span."""
    from llama_index.core.storage.docstore import SimpleDocumentStore

    hashes = SimpleDocumentStore.from_persist_path(str(folder / "docstore-api.json"))
    nodes = SimpleDocumentStore.from_persist_path(str(folder / "nodes.json"))
    documents = []
    for doc_id in sorted(set(hashes.get_all_document_hashes().values())):
        info = nodes.get_ref_doc_info(doc_id)
        chunks = [nodes.get_node(n, raise_error=False) for n in (info.node_ids if info else [])]
        chunks = [c for c in chunks if c is not None]
        if not chunks:
            continue
        meta = chunks[0].metadata
        documents.append(
            make_document(
                doc_id=doc_id,
                text=stitch([(c.metadata.get("char_start", 0), c.get_content()) for c in chunks]),
                book=str(meta.get("book") or "Ingested"),
                chapter=str(meta.get("chapter") or doc_id),
                origin=ORIGIN_API,
            )
        )
    return documents


def stitch(pieces: list[tuple[int, str]]) -> str:
    """One text from overlapping pieces placed at their start offsets."""
    text = ""
    for start, piece in sorted(pieces, key=lambda p: p[0]):
        if start > len(text):
            text += " " * (start - len(text))
        text = text[:start] + piece if start + len(piece) > len(text) else text
    return text
