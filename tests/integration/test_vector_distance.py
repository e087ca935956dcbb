"""Folio stores unit vectors in a DOT space: the same ranking as cosine, without the engine
re-normalising stored points on every search."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.integration


def _stored(folio) -> tuple[list[str], np.ndarray]:
    ids = sorted(folio.vector_store.point_ids())
    records = folio.vector_store.client.retrieve(ids, False, ["dense"])
    by_id = {str(r.id): r.vector["dense"] for r in records}
    return ids, np.array([by_id[i] for i in ids], dtype=np.float64)


def test_stored_vectors_are_unit_length(folio):
    folio.index_sources()
    _, vectors = _stored(folio)
    assert len(vectors) > 20
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_dense_ranking_equals_brute_force_cosine(tmp_path, book_dir, minilm):
    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex
    from indexes.retriever import FolioRetriever
    from tests.utils.builders import write_config

    config = write_config(tmp_path, book_dir, retrieval={"mode": "dense"})
    folio = FolioIndex.from_config(load_settings(config, environ={}).index, embed_model=minilm)
    try:
        folio.index_sources()
        ids, vectors = _stored(folio)
        question = "How warm should the dough be during bulk fermentation?"
        query = np.array(minilm.get_query_embedding(question)) * 3.0  # not unit length
        cosine = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
        expected = [ids[i] for i in np.argsort(-cosine)[:8]]
        retriever = FolioRetriever(
            vector_store=folio.vector_store, embed_model=minilm, cfg=folio.cfg.retrieval, k=8
        )
        retriever.use_cutoff = False
        hits = retriever.retrieve(_bundle(question, query.tolist()))
        assert [h.node.node_id for h in hits] == expected
        assert hits[0].score == pytest.approx(float(cosine.max()), abs=1e-5)
    finally:
        folio.close()


def test_unit_vector_leaves_zero_and_unit_vectors_alone():
    from indexes.collection import unit_vector

    assert unit_vector([0.0, 0.0]) == [0.0, 0.0]
    assert unit_vector([3.0, 4.0]) == pytest.approx([0.6, 0.8])
    assert unit_vector([0.6, 0.8]) == [0.6, 0.8]


def _bundle(text: str, embedding: list[float]):
    from llama_index.core.schema import QueryBundle

    return QueryBundle(text, embedding=embedding)
