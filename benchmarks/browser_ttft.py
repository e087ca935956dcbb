"""Time to first token in the browser: the reader's page, Debian's chromium, the sample book.

Indexes data/book in a temp dir with config.yaml's chunking, embedding, retrieval, synthesis
and runtime sections (local MiniLM, ONNX question embeddings, hybrid retrieval), serves the app
with uvicorn on a free port, opens `/` in headless chromium (Playwright) and asks each question
in a new conversation, as a reader's first question. TTFT is what the page itself measures
(`performance.measure("folio:ttft")`): from the Ask keypress to the first streamed text in the
DOM, so it includes creating the session (POST /sessions), the request, retrieval, the first
SSE event and rendering. The same questions over plain HTTP (httpx, time to the first `delta`
of POST /query/stream) run in the same process as the baseline. Prints one JSON object.

    .venv/bin/python benchmarks/browser_ttft.py [--rounds 1] [--warmup 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUESTIONS = [
    "What is a sourdough starter?",
    "How do I create a starter from scratch?",
    "How often should I feed my starter?",
    "Can I keep my starter in the fridge?",
    "How do I know my starter is ready?",
    "What is the float test?",
    "Which flour should I use?",
    "What does whole grain flour change?",
    "How do I calculate hydration?",
    "Why does salt matter in bread?",
    "What is autolyse?",
    "What is a levain?",
    "How long does bulk fermentation take?",
    "How do I read the dough during bulk?",
    "How do I do stretch and folds?",
    "What are coil folds?",
    "What is the windowpane test?",
    "How does temperature change flavor?",
    "What is pre-shaping?",
    "How long is the bench rest?",
    "How do I shape a boule?",
    "What is a banneton for?",
    "How long should I cold retard the dough?",
    "How do I know the final proof is done?",
    "At what angle should I score?",
    "How hot should the Dutch oven be?",
    "What is oven spring?",
    "When can I cut the loaf?",
    "Why is my crumb dense?",
    "Why did my loaf spread flat?",
]


SHIPPED = ("chunking", "embedding", "retrieval", "synthesis", "runtime")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else 0.0


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 1),
        "p95_ms": pct(values, 0.95),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
    }


def browser_ttft(page, question: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(ttft, full answer) in ms for one question in a new conversation, as the page measured."""
    page.click("#new-session")
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_function(
        "n => performance.getEntriesByName('folio:answer').length >= n",
        arg=page.evaluate("performance.getEntriesByName('folio:answer').length + 1"),
    )
    ttft = page.evaluate("performance.getEntriesByName('folio:ttft').at(-1).duration")
    answer = page.evaluate("performance.getEntriesByName('folio:answer').at(-1).duration")
    return ttft, answer


def http_ttft(client, question: str) -> float:  # type: ignore[no-untyped-def]
    """ms from sending POST /query/stream to its first `delta` event, over plain HTTP."""
    started = time.perf_counter()
    with client.stream("POST", "/query/stream", json={"query": question}) as response:
        for line in response.iter_lines():
            if line.startswith("event: delta"):
                return (time.perf_counter() - started) * 1000
    raise RuntimeError("no delta event")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1, help="passes over the 30 questions")
    parser.add_argument("--warmup", type=int, default=3, help="questions asked first, not counted")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import httpx
    import yaml
    from playwright.sync_api import sync_playwright

    from app.core.settings import load_settings
    from app.main import create_app
    from indexes.folio_index import FolioIndex
    from tests.utils.browser import chromium_path, launch
    from tests.utils.builders import SAMPLE_BOOK, write_config
    from tests.utils.http import serve_in_thread

    if chromium_path() is None:
        sys.exit("chromium is not installed (apt-get install -y chromium)")
    tmp = Path(tempfile.mkdtemp(prefix="folio-ttft-bench-"))
    try:
        shutil.copytree(SAMPLE_BOOK, tmp / "book")
        shipped = yaml.safe_load((REPO / "config.yaml").read_text())
        sections = {k: shipped[k] for k in SHIPPED}
        api = {"rate_limit_per_minute": 100_000, "rate_limit_per_day": 1_000_000}
        config = write_config(tmp, tmp / "book", api=api, log_level="WARNING", **sections)
        settings = load_settings(config, environ={})
        index = FolioIndex.from_config(settings.index)
        index.index_sources()
        index.close()
        app = create_app(settings)
        browser_ms: list[float] = []
        answer_ms: list[float] = []
        http_ms: list[float] = []
        with serve_in_thread(app) as base, sync_playwright() as pw:
            chromium = launch(pw)
            page = chromium.new_page()
            page.goto(base + "/")
            with httpx.Client(base_url=base, timeout=60) as client:
                for question in QUESTIONS[: args.warmup]:
                    browser_ttft(page, question)
                    http_ttft(client, question)
                for _ in range(args.rounds):
                    for question in QUESTIONS:
                        ttft, full = browser_ttft(page, question)
                        browser_ms.append(ttft)
                        answer_ms.append(full)
                        http_ms.append(http_ttft(client, question))
            version = chromium.version
            chromium.close()
        print(
            json.dumps(
                {
                    "benchmark": "browser_ttft",
                    "questions": len(QUESTIONS) * args.rounds,
                    "chromium": version,
                    "retrieval_mode": settings.retrieval.mode,
                    "answerer": settings.synthesis.effective_mode,
                    "browser_ttft": summary(browser_ms),
                    "browser_full_answer": summary(answer_ms),
                    "http_ttft_baseline": summary(http_ms),
                    "target_p50_ms": 150,
                    "cpus": os.cpu_count(),
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                },
                indent=2,
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
