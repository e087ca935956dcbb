"""FolioIndex: the one object that owns the RAG resources of a process.

Built once (model, vector store, ledger) and shared by the CLI, the HTTP app and notebooks. It
holds no retrieval state of its own: chunks, BM25 statistics and the document ledger live in
Qdrant and the database, so two FolioIndex objects over the same stores (two replicas, or two
objects in one process) always answer alike.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import Document, QueryBundle, TransformComponent

from indexes.answers import Answer, Usage
from indexes.condense import condense_offline, condense_with_llm
from indexes.config import IndexConfig
from indexes.embeddings import build_embed_model, build_tokenizer
from indexes.ledger import LedgerEntry, SqlLedger
from indexes.llm_synthesizer import LLMCitationSynthesizer
from indexes.parsers import BookNodeParser, ParseLimits
from indexes.pipeline import Indexer, IndexReport, ProgressFn, RecoveryReport
from indexes.query import FolioQueryEngine
from indexes.readers import ORIGIN_API, ORIGIN_CONFIG, make_document, read_source
from indexes.retriever import FolioRetriever
from indexes.runtime import apply_runtime
from indexes.sentence_vectors import SentenceVectors
from indexes.sparse import BM25Encoder
from indexes.stores import check_layout, check_store, describe_store, open_vector_store
from indexes.token_counting import counting, new_counter, usage_of

log = logging.getLogger("folio.index")


class TooManyChunks(ValueError):
    """A document would make more chunks than one request may embed."""

    def __init__(self, chunks: int, limit: int) -> None:
        super().__init__(f"the content makes {chunks} chunks; the limit is {limit}")
        self.chunks, self.limit = chunks, limit


def default_ledger_url(cfg: IndexConfig) -> str:
    """Outside the app (notebooks, evals) the ledger sits beside the vectors."""
    return f"sqlite:///{Path(cfg.storage_dir).resolve() / 'folio.db'}"


class FolioIndex:
    """Embedder + vector store + ledger + retriever + query engine, from one IndexConfig.

    `ledger_url` is the database holding the document ledger (the app passes its own database;
    by default a SQLite file in `storage_dir`). `create_schema` makes the ledger tables when
    missing (the app leaves that to its migrations).
    """

    def __init__(
        self,
        cfg: IndexConfig,
        *,
        eager: bool = True,
        embed_model: BaseEmbedding | None = None,
        ledger_url: str | None = None,
        create_schema: bool | None = None,
        recover: bool = True,
    ) -> None:
        apply_runtime(cfg.runtime)
        check_layout(cfg)
        self.cfg = cfg
        if embed_model is not None:  # share one loaded model (tests, evals over many configs)
            self.__dict__["embed_model"] = embed_model
        self.sparse = BM25Encoder(cfg.retrieval.bm25)
        self.vector_store = open_vector_store(cfg, self.sparse)
        url = ledger_url or default_ledger_url(cfg)
        self.ledger = SqlLedger.from_url(
            url, create_schema=ledger_url is None if create_schema is None else create_schema
        )
        self.indexer = Indexer(
            model_loader=self._transforms, vector_store=self.vector_store, ledger=self.ledger
        )
        if recover:
            self.indexer.recover()
        if eager:  # a server pays the model load at start-up, not on the first request
            _ = self.engine

    @classmethod
    def from_config(cls, cfg: IndexConfig, **kwargs: Any) -> FolioIndex:
        """`FolioIndex(cfg, **kwargs)`, in LlamaIndex's constructor style."""
        return cls(cfg, **kwargs)

    @cached_property
    def embed_model(self) -> BaseEmbedding:
        """Loaded on first use, so a no-op re-index never loads the model."""
        return build_embed_model(self.cfg.embedding, self.cfg.runtime)

    @cached_property
    def parser(self) -> BookNodeParser:
        """The node parser, counting tokens with the embedder's tokenizer."""
        return BookNodeParser.from_config(
            self.cfg.chunking, tokenizer=build_tokenizer(self.embed_model)
        )

    @cached_property
    def retriever(self) -> FolioRetriever:
        """The one retriever over this store and embedder (`retrieval` in config)."""
        return FolioRetriever(
            vector_store=self.vector_store, embed_model=self.embed_model, cfg=self.cfg.retrieval
        )

    @cached_property
    def engine(self) -> FolioQueryEngine:
        """The query engine (`synthesis` in config picks its synthesizer)."""
        return FolioQueryEngine.from_config(self.cfg, retriever=self.retriever)

    def _transforms(self) -> list[TransformComponent]:
        """Parse, embed, and (extractive answers, the default) embed each chunk's sentences
        for the answerer (indexes/sentence_vectors.py)."""
        steps: list[TransformComponent] = [self.parser, self.embed_model]
        if self.cfg.synthesis.sentence_vectors == "ingest":
            steps.append(SentenceVectors(self.embed_model))
        return steps

    def close(self) -> None:
        """Release the vector store and the ledger's connections."""
        self.vector_store.close()
        self.ledger.close()

    # -- ingestion ---------------------------------------------------------------------------

    def load_source_documents(self) -> list[Document]:
        """The documents of every source listed in config."""
        return [doc for source in self.cfg.sources for doc in read_source(source)]

    def index_sources(self, progress: ProgressFn | None = None) -> IndexReport:
        """Re-index everything listed in config: add/update changed files, drop removed ones."""
        report = self.indexer.sync(
            self.load_source_documents(),
            origin=ORIGIN_CONFIG,
            delete_missing=True,
            progress=progress,
        )
        self.maybe_optimize()
        return report

    def ingest_text(
        self,
        *,
        content: str,
        chapter: str,
        source_id: str,
        book: str | None = None,
        owner: str | None = None,
        max_chunks: int | None = None,
        limits: ParseLimits | None = None,
        progress: ProgressFn | None = None,
    ) -> IndexReport:
        """Add or replace one API-ingested document (same content twice → unchanged).

        With `max_chunks`, a document that would make more chunks is refused (TooManyChunks)
        before anything is embedded: parsing is cheap, embedding is what takes minutes. With
        `limits` (untrusted text) that first parse runs under them (ContentTooComplex,
        ParseTimeout). `progress` is called as the pipeline goes (upload jobs report it)."""
        doc = make_document(
            doc_id=source_id,
            text=content,
            book=book or (self.cfg.sources[0].book if self.cfg.sources else "Ingested"),
            chapter=chapter,
            origin=ORIGIN_API,
        )
        if max_chunks is not None or limits is not None:
            chunks = len(self.parser.split_document(doc, limits))
            if max_chunks is not None and chunks > max_chunks:
                raise TooManyChunks(chunks, max_chunks)
        return self.indexer.sync(
            [doc], origin=ORIGIN_API, delete_missing=False, owner=owner, progress=progress
        )

    def ingest_documents(self, documents: Sequence[Document], origin: str) -> IndexReport:
        """Add or replace these documents (nothing else is deleted)."""
        return self.indexer.sync(documents, origin=origin, delete_missing=False)

    def delete_document(self, doc_id: str) -> bool:
        """Remove one document's points and ledger row; False if not indexed."""
        return self.indexer.delete(doc_id)

    def document(self, doc_id: str) -> LedgerEntry | None:
        """The ledger entry of one document, if indexed."""
        return self.ledger.get(doc_id)

    def documents(
        self, *, origin: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[LedgerEntry]:
        """Ledger entries, optionally of one origin, a page at a time."""
        return self.ledger.entries(origin=origin, offset=offset, limit=limit)

    def recover(self) -> RecoveryReport:
        """Settle what an interrupted write left (see Indexer.recover)."""
        return self.indexer.recover()

    def maybe_optimize(self) -> bool:
        """Build the HNSW index of the embedded store when enough points are unindexed.

        Qdrant Edge 0.9 holds the GIL while it optimises, so this runs after bulk indexing
        (never per request): until then new points are searched by brute force.
        """
        threshold = self.cfg.vector_store.optimize_after
        pending = self.vector_store.unindexed_points()
        if threshold <= 0 or pending < threshold:
            return False
        log.info("building the vector index for %d new points", pending)
        return self.vector_store.optimize()

    # -- queries and health ------------------------------------------------------------------

    def query(
        self,
        question: str,
        top_k: int | None = None,
        *,
        allow_llm: bool = True,
        embedding: list[float] | None = None,
    ) -> Answer:
        """The answer with numbered citations (see FolioQueryEngine.answer); `embedding`: the
        question's, when the caller has it already."""
        bundle = QueryBundle(question, embedding=embedding)
        return self.engine.answer(bundle, top_k, allow_llm=allow_llm)

    def stream(
        self,
        question: str,
        top_k: int | None = None,
        *,
        allow_llm: bool = True,
        embedding: list[float] | None = None,
    ) -> Iterator[str | Answer]:
        """Answer text pieces as produced, then the final Answer (see FolioQueryEngine.stream);
        `embedding`: the question's, when the caller has it already (the FAQ cache's probe)."""
        bundle = QueryBundle(question, embedding=embedding)
        return self.engine.stream(bundle, top_k=top_k, allow_llm=allow_llm)

    def condense(
        self, history: Sequence[tuple[str, str]], question: str, *, allow_llm: bool = True
    ) -> str:
        """A standalone question from (standalone question, answer) turns and a follow-up:
        the LLM's condense prompt in llm mode, the deterministic rewrite offline."""
        synth = self.engine.synthesizer
        if allow_llm and isinstance(synth, LLMCitationSynthesizer):
            return condense_with_llm(synth.llm, history, question)
        return condense_offline([q for q, _ in history], question)

    def answer_namespace(self, *, top_k: int | None, allow_llm: bool = True) -> str:
        """What a cached answer depends on: the indexed content (the ledger's version, shared
        by every replica), the retrieval/synthesis/embedding config and the answerer used."""
        import hashlib
        import json

        mode = self.engine.mode if allow_llm else "extractive"
        config = self.cfg.model_dump(
            mode="json", include={"chunking", "embedding", "retrieval", "synthesis"}
        )
        config["synthesis"].pop("api_key", None)
        config["embedding"].pop("api_key", None)
        blob = json.dumps([self.indexer.fingerprint(), config, mode, top_k], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def embed_question(self, question: str) -> tuple[list[float], Usage]:
        """The question's embedding and the tokens it cost."""
        with counting(new_counter(self.engine.tokenizer)) as counter:
            embedding = self.embed_model.get_query_embedding(question)
        return embedding, usage_of(counter)

    def point_count(self) -> int:
        """Points in the vector store."""
        return self.vector_store.count()

    def check(self) -> None:
        """Raise StoreError when the vector store is unreachable."""
        check_store(self.vector_store, self.cfg.vector_store)

    def describe(self) -> str:
        """Where the vectors live, without secrets."""
        return describe_store(self.cfg.vector_store)

    # -- backup (the storage layout is known only to indexes/backup.py) ----------------------

    def export_vectors(self, target_dir: Path) -> dict[str, Any]:
        """Write the vector store's points into `target_dir`, consistently (writes paused);
        return the export's metadata (layout, collection, embedding, counts)."""
        from indexes.backup import export_vectors

        return export_vectors(
            target_dir,
            cfg=self.cfg,
            store=self.vector_store,
            ledger=self.ledger,
            paused=self.indexer.paused(),
        )

    @staticmethod
    def import_vectors(cfg: IndexConfig, source_dir: Path) -> dict[str, Any]:
        """Put an `export_vectors` folder in place for `cfg`, whose store must be empty and
        not open; open a FolioIndex afterwards."""
        from indexes.backup import import_vectors

        return import_vectors(cfg, source_dir)
