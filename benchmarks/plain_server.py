"""The plain-LlamaIndex baseline server: what the LlamaIndex tutorial gives for the same corpus.

VectorStoreIndex with LlamaIndex's defaults (SentenceSplitter), all-MiniLM-L6-v2 through
HuggingFaceEmbedding (torch), one torch and one BLAS thread, and a FastAPI `POST /query` that
returns the top 5 chunks (no answer text, no accounts, no limits, no logs). The store is
`QdrantVectorStore` on Qdrant local mode (`--store qdrant`, default: the design card's store,
searched by numpy) or the tutorial's `SimpleVectorStore` (`--store simple`, which rebuilds a
numpy matrix of every vector per question: ~100 ms at SciFact's 5.2k chunks, a weaker baseline).

    .venv/bin/python benchmarks/plain_server.py --corpus scifact --port 8101 [--store qdrant]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pydantic import BaseModel  # noqa: E402  (module level: FastAPI resolves the annotation)


class Question(BaseModel):
    query: str


def build_app(corpus: str, cache: Path, store: str = "qdrant"):  # type: ignore[no-untyped-def]
    from fastapi import FastAPI
    from llama_index.core import Settings, StorageContext, VectorStoreIndex, load_index_from_storage
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from threadpoolctl import threadpool_limits

    from evals.datasets import load_dataset
    from indexes.onnx_model import local_model_path

    threadpool_limits(1, user_api="blas")
    import torch

    # one thread per request: under concurrency torch's default (all cores per call) thrashes,
    # and the baseline should be the tutorial wrapper at its best, not a strawman
    torch.set_num_threads(1)
    Settings.embed_model = HuggingFaceEmbedding(model_name=str(local_model_path()), device="cpu")
    Settings.llm = None
    if store == "qdrant":
        from llama_index.vector_stores.qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient

        built = (cache / "built").is_file()
        client = QdrantClient(path=str(cache / "qdrant"))
        vector_store = QdrantVectorStore(client=client, collection_name="plain")
        if built:
            index = VectorStoreIndex.from_vector_store(vector_store)
        else:
            documents = load_dataset(corpus, split="dev").documents()
            context = StorageContext.from_defaults(vector_store=vector_store)
            index = VectorStoreIndex.from_documents(
                documents, storage_context=context, show_progress=True
            )
            (cache / "built").write_text("ok")
    elif (cache / "docstore.json").is_file():
        index = load_index_from_storage(StorageContext.from_defaults(persist_dir=str(cache)))
    else:
        documents = load_dataset(corpus, split="dev").documents()
        index = VectorStoreIndex.from_documents(documents, show_progress=True)
        index.storage_context.persist(persist_dir=str(cache))
    retriever = index.as_retriever(similarity_top_k=5)
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        return {"status": "healthy"}

    @app.post("/query")
    def query(body: Question) -> dict:
        nodes = retriever.retrieve(body.query)
        return {"sources": [{"text": n.get_content(), "score": n.score} for n in nodes]}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="scifact")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--cache", type=Path, default=REPO / ".folio-cache" / "bench")
    parser.add_argument("--store", choices=["qdrant", "simple"], default="qdrant")
    args = parser.parse_args()
    suffix = "" if args.store == "simple" else f"-{args.store}"
    app = build_app(args.corpus, args.cache / f"plain-{args.corpus}{suffix}", args.store)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
