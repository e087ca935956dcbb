"""Embedding model factory: local MiniLM on ONNX Runtime (offline default, no torch), the same
model in sentence-transformers (torch), OpenAI-compatible, or a mock for unit tests."""

from __future__ import annotations

from collections.abc import Callable

from llama_index.core.base.embeddings.base import BaseEmbedding

from indexes.config import EmbeddingConfig, RuntimeConfig
from indexes.extras import require_extra
from indexes.onnx_model import local_model_path
from indexes.runtime import offline_hub  # noqa: F401  (sets HF offline flags before HF imports)


def build_embed_model(cfg: EmbeddingConfig, runtime: RuntimeConfig | None = None) -> BaseEmbedding:
    """One embedder per process: loading a model costs ~1 s, so never build one per request."""
    runtime = runtime or RuntimeConfig()
    match cfg.provider:
        case "local" if cfg.runtime == "onnx":
            from indexes.onnx_embedding import OnnxEmbedding

            return OnnxEmbedding(
                model_dir=str(local_model_path()),
                max_length=cfg.max_length,
                precision=cfg.precision,
                query_threads=runtime.query_threads,
                ingest_threads=runtime.ingest_threads,
                run_batch=cfg.batch_size,
                cache_dir=cfg.onnx_cache,
            )
        case "local":
            require_extra("export", "embedding.runtime: torch")
            from llama_index.embeddings.huggingface import HuggingFaceEmbedding

            from indexes.runtime import pin_torch_threads

            pin_torch_threads(runtime.query_threads)
            return HuggingFaceEmbedding(
                model_name=str(local_model_path()),
                embed_batch_size=cfg.batch_size,
                max_length=cfg.max_length,
                device="cpu",
            )
        case "openai":
            from llama_index.embeddings.openai import OpenAIEmbedding

            kwargs: dict[str, object] = {"model": cfg.model, "embed_batch_size": cfg.batch_size}
            if cfg.api_key is not None:
                kwargs["api_key"] = cfg.api_key.get_secret_value()
            if cfg.api_base is not None:
                kwargs["api_base"] = str(cfg.api_base)
            if cfg.dimensions is not None:
                kwargs["dimensions"] = cfg.dimensions
            return OpenAIEmbedding(**kwargs)
        case "mock":
            from llama_index.core.embeddings import MockEmbedding

            return MockEmbedding(embed_dim=cfg.dimensions or 8)
    raise ValueError(f"unknown embedding provider {cfg.provider!r}")


def build_tokenizer(embed_model: BaseEmbedding) -> Callable[[str], list] | None:
    """The embedder's own word pieces, so chunk sizes are counted in the units its window uses
    (None: LlamaIndex's default tokenizer)."""
    word_pieces = getattr(embed_model, "word_pieces", None)
    if word_pieces is not None:
        return word_pieces
    model = getattr(embed_model, "_model", None)
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        return None
    return tokenizer.tokenize
