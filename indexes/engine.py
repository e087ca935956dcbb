"""FolioIndex: the one object that owns the RAG resources of a process.

Built once (model load, Qdrant client) and shared by the CLI, the HTTP app and notebooks.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, Document
from llama_index.vector_stores.qdrant import QdrantVectorStore
from pydantic import PrivateAttr
from qdrant_client.models import Distance, VectorParams

from indexes.bm25 import BM25Index
from indexes.condense import condense_offline, condense_with_llm
from indexes.config import IndexConfig
from indexes.embeddings import build_embed_model, build_tokenizer
from indexes.models import Answer, Usage
from indexes.parsers import BookNodeParser
from indexes.pipeline import Indexer, IndexReport, ProgressFn
from indexes.query import FolioQueryEngine
from indexes.readers import ORIGIN_API, ORIGIN_CONFIG, make_document, read_source
from indexes.runtime import apply_runtime, torch_threads
from indexes.stores import check_store, count_points, describe_store, open_qdrant, unit_vector
from indexes.synthesizer import LLMCitationSynthesizer
from indexes.usage import counting, new_counter, usage_of


class GuardedQdrantVectorStore(QdrantVectorStore):
    """Serialises writes and reads on one client: Qdrant local mode is not safe to search while
    another thread upserts. Uncontended, the lock costs microseconds.

    Stores unit vectors in a DOT collection: the ranking is exactly cosine's, but local mode no
    longer re-normalises every stored vector on each search (12 of 17 ms at 13.7k points).
    Collections made before keep their COSINE distance and keep working.
    """

    _guard: Any = PrivateAttr(default_factory=threading.RLock)

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Any:
        for node in nodes:
            if node.embedding is not None:
                node.embedding = unit_vector(node.embedding)
        with self._guard:
            return super().add(nodes, **kwargs)

    def _create_collection(self, collection_name: str, vector_size: int) -> None:
        self._dense_config = VectorParams(size=vector_size, distance=Distance.DOT)
        super()._create_collection(collection_name, vector_size)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        with self._guard:
            if not self._client.collection_exists(self.collection_name):
                return None  # nothing was ever added, so there is nothing to delete
            return super().delete(*args, **kwargs)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        with self._guard:
            return super().query(*args, **kwargs)


class FolioIndex:
    """Embedder + Qdrant + docstores + query engine, configured by one IndexConfig."""

    def __init__(
        self, cfg: IndexConfig, *, eager: bool = True, embed_model: BaseEmbedding | None = None
    ) -> None:
        apply_runtime(cfg.runtime)
        self.cfg = cfg
        if embed_model is not None:  # share one loaded model (tests, evals over many configs)
            self.__dict__["embed_model"] = embed_model
        self.client = open_qdrant(cfg.vector_store)
        self.vector_store = GuardedQdrantVectorStore(
            client=self.client,
            collection_name=cfg.vector_store.collection,
            index_doc_id=cfg.vector_store.is_server,  # payload indexes only exist on a server
        )
        # BM25 is kept for every mode (it costs about a second per 10k changed chunks), so
        # switching retrieval.mode never needs a re-index.
        self.bm25 = BM25Index(cfg.retrieval.bm25, cfg.storage_dir / "bm25")
        self.indexer = Indexer(
            model_loader=self._transforms,
            vector_store=self.vector_store,
            storage_dir=cfg.storage_dir,
            bm25=self.bm25,
        )
        if eager:  # a server pays the model load at start-up, not on the first request
            _ = self.engine

    @cached_property
    def embed_model(self) -> BaseEmbedding:
        """Loaded on first use, so a no-op re-index never loads the model."""
        return build_embed_model(self.cfg.embedding, self.cfg.runtime)

    @cached_property
    def parser(self) -> BookNodeParser:
        return BookNodeParser.from_config(
            self.cfg.chunking, tokenizer=build_tokenizer(self.embed_model)
        )

    @cached_property
    def engine(self) -> FolioQueryEngine:
        return FolioQueryEngine.from_config(
            self.cfg,
            vector_store=self.vector_store,
            embed_model=self.embed_model,
            bm25=self.bm25,
            get_chunk=self.indexer.get_chunk,
        )

    def _transforms(self) -> tuple[BookNodeParser, BaseEmbedding]:
        return self.parser, self.embed_model

    @classmethod
    def from_config(
        cls, cfg: IndexConfig, *, eager: bool = True, embed_model: BaseEmbedding | None = None
    ) -> FolioIndex:
        return cls(cfg, eager=eager, embed_model=embed_model)

    def close(self) -> None:
        self.client.close()

    # -- ingestion ---------------------------------------------------------------------------

    def load_source_documents(self) -> list[Document]:
        return [doc for source in self.cfg.sources for doc in read_source(source)]

    def index_sources(self, progress: ProgressFn | None = None) -> IndexReport:
        """Re-index everything listed in config: add/update changed files, drop removed ones."""
        with torch_threads(self.cfg.runtime.ingest_torch_threads):
            return self.indexer.sync(
                self.load_source_documents(),
                origin=ORIGIN_CONFIG,
                delete_missing=True,
                progress=progress,
            )

    def ingest_text(
        self, *, content: str, chapter: str, source_id: str, book: str | None = None
    ) -> IndexReport:
        """Add or replace one API-ingested document (same content twice → unchanged)."""
        doc = make_document(
            doc_id=source_id,
            text=content,
            book=book or (self.cfg.sources[0].book if self.cfg.sources else "Ingested"),
            chapter=chapter,
            origin=ORIGIN_API,
        )
        return self.indexer.sync([doc], origin=ORIGIN_API, delete_missing=False)

    def ingest_documents(self, documents: Sequence[Document], origin: str) -> IndexReport:
        return self.indexer.sync(documents, origin=origin, delete_missing=False)

    def delete_document(self, doc_id: str) -> bool:
        return self.indexer.delete(doc_id)

    # -- queries and health ------------------------------------------------------------------

    def query(
        self,
        question: str,
        top_k: int | None = None,
        *,
        allow_llm: bool = True,
        embedding: list[float] | None = None,
    ) -> Answer:
        return self.engine.query(question, top_k=top_k, allow_llm=allow_llm, embedding=embedding)

    def stream(
        self, question: str, top_k: int | None = None, *, allow_llm: bool = True
    ) -> Iterator[str | Answer]:
        """Answer text pieces as produced, then the final Answer (see FolioQueryEngine.stream)."""
        return self.engine.stream(question, top_k=top_k, allow_llm=allow_llm)

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
        """What a cached answer depends on: the indexed content (docstore fingerprint), the
        retrieval/synthesis/embedding config and the answerer actually used."""
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
        return count_points(self.client, self.cfg.vector_store.collection)

    def check(self) -> None:
        """Raise StoreError when the vector store is unreachable."""
        check_store(self.client, self.cfg.vector_store)

    def describe(self) -> str:
        return describe_store(self.cfg.vector_store)

    # -- backup (the storage layout is known only to indexes/backup.py) ----------------------

    def export_vectors(self, target_dir: Path) -> dict[str, Any]:
        """Write vectors and retrieval state into `target_dir`, consistently; return the
        export's metadata (layout, collection, embedding, counts)."""
        from indexes.backup import export_vectors

        return export_vectors(self, target_dir)

    @staticmethod
    def import_vectors(cfg: IndexConfig, source_dir: Path) -> dict[str, Any]:
        """Put an `export_vectors` folder in place for `cfg`, whose store must be empty and
        not open; open a FolioIndex afterwards."""
        from indexes.backup import import_vectors

        return import_vectors(cfg, source_dir)
