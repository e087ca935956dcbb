"""FAQ cache: latency of a hit vs a miss, and the hit rate over a replayed question log.

Builds the sample book index in a temp dir (local MiniLM, Qdrant local), then replays a
question log (exact repeats, case/punctuation variants, reworded questions, in a fixed shuffled
order) through the same service the API uses (`answer_question`), first with an empty cache.
A hit is counted as wrong when its answer was produced (on a miss) only for other groups.
Prints one JSON object.

    .venv/bin/python -m benchmarks.faq_cache [--redis-url redis://...] [--similarity 0.95]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# (canonical question, rewordings a reader might type for the same need)
GROUPS = [
    ("What is autolyse?", ["What does autolyse mean?"]),
    ("How do I know my starter is ready?", ["When is my starter ready to use?"]),
    ("Why is my crumb dense?", ["Why is my bread crumb so dense?"]),
    ("What is the float test?", []),
    ("How do I calculate hydration?", ["How is hydration percentage calculated?"]),
    ("What is a levain?", ["What's a levain?"]),
    ("How long does bulk fermentation take?", ["How long should bulk fermentation last?"]),
    ("How do I do coil folds?", []),
    ("What is the windowpane test?", ["What's the windowpane test?"]),
    ("What is a banneton?", []),
    ("How long to cold retard?", ["How long should I cold retard the dough?"]),
    ("At what angle should I score?", []),
    ("What is oven spring?", ["What causes oven spring?"]),
    ("When can I cut the loaf?", ["How long should the loaf cool before cutting?"]),
    ("How do I store my starter in the fridge?", []),
    ("Which flour should I use?", ["What flour is best for sourdough?"]),
]


def question_log(seed: int = 7) -> list[tuple[int, str]]:
    """Each canonical question 3 times, once lower-cased without '?', plus its rewordings."""
    log: list[tuple[int, str]] = []
    for g, (q, rewordings) in enumerate(GROUPS):
        log += [(g, q)] * 3 + [(g, q.lower().rstrip("?"))] + [(g, r) for r in rewordings]
    random.Random(seed).shuffle(log)
    return log


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(p * len(values)))], 2) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--similarity", type=float, default=None)
    args = parser.parse_args()

    from app.core.settings import load_settings
    from app.services.answering import answer_question
    from app.services.faq_cache import make_faq_cache
    from indexes.folio_index import FolioIndex
    from tests.utils.builders import SAMPLE_BOOK, write_config

    tmp = Path(tempfile.mkdtemp(prefix="folio-faq-bench-"))
    try:
        shutil.copytree(SAMPLE_BOOK, tmp / "book")
        settings = load_settings(write_config(tmp, tmp / "book"), environ={})
        if args.similarity is not None:
            settings.cache.similarity = args.similarity
        if args.redis_url:
            settings.cache.key_prefix = f"folio-faq-bench-{int(time.time())}"
        index = FolioIndex.from_config(settings.index)
        index.index_sources()
        cache = make_faq_cache(settings.cache, args.redis_url)
        for q in ("warm-up question about bread", "another warm-up"):  # load nltk, torch paths
            index.query(q)
        hits: list[float] = []
        exact_hits: list[float] = []  # same normalised text: no embedding
        misses: list[float] = []
        wrong = 0
        produced_by: dict[str, set[int]] = {}
        log = question_log()
        for group, q in log:
            started = time.perf_counter()
            answer = answer_question(index=index, settings=settings, cache=cache, question=q)
            elapsed = (time.perf_counter() - started) * 1000
            (hits if answer.cached else misses).append(elapsed)
            if answer.cached and answer.usage.embedding_tokens == 0:
                exact_hits.append(elapsed)
            if answer.cached:
                wrong += group not in produced_by.get(answer.answer, set())
            else:
                produced_by.setdefault(answer.answer, set()).add(group)
        result = {
            "backend": "redis" if args.redis_url else "memory",
            "similarity": settings.cache.similarity,
            "questions": len(log),
            "distinct_groups": len(GROUPS),
            "hits": len(hits),
            "hit_rate": round(len(hits) / len(log), 3),
            "max_possible_hit_rate": round((len(log) - len(GROUPS)) / len(log), 3),
            "wrong_hits": wrong,
            "exact_hits": len(exact_hits),
            "exact_hit_ms": {"p50": pct(exact_hits, 0.5), "p95": pct(exact_hits, 0.95)},
            "semantic_hit_ms": {
                "p50": pct([h for h in hits if h not in exact_hits], 0.5),
                "p95": pct([h for h in hits if h not in exact_hits], 0.95),
            },
            "hit_ms": {
                "p50": pct(hits, 0.5),
                "p95": pct(hits, 0.95),
                "mean": round(statistics.fmean(hits), 2) if hits else 0.0,
            },
            "miss_ms": {
                "p50": pct(misses, 0.5),
                "p95": pct(misses, 0.95),
                "mean": round(statistics.fmean(misses), 2) if misses else 0.0,
            },
        }
        if cache is not None:
            cache.close()
        index.close()
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
