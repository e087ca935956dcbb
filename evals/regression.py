"""The small, fixed regression evals that run in the test suite.

Retrieval: a deterministic SciFact subset (the first DEV queries, their relevant abstracts and a
fixed block of other abstracts) indexes in well under a minute; its nDCG@10 per retrieval mode
must stay at or above the floors recorded in `evals/baselines.json`.

Answers: a few SQuAD DEV articles named in the same file; `evals.answering` indexes every other
one and asks about all, so first-sentence gold, found and refusal rates have floors too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.datasets import Dataset, load_dataset

BASELINES = Path(__file__).with_name("baselines.json")


def load_baselines(path: Path = BASELINES) -> dict[str, Any]:
    return json.loads(path.read_text())


def regression_subset(spec: dict[str, Any]) -> Dataset:
    """The subset described by `spec` (dataset, split, queries, distractors)."""
    full = load_dataset(spec["dataset"], split=spec.get("split", "dev"))
    query_ids = list(full.queries)[: spec["queries"]]
    relevant = {doc for q in query_ids for doc in full.qrels[q]}
    others = [d.id for d in full.corpus if d.id not in relevant][: spec["distractors"]]
    return full.subset(relevant | set(others), query_ids)


def answer_subset(spec: dict[str, Any]) -> Dataset:
    """The articles named in `spec["titles"]` and every query about them."""
    full = load_dataset(spec["dataset"], split=spec.get("split", "dev"))
    titles = set(spec["titles"])
    docs = {d.id for d in full.corpus if d.title in titles}
    queries = [q for q in full.queries if set(full.qrels[q]) <= docs]
    subset = full.subset(docs, queries)
    subset.name = f"{full.name}-answers-subset"
    return subset
