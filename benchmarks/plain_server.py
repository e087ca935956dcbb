"""The plain-LlamaIndex baseline server: what the LlamaIndex tutorial gives for the same corpus.

VectorStoreIndex with LlamaIndex's defaults (SentenceSplitter, SimpleVectorStore persisted to
disk), all-MiniLM-L6-v2 through HuggingFaceEmbedding (torch), one torch and one BLAS thread,
and a FastAPI `POST /query` that returns the top 5 chunks (no answer text, no accounts, no
limits, no logs).

    .venv/bin/python benchmarks/plain_server.py --corpus scifact --port 8101
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


def build_app(corpus: str, cache: Path):  # type: ignore[no-untyped-def]
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
    if (cache / "docstore.json").is_file():
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
    args = parser.parse_args()
    app = build_app(args.corpus, args.cache / f"plain-{args.corpus}")
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
