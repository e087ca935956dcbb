"""Ingest cost against corpus size, over HTTP and in bulk, beside plain LlamaIndex.

1. HTTP: a real `folio serve` on empty storage; SciFact's abstracts are posted one per request
   (`POST /ingest`) by 4 concurrent clients. Prints p50/p95 per request when about 100, 1,000
   and 5,000 documents are already indexed (a window of 100 requests around each), the ratio
   p50@5000 / p50@100 (flat: ≤ 1.5) and the whole run's time.
2. Bulk: `folio index` of a book (default: the Rust book) into empty storage, chunks/s, and the
   same files through plain LlamaIndex (SentenceSplitter at Folio's 200/30 token chunks,
   HuggingFaceEmbedding on torch, SimpleVectorStore), chunks/s, in the same run. With
   `--repeat N` both run N times, alternating, and the medians are reported beside every run
   (a shared 2-core VM moves one run by ±4 %).

    .venv/bin/python benchmarks/ingest_scaling.py [--docs 5183] [--skip-http] [--skip-bulk]
        [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.load_test import Server, free_port, pct  # noqa: E402

TEXTBOOK = REPO.parent / "shared" / "textbooks" / "rust-book" / "chapters"
ADMIN = "ingest-bench-admin-key-0123456789abcdef"


SENTENCE_VECTORS = "ingest"  # --sentence-vectors


def write_config(root: Path, sources: list[dict]) -> Path:
    import yaml

    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    config = {
        **{k: shipped[k] for k in ("embedding", "retrieval", "chunking", "runtime")},
        "synthesis": {**shipped["synthesis"], "sentence_vectors": SENTENCE_VECTORS},
        "environment": "test",
        "storage_dir": str(root / "storage"),
        "sources": sources,
        "vector_store": {"path": str(root / "storage" / "vectors")},
        "database": {"url": f"sqlite:///{root / 'storage' / 'folio.db'}"},
        "auth": {"admin_api_key": ADMIN},
        # one client posting a corpus: the per-caller ingest limit (60/min) would pace it
        "api": {"ingest_rate_limit_per_minute": 1_000_000, "ingest_rate_limit_per_day": 10**9},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


async def post_all(url: str, docs: list[tuple[str, str, str]], clients: int) -> list[tuple]:
    """(index when sent, ms, status) per request; documents go out in corpus order."""
    import httpx

    results: list[tuple[int, float, int]] = []
    queue: asyncio.Queue[tuple[int, tuple[str, str, str]]] = asyncio.Queue()
    for item in enumerate(docs):
        queue.put_nowait(item)
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:

        async def worker() -> None:
            while not queue.empty():
                n, (doc_id, title, text) = queue.get_nowait()
                body = {"chapter": title[:300] or doc_id, "content": text, "source_id": doc_id}
                started = time.perf_counter()
                r = await client.post("/ingest", json=body, headers={"X-API-Key": ADMIN})
                results.append((n, (time.perf_counter() - started) * 1000, r.status_code))

        await asyncio.gather(*(worker() for _ in range(clients)))
    return results


def bench_http(n_docs: int, clients: int) -> dict:
    from evals.datasets import load_dataset

    corpus = load_dataset("scifact", split="dev").corpus[:n_docs]
    docs = [(d.id, d.title, f"# {d.title}\n\n{d.text}" if d.title else d.text) for d in corpus]
    root = Path(tempfile.mkdtemp(prefix="folio-ingest-"))
    try:
        config = write_config(root, [])
        port = free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "app.cli", "serve", "--config", str(config)]
        server = Server("folio", [*cmd, "--port", str(port)], port, env)
        server.start()
        try:
            started = time.perf_counter()
            results = asyncio.run(post_all(server.url, docs, clients))
            total_s = time.perf_counter() - started
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out: dict = {
        "documents": len(docs),
        "clients": clients,
        "total_s": round(total_s, 1),
        "docs_per_min": round(len(docs) / total_s * 60, 1),
        "errors": sum(1 for _, _, s in results if s != 200),
    }
    for at in (100, 1000, 5000):
        window = [ms for n, ms, s in results if at - 50 <= n < at + 50 and s == 200]
        if window:
            out[f"at_{at}"] = {
                "n": len(window),
                "p50_ms": pct(window, 0.5),
                "p95_ms": pct(window, 0.95),
            }
    if "at_100" in out and "at_5000" in out:
        out["p50_ratio_5000_over_100"] = round(
            out["at_5000"]["p50_ms"] / out["at_100"]["p50_ms"], 2
        )
    return out


def median_run(runs: list[dict]) -> dict:
    """The run with the median chunks/s (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r["chunks_per_s"])
    return ordered[(len(ordered) - 1) // 2]


def bench_folio_bulk(book: Path) -> dict:
    from app.core.settings import load_settings
    from app.services.index_holder import open_index

    root = Path(tempfile.mkdtemp(prefix="folio-bulk-"))
    try:
        config = write_config(
            root, [{"name": "book", "path": str(book), "globs": ["*.md"], "book": "B"}]
        )
        settings = load_settings(config, environ={})
        folio = open_index(settings, eager=False)
        _ = folio.embed_model  # model load is not ingest
        started = time.perf_counter()
        report = folio.index_sources()
        elapsed = time.perf_counter() - started
        noop_started = time.perf_counter()
        noop = folio.index_sources()
        noop_s = time.perf_counter() - noop_started
        folio.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "chunks": report.chunks_embedded,
        "seconds": round(elapsed, 1),
        "chunks_per_s": round(report.chunks_embedded / elapsed, 1),
        "noop_reindex_s": round(noop_s, 3),
        "noop_chunks_embedded": noop.chunks_embedded,
    }


def bench_plain_bulk(book: Path) -> dict:
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from indexes.onnx_model import local_model_path

    embed = HuggingFaceEmbedding(model_name=str(local_model_path()), device="cpu")
    documents = SimpleDirectoryReader(str(book), required_exts=[".md"]).load_data()
    splitter = SentenceSplitter(chunk_size=200, chunk_overlap=30)
    nodes = splitter.get_nodes_from_documents(documents)
    started = time.perf_counter()
    VectorStoreIndex(nodes, embed_model=embed)
    elapsed = time.perf_counter() - started
    return {
        "chunks": len(nodes),
        "seconds": round(elapsed, 1),
        "chunks_per_s": round(len(nodes) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=5183)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--book", type=Path, default=TEXTBOOK)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-bulk", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="bulk runs of each (medians)")
    parser.add_argument(
        "--sentence-vectors",
        choices=["ingest", "query"],
        default="ingest",
        help="synthesis.sentence_vectors (ingest, the default, embeds each chunk's sentences too)",
    )
    args = parser.parse_args()
    global SENTENCE_VECTORS
    SENTENCE_VECTORS = args.sentence_vectors
    out: dict = {"sentence_vectors": args.sentence_vectors}
    if not args.skip_bulk:
        folio_runs, plain_runs = [], []
        for _ in range(max(1, args.repeat)):
            folio_runs.append(bench_folio_bulk(args.book))
            plain_runs.append(bench_plain_bulk(args.book))
        out["bulk_folio"] = median_run(folio_runs)
        out["bulk_plain_llamaindex"] = median_run(plain_runs)
        if len(folio_runs) > 1:
            out["bulk_folio_runs"] = [r["chunks_per_s"] for r in folio_runs]
            out["bulk_plain_runs"] = [r["chunks_per_s"] for r in plain_runs]
        out["bulk_ratio"] = round(
            out["bulk_folio"]["chunks_per_s"] / out["bulk_plain_llamaindex"]["chunks_per_s"], 2
        )
    if not args.skip_http:
        out["http_ingest"] = bench_http(args.docs, args.clients)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
