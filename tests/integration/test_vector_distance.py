"""Folio stores unit vectors in a DOT collection: same ranking as cosine, without local mode
re-normalising the whole collection on every search."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client.models import Distance

pytestmark = pytest.mark.integration


def _stored(folio) -> tuple[list[str], np.ndarray]:
    points, _ = folio.client.scroll(
        folio.cfg.vector_store.collection, limit=10_000, with_vectors=True
    )
    return [str(p.id) for p in points], np.array([p.vector for p in points], dtype=np.float64)


def test_new_collections_use_dot_with_unit_vectors(folio):
    folio.index_sources()
    info = folio.client.get_collection(folio.cfg.vector_store.collection)
    assert info.config.params.vectors.distance == Distance.DOT
    _, vectors = _stored(folio)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_dense_ranking_equals_brute_force_cosine(folio, minilm):
    folio.index_sources()
    ids, vectors = _stored(folio)
    question = "How warm should the dough be during bulk fermentation?"
    query = np.array(minilm.get_query_embedding(question)) * 3.0  # not unit length on purpose
    cosine = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    expected = [ids[i] for i in np.argsort(-cosine)[:8]]
    hits = folio.engine._dense(_bundle(question, query.tolist()), 8, None)
    assert [h.node_id for h in hits] == expected
    assert hits[0].score == pytest.approx(float(cosine.max()), abs=1e-5)


def test_unit_vector_leaves_zero_and_unit_vectors_alone():
    from indexes.stores import unit_vector

    assert unit_vector([0.0, 0.0]) == [0.0, 0.0]
    assert unit_vector([3.0, 4.0]) == pytest.approx([0.6, 0.8])
    assert unit_vector([0.6, 0.8]) == [0.6, 0.8]


def _bundle(text: str, embedding: list[float]):
    from llama_index.core.schema import QueryBundle

    return QueryBundle(text, embedding=embedding)
