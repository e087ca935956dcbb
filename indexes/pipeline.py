"""Incremental ingestion: LlamaIndex IngestionPipeline + persisted docstores + Qdrant.

Each origin (`config` = files listed in config.yaml, `api` = POST /ingest) has its own docstore
of document hashes, so re-indexing the config sources never deletes API-ingested documents.
A run is planned first (added / updated / unchanged / deleted by hash), then executed in small
batches; the docstores are saved atomically after every batch. Because chunk ids are
deterministic and every (re)processed document is first deleted from Qdrant, a run killed at
any point converges on the next one: no duplicate points, points == chunk nodes.
The BM25 index (when configured) is rebuilt from the chunk nodes after every run that changed
them, and on open when its saved stamp no longer matches them, so it converges the same way.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.schema import BaseNode, Document
from llama_index.core.vector_stores.types import BasePydanticVectorStore

from indexes.bm25 import BM25Index
from indexes.parsers import BookNodeParser
from indexes.readers import ORIGIN_API, ORIGIN_CONFIG
from indexes.stores import PersistedDocstore

ProgressFn = Callable[[int, int, str], None]


@dataclass
class IndexReport:
    """What one ingestion run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    elapsed_s: float = 0.0

    def counts(self) -> dict[str, int | float]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
            "chunks_embedded": self.chunks_embedded,
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass
class _Plan:
    to_run: list[Document]
    report: IndexReport


class Indexer:
    """Owns the docstores and runs the ingestion pipeline for both origins."""

    def __init__(
        self,
        *,
        model_loader: Callable[[], tuple[BookNodeParser, BaseEmbedding]],
        vector_store: BasePydanticVectorStore,
        storage_dir: Path,
        batch_docs: int = 4,
        bm25: BM25Index | None = None,
    ) -> None:
        self._model_loader = model_loader  # called only when something must be embedded
        self.vector_store = vector_store
        self.batch_docs = batch_docs
        self.hashes = {
            origin: PersistedDocstore(storage_dir / f"docstore-{origin}.json")
            for origin in (ORIGIN_CONFIG, ORIGIN_API)
        }
        self.nodes = PersistedDocstore(storage_dir / "nodes.json")
        self._lock = threading.Lock()
        self.version = 0  # bumped on every change; caches key on it
        self._fingerprint: tuple[int, str] | None = None
        self.bm25 = bm25
        if bm25 is not None:
            bm25.load_or_build(self.all_chunks, self.chunk_ids())

    def sync(
        self,
        documents: Sequence[Document],
        *,
        origin: str,
        delete_missing: bool,
        progress: ProgressFn | None = None,
    ) -> IndexReport:
        """Bring one origin in line with `documents` (and drop the rest if `delete_missing`)."""
        started = time.perf_counter()
        with self._lock:
            plan = self._plan(documents, origin=origin, delete_missing=delete_missing)
            for doc_id in plan.report.deleted:
                self._remove(doc_id, origin)
            if plan.report.deleted:
                self._save(origin)
            self._run(plan, origin, progress)
            if plan.report.deleted or plan.to_run:
                self._chunks_changed()
        plan.report.elapsed_s = time.perf_counter() - started
        return plan.report

    def delete(self, doc_id: str) -> bool:
        """Remove one document (either origin) from Qdrant and the docstores."""
        with self._lock:
            origin = self.origin_of(doc_id)
            if origin is None:
                return False
            self._remove(doc_id, origin)
            self._save(origin)
            self._chunks_changed()
            return True

    def origin_of(self, doc_id: str) -> str | None:
        """Which origin indexed this document, if any."""
        for origin, docstore in self.hashes.items():
            if docstore.store.get_document_hash(doc_id) is not None:
                return origin
        return None

    def fingerprint(self) -> str:
        """sha256 over every (origin, document id, content hash). Unlike the in-process
        `version`, the same indexed content gives the same value in every process and after a
        restart, so caches shared between replicas (Redis) can key on it."""
        version = self.version
        if self._fingerprint is None or self._fingerprint[0] != version:
            digest = hashlib.sha256()
            for origin in sorted(self.hashes):
                pairs = self.hashes[origin].store.get_all_document_hashes().items()
                for doc_hash, doc_id in sorted(pairs, key=lambda p: p[1]):
                    digest.update(f"{origin}\0{doc_id}\0{doc_hash}\n".encode())
            self._fingerprint = (version, digest.hexdigest())
        return self._fingerprint[1]

    def document_ids(self, origin: str) -> set[str]:
        return set(self.hashes[origin].store.get_all_document_hashes().values())

    def chunk_count(self) -> int:
        return len(self.nodes.store.docs)

    def all_chunks(self) -> list[BaseNode]:
        return list(self.nodes.store.docs.values())

    def chunk_ids(self) -> list[str]:
        return [
            node_id
            for info in (self.nodes.store.get_all_ref_doc_info() or {}).values()
            for node_id in info.node_ids
        ]

    def get_chunk(self, node_id: str) -> BaseNode | None:
        return self.nodes.store.get_node(node_id, raise_error=False)

    # -- internals -------------------------------------------------------------------------

    def _plan(self, documents: Sequence[Document], *, origin: str, delete_missing: bool) -> _Plan:
        store = self.hashes[origin].store
        report = IndexReport()
        to_run: list[Document] = []
        seen: set[str] = set()
        for doc in documents:
            seen.add(doc.doc_id)
            known = store.get_document_hash(doc.doc_id)
            if known is None:
                report.added.append(doc.doc_id)
                to_run.append(doc)
            elif known != doc.hash:
                report.updated.append(doc.doc_id)
                to_run.append(doc)
            else:
                report.unchanged.append(doc.doc_id)
        if delete_missing:
            report.deleted = sorted(self.document_ids(origin) - seen)
        return _Plan(to_run=to_run, report=report)

    def _pipeline(self, origin: str) -> IngestionPipeline:
        parser, embed_model = self._model_loader()
        return IngestionPipeline(
            transformations=[parser, embed_model],
            vector_store=self.vector_store,
            docstore=self.hashes[origin].store,
            docstore_strategy=DocstoreStrategy.UPSERTS,
        )

    def _run(self, plan: _Plan, origin: str, progress: ProgressFn | None) -> None:
        if not plan.to_run:
            return
        pipeline = self._pipeline(origin)
        total = len(plan.to_run)
        for start in range(0, total, self.batch_docs):
            batch = plan.to_run[start : start + self.batch_docs]
            for doc in batch:
                # Clears points left by an interrupted earlier run (unknown to the docstore).
                self.vector_store.delete(doc.doc_id)
                self.nodes.store.delete_ref_doc(doc.doc_id, raise_error=False)
            chunks = pipeline.run(documents=batch, store_doc_text=False)
            for chunk in chunks:
                chunk.embedding = None
            self.nodes.store.add_documents(chunks, allow_update=True)
            plan.report.chunks_embedded += len(chunks)
            self._save(origin)
            if progress is not None:
                progress(min(start + len(batch), total), total, batch[-1].doc_id)

    def _chunks_changed(self) -> None:
        if self.bm25 is not None:
            self.bm25.rebuild(self.all_chunks())
        self.version += 1

    def _remove(self, doc_id: str, origin: str) -> None:
        self.vector_store.delete(doc_id)
        self.hashes[origin].store.delete_document(doc_id, raise_error=False)
        self.hashes[origin].store.delete_ref_doc(doc_id, raise_error=False)
        self.nodes.store.delete_ref_doc(doc_id, raise_error=False)

    def _save(self, origin: str) -> None:
        # Chunks first: a crash between the two saves leaves a hash missing, which re-runs the doc.
        self.nodes.save()
        self.hashes[origin].save()
