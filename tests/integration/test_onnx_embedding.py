"""MiniLM on ONNX Runtime gives the vectors of sentence-transformers (torch), for questions and
for chunks, batched or not, padded or not; and serving never imports torch."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.utils.builders import REPO

pytestmark = pytest.mark.integration

TEXTS = [
    "What is a levain?",
    "How warm should the dough be during bulk fermentation, and for how long?",
    "x",
    "Vitamin D deficiency is associated with an increased risk of multiple sclerosis. " * 30,
]


@pytest.fixture(scope="module")
def torch_model():
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from indexes.onnx_model import local_model_path

    return HuggingFaceEmbedding(model_name=str(local_model_path()), max_length=256, device="cpu")


@pytest.fixture(scope="module")
def fp32():
    from indexes.onnx_embedding import OnnxEmbedding
    from indexes.onnx_model import local_model_path

    return OnnxEmbedding(model_dir=str(local_model_path()), precision="fp32")


def test_default_config_embeds_with_onnx_int8(minilm):
    from indexes.onnx_embedding import OnnxEmbedding

    assert isinstance(minilm, OnnxEmbedding) and minilm.precision == "int8"


def test_question_and_chunk_vectors_match_torch(fp32, torch_model):
    batch = np.array(fp32.get_text_embedding_batch(TEXTS * 3))  # length-sorted inside
    for i, text in enumerate(TEXTS):  # the last one is past the 256-piece window
        fast = np.array(fp32.get_query_embedding(text))
        slow = np.array(torch_model.get_query_embedding(text))
        assert fast.shape == slow.shape == (384,)
        assert np.linalg.norm(fast) == pytest.approx(1.0, abs=1e-5)
        assert float(fast @ slow) > 0.99999
        for row in (i, i + len(TEXTS), i + 2 * len(TEXTS)):
            assert float(batch[row] @ slow) > 0.99999  # input order kept, padding masked


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_concurrent_questions_get_their_own_vectors(precision, minilm, fp32):
    """The micro-batcher embeds questions from many threads in shared calls: each caller must
    still get the vector of its own question. fp32 is exact whatever the batchmates; int8
    quantises activations with one scale per call, so a vector moves a little with its
    batchmates (as much as int8 moves from fp32), but must stay nearest its own question."""
    model = fp32 if precision == "fp32" else minilm
    questions = [f"How long does step {i} of the bread take?" for i in range(24)]
    expected = np.array([model.get_query_embedding(q) for q in questions])
    with ThreadPoolExecutor(max_workers=12) as pool:
        got = np.array(list(pool.map(model.get_query_embedding, questions * 2)))
    own = np.tile(np.arange(len(questions)), 2)
    similarity = got @ expected.T
    assert (similarity.argmax(axis=1) == own).all()
    floor = 0.99999 if precision == "fp32" else 0.99
    assert (similarity[np.arange(len(own)), own] > floor).all()


def test_bulk_lanes_give_every_text_its_own_vector(minilm):
    """Bulk batches run side by side on several threads; every row must still be its own
    text's vector, identical to running the same batches one after another."""
    from indexes.onnx_embedding import OnnxEncoder

    encoder = OnnxEncoder(minilm._model_file, minilm.tokenizer, 1)
    texts = [f"Chapter {i}: " + "the dough rests and rises " * (1 + i % 9) for i in range(70)]
    in_order = encoder.encode_sorted(texts, 8, lanes=1)
    side_by_side = encoder.encode_sorted(texts, 8, lanes=2)
    assert np.array_equal(in_order, side_by_side)
    assert (np.argmax(side_by_side @ in_order.T, axis=1) == np.arange(len(texts))).all()
    alone = encoder.encode([texts[5]])[0]
    assert float(side_by_side[5] @ alone) > 0.99


def test_sentences_batched_by_word_pieces_keep_their_rows(fp32):
    """Sentences are batched by word pieces, not characters (code has far fewer characters
    per piece than prose). fp32 does not depend on batchmates, so every row must equal the
    character-batched one: a row given to the wrong text would not."""
    prose = [f"The dough rests for {i} minutes before shaping." for i in range(20)]
    code = [f"let x{i} = vec![{i}, {i + 1}]; x{i}.iter().map(|v| v * 2);" for i in range(20)]
    texts = [t for pair in zip(prose, code, strict=True) for t in pair]
    by_chars = fp32._query.encode_sorted(texts, 8)
    by_pieces = fp32._query.encode_sorted(texts, 8, by_pieces=True)
    assert np.allclose(by_chars, by_pieces, atol=1e-5)
    bulk = fp32.embed_sentences(texts)  # more than SMALL_BATCH: the bulk lanes
    assert np.allclose(bulk, by_chars, atol=1e-5)


def test_int8_precision_stays_close_to_fp32(minilm, fp32):
    for text in TEXTS[:2]:
        a = np.array(minilm.get_query_embedding(text))  # the shipped int8 model
        b = np.array(fp32.get_query_embedding(text))
        assert 0.95 < float(a @ b) < 0.99999  # quantised: close, not identical


def test_serving_path_never_imports_torch(tmp_path, book_dir):
    """Building the app's index (model, store, ledger) and answering must not load torch:
    it costs ~1 GB of memory and seconds of start-up."""
    from tests.utils.builders import write_config

    config = write_config(tmp_path, book_dir)
    script = (
        "import sys\n"
        "from app.core.settings import load_settings\n"
        "from indexes.folio_index import FolioIndex\n"
        f"folio = FolioIndex(load_settings({str(config)!r}, environ={{}}).index)\n"
        "folio.index_sources()\n"
        "assert folio.query('What is a levain?').found\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_torch_runtime_is_still_available():
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from indexes.config import EmbeddingConfig
    from indexes.embeddings import build_embed_model

    assert isinstance(build_embed_model(EmbeddingConfig(runtime="torch")), HuggingFaceEmbedding)
