"""Questions embedded by ONNX Runtime get the same vectors as the torch path they replace."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.integration

QUESTIONS = [
    "What is a levain?",
    "How warm should the dough be during bulk fermentation, and for how long?",
    "x",
    "Vitamin D deficiency is associated with an increased risk of multiple sclerosis. " * 30,
]


def test_onnx_query_vectors_match_torch(minilm):
    from indexes.embeddings import local_model_path
    from indexes.onnx_query import FastQueryEmbedding

    assert isinstance(minilm, FastQueryEmbedding)
    assert minilm._onnx is not None, "the default config embeds questions with ONNX Runtime"
    torch_only = FastQueryEmbedding(model_name=local_model_path(), max_length=256, device="cpu")
    for question in QUESTIONS:  # the last one is past the 256-piece window
        fast = np.array(minilm.get_query_embedding(question))
        slow = np.array(torch_only.get_query_embedding(question))
        assert fast.shape == slow.shape == (384,)
        assert np.linalg.norm(fast) == pytest.approx(1.0, abs=1e-5)
        assert float(fast @ slow) > 0.99999


def test_torch_runtime_config_skips_onnx():
    from indexes.config import EmbeddingConfig
    from indexes.embeddings import build_embed_model

    model = build_embed_model(EmbeddingConfig(query_runtime="torch"))
    assert model._onnx is None
