"""LLM factory: an OpenAI or OpenAI-compatible chat model, chosen by config, built once."""

from __future__ import annotations

from llama_index.core.llms import LLM

from indexes.config import SynthesisConfig


def build_llm(cfg: SynthesisConfig) -> LLM:
    """OpenAI when `api_base` is unset; any OpenAI-compatible server (vLLM, Ollama…) otherwise."""
    api_key = cfg.api_key.get_secret_value() if cfg.api_key else "not-needed"
    common = {
        "model": cfg.model,
        "api_key": api_key,
        "temperature": cfg.temperature,
        "timeout": cfg.timeout_s,
        "max_retries": 1,
        # Streamed answers end with a chunk carrying the server's token counts (OpenAI's
        # stream_options; LlamaIndex drops it from requests that do not stream).
        "additional_kwargs": {"stream_options": {"include_usage": True}},
    }
    if cfg.api_base is None:
        from llama_index.llms.openai import OpenAI

        return OpenAI(**common)
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        **common, api_base=str(cfg.api_base), is_chat_model=True, context_window=32768
    )
