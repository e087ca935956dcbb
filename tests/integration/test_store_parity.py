"""Both vector stores implement one protocol and run one search plan (indexes/collection.py):
the embedded Qdrant Edge store and the server store (here over qdrant-client's local mode, the
same `QdrantClient` API without a server) return the same chunks with the same scores, in
every retrieval mode and fusion, with and without the dense cutoff, and agree on the ledger's
reconciliation reads and deletes."""

from __future__ import annotations

import copy

import pytest
from qdrant_client import QdrantClient

from indexes.config import BM25Config, ChunkingConfig, FusionConfig, RetrievalConfig
from indexes.edge_store import EdgeVectorStore
from indexes.parsers import BookNodeParser
from indexes.readers import make_document
from indexes.retriever import FolioRetriever
from indexes.server_store import ServerVectorStore
from indexes.sparse import BM25Encoder
from indexes.store_protocol import FolioVectorStore
from tests.utils.builders import SAMPLE_BOOK
from tests.utils.embeddings import BagOfWordsEmbedding

pytestmark = pytest.mark.integration

QUESTIONS = ("How long does bulk fermentation take?", "What is a banneton?", "zzz qqq xyzzy")
SEARCHES = [
    ("dense", "rrf"),
    ("bm25", "rrf"),
    ("hybrid", "convex"),
    ("hybrid", "rrf"),
    ("hybrid", "dbsf"),
]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    model = BagOfWordsEmbedding()
    parser = BookNodeParser.from_config(ChunkingConfig(chunk_size=128, chunk_overlap=16))
    nodes = []
    for path in sorted(SAMPLE_BOOK.glob("*.md")):
        doc = make_document(
            doc_id=path.name, text=path.read_text(), book="B", chapter=path.stem, origin="config"
        )
        nodes += parser.split_document(doc)
    texts = [n.get_content(metadata_mode="embed") for n in nodes]
    for node, vector in zip(nodes, model.get_text_embedding_batch(texts), strict=True):
        node.embedding = vector
    bm25 = BM25Encoder(BM25Config())
    edge = EdgeVectorStore(path=tmp_path_factory.mktemp("edge") / "vectors", sparse=bm25)
    server = ServerVectorStore(
        client=QdrantClient(location=":memory:"), collection_name="parity", sparse=bm25
    )
    for store in (edge, server):
        store.add([copy.deepcopy(n) for n in nodes])
    yield model, edge, server, nodes
    edge.close()
    server.close()


def test_both_stores_implement_the_protocol(stores):
    _, edge, server, nodes = stores
    assert isinstance(edge, FolioVectorStore) and isinstance(server, FolioVectorStore)
    assert edge.count() == server.count() == len(nodes)


@pytest.mark.parametrize("cutoff", [0.0, 0.3])
@pytest.mark.parametrize(("mode", "fusion"), SEARCHES)
def test_both_stores_find_the_same_chunks_with_the_same_scores(stores, mode, fusion, cutoff):
    model, edge, server, _ = stores
    cfg = RetrievalConfig(
        mode=mode, top_k=5, similarity_cutoff=cutoff, fusion=FusionConfig(method=fusion)
    )
    found = []
    for question in QUESTIONS:
        results = []
        for store in (edge, server):
            hits = FolioRetriever(vector_store=store, embed_model=model, cfg=cfg).retrieve(question)
            results.append([(h.node.node_id, round(h.score or 0.0, 4)) for h in hits])
        assert results[0] == results[1], (mode, fusion, cutoff, question)
        found.append(bool(results[0]))
    # a question with no known word: no bm25 list; the dense cutoff gate refuses it
    assert found[:2] == [True, True]
    assert found[2] is (mode != "bm25" and cutoff == 0.0)


def test_both_stores_agree_on_the_ledgers_reads_and_deletes(stores):
    _, edge, server, nodes = stores
    doc = nodes[0].ref_doc_id
    assert doc is not None
    chunk_ids = [n.node_id for n in nodes if n.ref_doc_id == doc]
    for store in (edge, server):
        assert store.point_ids() == {n.node_id for n in nodes}
        assert store.count_doc(doc) == len(chunk_ids)
        assert sorted(n.node_id for n in store.doc_nodes(doc)) == sorted(chunk_ids)
        assert sorted(n.node_id for n in store.get_nodes(chunk_ids[:2])) == sorted(chunk_ids[:2])
    assert edge.doc_counts() == server.doc_counts()
    for store in (edge, server):
        store.delete_except(doc, chunk_ids[:1])
        assert store.count_doc(doc) == 1
        store.delete(doc)
        assert store.count_doc(doc) == 0 and doc not in store.doc_counts()
    assert edge.point_ids() == server.point_ids()
