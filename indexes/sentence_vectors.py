"""Sentence vectors computed at ingest, so answering needs no model call for them.

The extractive answerer scores every candidate sentence of the retrieved passages by its MiniLM
similarity to the question (indexes/synthesizer.py). Embedding ~12 sentences per answer was
most of an answer's cost (52 of 60 ms on SciFact, int8, one core) and made throughput depend on
how often passages repeat. `SentenceVectors` is an ingestion transform that embeds each chunk's
sentences once, in the same length-sorted batches as the chunks, and keeps them on the chunk
(the point's payload in Qdrant): the answerer reads them with the passage. They are the very
vectors the answerer would compute (same model, same sentence split), stored as int8 with a
per-vector scale (cosine to the float vector > 0.9999), so answers do not change.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, TransformComponent
from pydantic import PrivateAttr

KEY = "sentence_vectors"  # chunk metadata: {sentence key: encoded unit vector}


def sentence_key(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def encode_vector(vector: np.ndarray) -> str:
    """int8 with one float32 scale in front, base64: 4 + 384 bytes for MiniLM."""
    scale = float(np.max(np.abs(vector))) or 1.0
    q = np.clip(np.round(vector / scale * 127.0), -127, 127).astype(np.int8)
    return base64.b64encode(np.float32(scale).tobytes() + q.tobytes()).decode()


def decode_vector(data: str) -> np.ndarray:
    raw = base64.b64decode(data)
    scale = np.frombuffer(raw[:4], dtype=np.float32)[0]
    vector = np.frombuffer(raw[4:], dtype=np.int8).astype(np.float32) * (scale / 127.0)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


class StoredVectors(Mapping[str, np.ndarray]):
    """sentence key -> unit vector, decoded on first access: an answer reads the ~12 candidate
    sentences it scores, not every sentence of the ten passages (decoding all of them was 4 %
    of a loaded server's time)."""

    def __init__(self, encoded: dict[str, str]) -> None:
        self._encoded = encoded
        self._decoded: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        vector = self._decoded.get(key)
        if vector is None:
            vector = self._decoded[key] = decode_vector(self._encoded[key])
        return vector

    def __iter__(self) -> Iterator[str]:
        return iter(self._encoded)

    def __len__(self) -> int:
        return len(self._encoded)


def stored_vectors(nodes: Sequence[NodeWithScore | BaseNode]) -> StoredVectors:
    """The sentence vectors the chunks carry (decoded lazily)."""
    encoded: dict[str, str] = {}
    for item in nodes:
        node = item.node if isinstance(item, NodeWithScore) else item
        encoded.update(node.metadata.get(KEY) or {})
    return StoredVectors(encoded)


class SentenceVectors(TransformComponent):
    """Ingestion transform: puts the vectors of each chunk's sentences on the chunk."""

    _embed_model: BaseEmbedding = PrivateAttr()
    _split: Any = PrivateAttr()

    def __init__(self, embed_model: BaseEmbedding, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from indexes.text import split_sentences  # the answerer's own split

        self._embed_model = embed_model
        self._split = split_sentences

    @classmethod
    def class_name(cls) -> str:
        return "SentenceVectors"

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        per_node = [self._split(n.get_content(metadata_mode=MetadataMode.NONE)) for n in nodes]
        unique = list(dict.fromkeys(s for sentences in per_node for s in sentences))
        vectors: dict[str, np.ndarray] = {}
        if unique:
            # ONNX MiniLM batches sentences by word pieces (embed_sentences); others: LlamaIndex
            embed = getattr(self._embed_model, "embed_sentences", None)
            if embed is None:
                embed = self._embed_model.get_text_embedding_batch
            rows = np.asarray(embed(unique), np.float32)
            rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
            vectors = dict(zip(unique, rows, strict=True))
        for node, sentences in zip(nodes, per_node, strict=True):
            node.metadata[KEY] = {sentence_key(s): encode_vector(vectors[s]) for s in sentences}
            for excluded in (node.excluded_embed_metadata_keys, node.excluded_llm_metadata_keys):
                if KEY not in excluded:
                    excluded.append(KEY)
        return nodes
