"""What the extractive answerer's sentence scoring costs per answer, on the sample book.

Times one batched sentence embedding (the only model call the answerer adds at query time) for
8/16/24 sentences, and a whole `FolioIndex.query` with a cold sentence cache (a fresh synthesizer
per question) and a warm one, for both `synthesis.sentence_vectors` modes in the same run:
`query` (sentences embedded per answer) and `ingest` (embedded at index time, read with the
chunk). Prints JSON, with the load average (the machine is shared).

    .venv/bin/python -m benchmarks.answer_cost [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

QUESTIONS = [
    "How long does bulk fermentation take?",
    "How do I score a loaf to get an ear?",
    "What is autolyse?",
    "How often should I feed my starter?",
    "Why is my crumb dense?",
    "What is the windowpane test?",
    "What hydration should a beginner use?",
    "How do I store bread?",
    "How do I make gluten-free pizza dough?",
    "What temperature should the oven be?",
]


def _ms(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    out: dict = {}
    for mode in ("query", "ingest"):
        out[f"sentence_vectors_{mode}"] = measure(mode, args.rounds)
    out["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))


def measure(mode: str, rounds: int) -> dict:
    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex
    from indexes.synthesizer import ExtractiveSynthesizer
    from indexes.text import split_sentences
    from tests.utils.builders import SAMPLE_BOOK, write_config

    tmp = Path(tempfile.mkdtemp(prefix="folio-answer-cost-"))
    try:
        book = tmp / "book"
        shutil.copytree(SAMPLE_BOOK, book)
        config = write_config(tmp, book, synthesis={"sentence_vectors": mode})
        settings = load_settings(config, environ={})
        folio = FolioIndex.from_config(settings.index)
        started = time.perf_counter()
        folio.index_sources()
        out: dict = {"index_s": round(time.perf_counter() - started, 2)}
        engine = folio.engine
        sentences = [s for p in sorted(book.glob("*.md")) for s in split_sentences(p.read_text())]
        out["sentences_in_book"] = len(sentences)
        model = folio.embed_model
        model.get_text_embedding_batch(sentences[:4])  # warm up
        if mode == "query":
            for n in (8, 16, 24):
                times = []
                for r in range(rounds * 5):
                    batch = sentences[r : r + n]
                    started = time.perf_counter()
                    model.get_text_embedding_batch(batch)
                    times.append((time.perf_counter() - started) * 1000)
                out[f"embed_batch_{n}"] = _ms(times)
        cold, warm = [], []
        for _ in range(rounds):
            for q in QUESTIONS:
                engine.synthesizer = ExtractiveSynthesizer.from_config(
                    settings.synthesis, model
                )  # empty sentence cache
                cold.append(folio.query(q).latency_ms)
                warm.append(folio.query(q).latency_ms)
        out["query_cold_cache"] = _ms(cold)
        out["query_warm_cache"] = _ms(warm)
        folio.close()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
