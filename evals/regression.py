"""The small, fixed regression eval that runs in the test suite.

A deterministic SciFact subset (the first DEV queries, their relevant abstracts and a fixed block
of other abstracts) indexes in well under a minute; its nDCG@10 per retrieval mode must stay at
or above the floors recorded in `evals/baselines.json`.
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
