"""Typed models for the RAG half of `config.yaml` (sources → chunks → vectors → answers).

They live here, not in `app/`, so a notebook can build an index from the same file the server
reads. Unknown keys are errors: a typo in config must stop start-up, not be silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, model_validator


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class SourceConfig(StrictModel):
    """One group of files to index: which files, how to read them, which book they belong to."""

    name: str = Field(min_length=1, description="Stable name of this source; part of document ids")
    path: Path = Field(description="Folder the globs are resolved against")
    globs: list[str] = Field(default_factory=lambda: ["**/*.md"], min_length=1)
    reader: Literal["markdown", "text", "pdf", "html"] = "markdown"
    book: str = Field(min_length=1, description="Book title stored on every chunk")
    chapter_from: Literal["heading", "filename"] = Field(
        default="heading", description="Chapter title: first H1 of the file, or the file name"
    )


class ChunkingConfig(StrictModel):
    """Markdown headings first (sections), then sentence windows in the embedder's tokens."""

    split_headings: bool = True
    chunk_size: int = Field(default=200, ge=32, le=8192)
    chunk_overlap: int = Field(default=30, ge=0)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class EmbeddingConfig(StrictModel):
    """Which embedder turns chunks and questions into vectors."""

    provider: Literal["local", "openai", "mock"] = "local"
    model: str = "all-MiniLM-L6-v2"
    batch_size: int = Field(default=8, ge=1, le=2048, description="texts per model call")
    dimensions: int | None = Field(default=None, ge=1)
    api_key: SecretStr | None = None
    api_base: HttpUrl | None = None
    max_length: int = Field(default=256, ge=16, description="Model window in word pieces")
    runtime: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="local only: ONNX Runtime (no torch in the server) or sentence-transformers",
    )
    precision: Literal["fp32", "int8"] = Field(
        default="int8",
        description="onnx only: int8 = dynamic quantisation (2x faster; see docs/evals.md)",
    )
    onnx_cache: Path | None = Field(
        default=None, description="where the ONNX export is kept (default: <venv>/share/folio)"
    )


class VectorStoreConfig(StrictModel):
    """Qdrant: the embedded engine (Qdrant Edge) on disk by `path`, or a server/cluster by `url`."""

    path: Path | None = Path("storage/vectors")
    url: HttpUrl | None = None
    api_key: SecretStr | None = None
    collection: str = Field(default="folio", pattern=r"^[A-Za-z0-9_\-]+$")
    timeout_s: float = Field(default=5.0, gt=0)
    shard_number: int | None = Field(default=None, ge=1, description="server: shards")
    replication_factor: int | None = Field(default=None, ge=1, description="server: replicas")
    optimize_after: int = Field(
        default=2000,
        ge=0,
        description="embedded: build HNSW after a bulk index once this many points are unindexed",
    )

    @property
    def is_server(self) -> bool:
        return self.url is not None


class BM25Config(StrictModel):
    """BM25 as sparse vectors in Qdrant (IDF applied by Qdrant); the same config encodes chunks
    and questions. Shape of Qdrant's own BM25 config (k, b, avg_len, language)."""

    k1: float = Field(default=1.2, gt=0)
    b: float = Field(default=0.75, ge=0.0, le=1.0)
    avg_len: float = Field(default=75.0, gt=0, description="typical chunk length in tokens")
    language: str = Field(default="english", description="stemmer and stopwords")


class FusionConfig(StrictModel):
    """How `hybrid` merges the dense and BM25 rankings of chunks.

    rrf: sum of weight / (rrf_k + rank), inside Qdrant. dbsf: Qdrant's distribution-based score
    fusion (each list normalised by its mean ± 3 sigma, then summed; no weights). convex:
    weighted sum of each list's scores after min-max normalisation over that list (a chunk
    missing from a list scores 0 there), computed by Folio over both lists' ids.
    """

    method: Literal["rrf", "dbsf", "convex"] = "rrf"
    dense_weight: float = Field(default=1.0, ge=0.0)
    bm25_weight: float = Field(default=1.0, ge=0.0)
    rrf_k: int = Field(default=60, ge=1)
    candidates: int = Field(
        default=100, ge=1, le=1000, description="Chunks taken from each retriever before fusion"
    )

    @model_validator(mode="after")
    def _some_weight(self) -> FusionConfig:
        if self.dense_weight + self.bm25_weight <= 0:
            raise ValueError("dense_weight and bm25_weight cannot both be 0")
        return self


class RetrievalConfig(StrictModel):
    """Which retriever, how many passages to fetch and how similar they must be to count."""

    mode: Literal["dense", "bm25", "hybrid"] = "dense"
    top_k: int = Field(default=5, ge=1, le=50)
    similarity_cutoff: float = Field(
        default=0.25, ge=-1.0, le=1.0, description="Cosine floor for dense hits (dense, hybrid)"
    )
    bm25: BM25Config = BM25Config()
    fusion: FusionConfig = FusionConfig()


class SynthesisConfig(StrictModel):
    """Turning passages into an answer: extractive offline, or an (OpenAI-compatible) LLM."""

    mode: Literal["auto", "extractive", "llm"] = Field(
        default="auto", description="auto = llm when an API key is set, else extractive"
    )
    max_citations: int = Field(default=5, ge=1, le=20)
    max_sentences: int = Field(
        default=3, ge=1, le=20, description="extractive: at most this many sentences"
    )
    answer_threshold: float = Field(
        default=0.958,
        ge=-2.0,
        le=4.0,
        description="extractive: below this best-sentence score the answer is 'not found'",
    )
    candidate_sentences: int = Field(
        default=12, ge=1, le=200, description="extractive: sentences embedded (one batch)"
    )
    sentence_vectors: Literal["ingest", "query"] = Field(
        default="ingest",
        description="extractive: embed chunk sentences at ingest (stored with the chunk) or "
        "per answer",
    )
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    api_base: HttpUrl | None = None
    temperature: float = Field(default=0.1, ge=0.0, le=2.0)
    timeout_s: float = Field(default=60.0, gt=0)
    prompt: str = Field(
        default=(
            "You answer questions about the book using only the numbered sources below.\n"
            "Cite every claim with the number of its source in square brackets, like [1] or "
            "[2][3]. If the sources do not contain the answer, say you don't know.\n\n"
            "Sources:\n{sources}\n\nQuestion: {question}\nAnswer:"
        ),
        description="Prompt template with {sources} and {question}",
    )
    no_answer: str = "I could not find anything in the indexed content that answers this question."

    @property
    def effective_mode(self) -> Literal["extractive", "llm"]:
        if self.mode == "auto":
            return "llm" if self.api_key is not None else "extractive"
        return self.mode

    @model_validator(mode="after")
    def _prompt_has_slots(self) -> SynthesisConfig:
        for slot in ("{sources}", "{question}"):
            if slot not in self.prompt:
                raise ValueError(f"prompt must contain {slot}")
        return self


class RuntimeConfig(StrictModel):
    """Thread pools, set once: on 2 cores, pools that each grab every core cost 4-5x latency."""

    query_threads: int = Field(default=1, ge=1, le=64, description="model threads per question")
    ingest_threads: int = Field(
        default=2, ge=1, le=64, description="bulk: batches embedded side by side, a thread each"
    )
    blas_threads: int = Field(default=1, ge=1, le=64)


class IndexConfig(StrictModel):
    """The RAG part of config.yaml."""

    storage_dir: Path = Path("storage")
    sources: list[SourceConfig] = Field(default_factory=list)
    chunking: ChunkingConfig = ChunkingConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()
    vector_store: VectorStoreConfig = VectorStoreConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    synthesis: SynthesisConfig = SynthesisConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    @model_validator(mode="after")
    def _unique_source_names(self) -> IndexConfig:
        names = [s.name for s in self.sources]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"source names must be unique, repeated: {sorted(duplicates)}")
        return self
