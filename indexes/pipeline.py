"""Incremental ingestion: LlamaIndex IngestionPipeline (parse → embed) + the ledger + Qdrant.

A run is planned from the ledger (added / updated / unchanged / deleted by content hash), then
executed in batches of documents: the pipeline parses and embeds a batch, and each document is
written with a two-phase protocol, one short ledger transaction at each step:

1. `begin`: the row is marked `writing` (inserted if new) before any point is written;
2. the new chunks are upserted; their ids carry the content hash, so they never overwrite the
   previous version's points, which keep answering until the switch;
3. `commit`: the row gets the new hash and chunk ids (the switch);
4. the previous version's points are deleted, then the row is marked `indexed` again.

A process killed anywhere leaves rows not `indexed`, and `recover()` settles exactly those: a
row that never committed loses its points (and its row if it was new); a committed one loses
the points not in its chunk list; a half-deleted one is deleted. Points whose document has no
row at all (none can be made by this protocol; a ledger database swapped under the store, or a
store filled by other means, can) are found by a facet over document ids and adopted: their rows
are rebuilt from the payloads, never deleted. No whole-file rewrites: the cost of one document does
not depend on how many are indexed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode, Document, TransformComponent

from indexes.ledger import DELETING, INDEXED, SqlLedger
from indexes.store_protocol import FolioVectorStore

log = logging.getLogger("folio.index")

# (characters done, characters in the run, last document id): characters are known before any
# embedding starts, so a progress bar has a total and an ETA from the first batch.
ProgressFn = Callable[[int, int, str], None]

FIRST_BATCH_CHARS = 8_000  # ~10 chunks: the first progress tick comes within a second
BATCH_CHARS = 120_000  # ~150 chunks per embedding call afterwards
EMBED_SLICE = 256  # chunks per embedding call within a batch: one large document still
# reports progress (and can be stopped) every few seconds instead of once at its end


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
class RecoveryReport:
    """What `recover()` repaired."""

    settled: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    orphan_documents: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.settled or self.dropped or self.orphan_documents)


class _DocLocks:
    """One lock per document id (striped): two writes of one document in this process queue,
    writes of different documents run side by side."""

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [threading.RLock() for _ in range(stripes)]

    def __call__(self, doc_id: str) -> threading.RLock:
        return self._locks[hash(doc_id) % len(self._locks)]

    @contextmanager
    def all(self) -> Iterator[None]:
        """Every stripe, in order (no deadlock with single-stripe holders)."""
        with ExitStack() as stack:
            for lock in self._locks:
                stack.enter_context(lock)
            yield


def _ahead(
    batches: Iterator[list[Document]], parse: Callable[[list[Document]], Sequence[BaseNode]]
) -> Iterator[tuple[list[Document], Sequence[BaseNode]]]:
    """(batch, its parsed nodes), parsing the next batch on a thread while the caller works."""
    with ThreadPoolExecutor(1, thread_name_prefix="folio-parse") as pool:
        batch = next(batches, None)
        pending = pool.submit(parse, batch) if batch is not None else None
        while batch is not None and pending is not None:
            following = next(batches, None)
            parsed = pending.result()
            pending = pool.submit(parse, following) if following is not None else None
            yield batch, parsed
            batch = following


class Indexer:
    """Plans and runs ingestion for both origins against one ledger and one vector store."""

    def __init__(
        self,
        *,
        model_loader: Callable[[], list[TransformComponent]],
        vector_store: FolioVectorStore,
        ledger: SqlLedger,
    ) -> None:
        # [parser, *embedding steps]; called only when something must be embedded
        self._model_loader = model_loader
        self.vector_store = vector_store
        self.ledger = ledger
        self._doc_lock = _DocLocks()

    # -- public ------------------------------------------------------------------------------

    def sync(
        self,
        documents: Sequence[Document],
        *,
        origin: str,
        delete_missing: bool,
        progress: ProgressFn | None = None,
        owner: str | None = None,
    ) -> IndexReport:
        """Bring one origin in line with `documents` (and drop the rest if `delete_missing`)."""
        started = time.perf_counter()
        report, to_run = self._plan(documents, origin=origin, delete_missing=delete_missing)
        for doc_id in report.deleted:
            self.delete(doc_id)
        if to_run:
            self._run(to_run, report, progress, owner)
        report.elapsed_s = time.perf_counter() - started
        return report

    def delete(self, doc_id: str) -> bool:
        """Remove one document's points and ledger row; False if it is not indexed."""
        with self._doc_lock(doc_id):
            if self.ledger.get(doc_id) is None:
                return False
            self.ledger.begin_delete(doc_id)
            self.vector_store.delete(doc_id)
            self.ledger.remove(doc_id)
            return True

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No document is written or deleted by this process inside the block (backups);
        embedding may go on, writes wait."""
        with self._doc_lock.all():
            yield

    def recover(self) -> RecoveryReport:
        """Settle what an interrupted run left (see the module docstring)."""
        report = RecoveryReport()
        for entry in self.ledger.unsettled():
            with self._doc_lock(entry.id):
                if entry.state == DELETING or entry.content_hash is None:
                    self.vector_store.delete(entry.id)
                    self.ledger.remove(entry.id)
                    report.dropped.append(entry.id)
                else:
                    self.vector_store.delete_except(entry.id, entry.chunk_ids)
                    self.ledger.settle(entry.id)
                    report.settled.append(entry.id)
        entries = {e.id: e for e in self.ledger.entries()}
        counts = self.vector_store.doc_counts()
        for doc_id in counts:
            if doc_id not in entries:
                self._adopt(doc_id)
                report.orphan_documents.append(doc_id)
        for entry in entries.values():
            if entry.state == INDEXED and counts.get(entry.id, 0) < entry.chunk_count:
                self._drop_if_points_lost(entry.id, report)
        if report:
            log.warning(
                "recovered the index after an interrupted run: %d settled, %d dropped, "
                "%d documents without a ledger entry adopted",
                len(report.settled),
                len(report.dropped),
                len(report.orphan_documents),
            )
        return report

    def _drop_if_points_lost(self, doc_id: str, report: RecoveryReport) -> None:
        """Points lost under a committed row (a restore from a backup taken mid-write, a store
        reset): drop the row so the next sync or ingest writes the document again. Checked
        again on fresh data first: another replica may have just rewritten the document."""
        with self._doc_lock(doc_id):
            entry = self.ledger.get(doc_id)
            if entry is None or entry.state != INDEXED:
                return
            if self.vector_store.count_doc(doc_id) >= entry.chunk_count:
                return
            self.vector_store.delete(doc_id)
            self.ledger.remove(doc_id)
            report.dropped.append(doc_id)

    def _adopt(self, doc_id: str) -> None:
        """Give points that no ledger row owns (an index made by other means, or a ledger
        database swapped under it) a row rebuilt from their payloads, instead of deleting
        them: nothing is lost, `GET /documents` lists them and `DELETE` can remove them, and
        `folio index` then updates or drops config documents by hash as usual."""
        nodes = sorted(
            self.vector_store.doc_nodes(doc_id), key=lambda n: n.metadata.get("char_start", 0)
        )
        if not nodes:
            return
        meta = nodes[0].metadata
        source = nodes[0].source_node
        self.ledger.adopt(
            doc_id,
            origin=str(meta.get("origin") or "api"),
            content_hash=(source.hash if source is not None and source.hash else "adopted"),
            chunk_ids=[n.node_id for n in nodes],
            book=meta.get("book"),
            chapter=meta.get("chapter"),
        )

    def fingerprint(self) -> str:
        """Changes whenever any document is written or deleted, in every process sharing the
        ledger (caches shared between replicas key on it)."""
        return f"v{self.ledger.version()}"

    def chunk_count(self) -> int:
        """Chunks of every indexed document (from the ledger)."""
        return self.ledger.chunk_total()

    # -- internals ---------------------------------------------------------------------------

    def _plan(
        self, documents: Sequence[Document], *, origin: str, delete_missing: bool
    ) -> tuple[IndexReport, list[Document]]:
        known = self.ledger.hashes(origin)
        report = IndexReport()
        to_run: list[Document] = []
        seen: set[str] = set()
        for doc in documents:
            if doc.doc_id in seen:
                continue
            seen.add(doc.doc_id)
            if doc.doc_id not in known:
                report.added.append(doc.doc_id)
                to_run.append(doc)
            elif known[doc.doc_id] != doc.hash:
                report.updated.append(doc.doc_id)
                to_run.append(doc)
            else:
                report.unchanged.append(doc.doc_id)
        if delete_missing:
            report.deleted = sorted(set(known) - seen)
        return report, to_run

    def _batches(self, docs: Sequence[Document]) -> Iterator[list[Document]]:
        batch: list[Document] = []
        size, limit = 0, FIRST_BATCH_CHARS
        for doc in docs:
            batch.append(doc)
            size += len(doc.text)
            if size >= limit:
                yield batch
                batch, size, limit = [], 0, BATCH_CHARS
        if batch:
            yield batch

    def _run(
        self,
        docs: Sequence[Document],
        report: IndexReport,
        progress: ProgressFn | None,
        owner: str | None,
    ) -> None:
        # Two pipelines: the next batch is parsed (Python) while this one is embedded (ONNX
        # Runtime, which releases the GIL). Their own cache is off: its put hashed and
        # serialised every node of every batch (sentence vectors included) for a cache no later
        # run reads, and `run`'s disable_cache argument is not honoured in this version.
        parser, *embedding = self._model_loader()
        parse = IngestionPipeline(transformations=[parser], disable_cache=True)
        embed = IngestionPipeline(transformations=embedding, disable_cache=True)
        total = sum(len(d.text) for d in docs)
        done = 0
        if progress is not None:
            progress(0, total, "")
        for batch, parsed in _ahead(self._batches(docs), lambda b: parse.run(documents=b)):
            batch_chars = sum(len(d.text) for d in batch)
            chunks: list[BaseNode] = []
            for start in range(0, len(parsed), EMBED_SLICE):
                if start and progress is not None:
                    part = batch_chars * start // len(parsed)
                    progress(done + part, total, batch[0].doc_id)
                chunks.extend(embed.run(nodes=list(parsed[start : start + EMBED_SLICE])))
            by_doc: dict[str, list[BaseNode]] = {d.doc_id: [] for d in batch}
            for chunk in chunks:
                by_doc[str(chunk.ref_doc_id)].append(chunk)
            for doc in batch:
                self._write(doc, by_doc[doc.doc_id], owner)
                report.chunks_embedded += len(by_doc[doc.doc_id])
            done += batch_chars
            if progress is not None:
                progress(done, total, batch[-1].doc_id)

    def _write(self, doc: Document, chunks: list[BaseNode], owner: str | None) -> None:
        """The two-phase write of one document (module docstring, steps 1-4)."""
        with self._doc_lock(doc.doc_id):
            origin = str(doc.metadata.get("origin"))
            previous = self.ledger.begin(doc.doc_id, origin=origin, owner=owner)
            self.vector_store.add(chunks)
            chunk_ids = [c.node_id for c in chunks]
            clean = previous is None
            self.ledger.commit(
                doc.doc_id,
                content_hash=doc.hash,
                chunk_ids=chunk_ids,
                settled=clean,
                book=doc.metadata.get("book"),
                chapter=doc.metadata.get("chapter"),
            )
            if not clean:
                self.vector_store.delete_except(doc.doc_id, chunk_ids)
                self.ledger.settle(doc.doc_id)
