"""Questions embedded by ONNX Runtime, chunks by sentence-transformers: same vectors, half the
latency.

One MiniLM forward pass for a ~20-piece question takes ~14 ms in torch on one thread here and
~7 ms in ONNX Runtime, which is most of a dense search. The graph is exported in memory from the
very model sentence-transformers loaded (no file, no download), and a test pins the two paths
to the same vectors. Bulk embedding keeps torch, whose thread count `folio index` raises.

sentence-transformers' own ONNX backend needs `optimum`, whose releases pin transformers < 5
(incompatible with the sentence-transformers in use), hence this small exporter.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from pydantic import PrivateAttr

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxQueryEncoder:
    """Mean-pooled, L2-normalised embedding of one text by an ONNX copy of a BERT encoder."""

    def __init__(self, transformer: Any, tokenizer: Any, max_length: int, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            export_encoder(transformer), options, providers=["CPUExecutionProvider"]
        )
        self._names = {i.name for i in self._session.get_inputs()}
        self._tokenizer = tokenizer
        self._max_length = max_length

    def encode(self, text: str) -> list[float]:
        enc = self._tokenizer(
            text, return_tensors="np", truncation=True, max_length=self._max_length
        )
        feeds = {k: enc[k].astype(np.int64) for k in _INPUTS if k in self._names and k in enc}
        hidden = self._session.run(None, feeds)[0]
        mask = enc["attention_mask"][..., None].astype(hidden.dtype)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        vector = pooled[0]
        return (vector / max(float(np.linalg.norm(vector)), 1e-12)).tolist()


def export_encoder(transformer: Any) -> bytes:
    """The Hugging Face encoder as ONNX bytes, with dynamic batch and sequence axes."""
    import torch

    class _Encoder(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = torch.ones((1, 8), dtype=torch.long)
    buffer = io.BytesIO()
    was_training = transformer.training
    transformer.eval()  # dropout off in the exported graph
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # exporter notes on ops this graph does not hit
            torch.onnx.export(
                _Encoder(transformer),
                (example, example, torch.zeros_like(example)),
                buffer,
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*_INPUTS, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
    finally:
        transformer.train(was_training)
    return buffer.getvalue()


class FastQueryEmbedding(HuggingFaceEmbedding):
    """HuggingFaceEmbedding whose single-question path runs on ONNX Runtime.

    Only for mean-pooled, normalised models without query prompts (all-MiniLM-L6-v2); anything
    else should use plain HuggingFaceEmbedding (`embedding.query_runtime: torch`).
    """

    _onnx: OnnxQueryEncoder | None = PrivateAttr(default=None)

    def enable_onnx(self, threads: int) -> None:
        st_model = self._model
        self._onnx = OnnxQueryEncoder(
            st_model[0].auto_model, st_model.tokenizer, self.max_length, threads
        )

    @classmethod
    def class_name(cls) -> str:
        return "FastQueryEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        if self._onnx is None:
            return super()._get_query_embedding(query)
        return self._onnx.encode(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
