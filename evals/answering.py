"""Answer-level eval: does an answer lead with the answer, stay short, cite relevant passages,
and say "not found" when the indexed content cannot answer?

Half of the documents are indexed, grouped by title (SQuAD: whole Wikipedia articles; every
other title in sorted order), and every query is asked through `FolioQueryEngine.answer`, the
path `/query` takes (`evals.runner.answer_eval` asks; this module judges). A query whose
relevant documents are all indexed is *answerable*; one whose relevant documents all lie in the
other half is *unanswerable* (the content is not about it); mixed queries are left out. Metrics:

- first_sentence_gold_rate: answerable queries whose answer's first sentence contains a gold
  answer string (datasets with answers.jsonl; a "not found" counts as a miss);
- gold_answer_rate: the same for the whole answer (the ceiling of the first-sentence rate);
- mean_sentences: answer length in sentences, over answered answerable queries;
- answerable_found_rate: answerable queries answered (`found: true`);
- refusal_rate: unanswerable queries answered `found: false`;
- citation_precision: share of `[n]` citations whose passage is from a relevant document, over
  answered answerable queries (extractive and LLM answers alike).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from evals.datasets import Dataset
from evals.metrics import paired_test
from indexes.answers import Answer
from indexes.citations import cited_numbers
from indexes.text import split_sentences

PREFIX = "answer/"  # per-query answer values sit beside the retrieval metrics under this prefix
# Headline numbers, in the order reports show them; "per-query" ones get paired tests.
HEADLINE = (
    "first_sentence_gold_rate",
    "gold_answer_rate",
    "mean_sentences",
    "answerable_found_rate",
    "refusal_rate",
    "citation_precision",
)
LABELS = {
    "first_sentence_gold_rate": "1st-sentence gold",
    "gold_answer_rate": "gold anywhere",
    "mean_sentences": "sentences",
    "answerable_found_rate": "found (answerable)",
    "refusal_rate": "refused (unanswerable)",
    "citation_precision": "citation precision",
}
# per-query series behind each headline number (the mean over the queries that have a value)
PER_QUERY = {
    "first_sentence_gold_rate": "first_gold",
    "gold_answer_rate": "gold",
    "mean_sentences": "sentences",
    "answerable_found_rate": "found",
    "refusal_rate": "refused",
    "citation_precision": "precision",
}
_MARKERS = re.compile(r"\s*\[\s*\d+\s*(?:[,;]\s*\d+\s*)*\]")


@dataclass
class AnswerSplit:
    """The indexed half of a dataset and which of its queries the indexed half can answer."""

    indexed: Dataset
    answerable: list[str]
    unanswerable: list[str]


def split_by_title(dataset: Dataset, half: int = 0) -> AnswerSplit:
    """Index every other title (sorted), ask about all: deterministic and balanced by article.
    `half` 0 indexes the 1st, 3rd, ... titles (what `folio eval` reports); 1 indexes the others,
    so calibration can ask every question once answerable and once not."""
    if half not in (0, 1):
        raise ValueError("half is 0 or 1")
    titles = sorted({doc.title or doc.id for doc in dataset.corpus})
    kept = set(titles[half::2])
    doc_ids = {doc.id for doc in dataset.corpus if (doc.title or doc.id) in kept}
    answerable, unanswerable = [], []
    for qid in dataset.queries:
        inside = [doc in doc_ids for doc in dataset.qrels.get(qid, {})]
        if inside and all(inside):
            answerable.append(qid)
        elif inside and not any(inside):
            unanswerable.append(qid)
    indexed = dataset.subset(doc_ids, answerable + unanswerable)
    indexed.name = f"{dataset.name}-half" if half == 0 else f"{dataset.name}-other-half"
    return AnswerSplit(indexed=indexed, answerable=answerable, unanswerable=unanswerable)


def spread(ids: list[str], n: int | None) -> list[str]:
    """`n` ids evenly spaced over the list (all when n is None): a sample that spans articles."""
    if n is None or n >= len(ids):
        return list(ids)
    if n <= 0:
        return []
    step = len(ids) / n
    return [ids[int(i * step)] for i in range(n)]


def answer_sentences(text: str) -> list[str]:
    """The sentences of an answer, citation markers removed (same splitter as the answerer)."""
    return split_sentences(_MARKERS.sub("", text))


def contains_gold(text: str, golds: list[str]) -> bool:
    low = " ".join(text.lower().split())
    return any(" ".join(g.lower().split()) in low for g in golds if g.strip())


def judge(
    answer: Answer, *, answerable: bool, relevant: Mapping[str, int], golds: list[str]
) -> dict[str, float]:
    """Per-query values of one answer (keys of PER_QUERY's values that apply to it)."""
    if not answerable:
        return {"refused": float(not answer.found)}
    values = {"found": float(answer.found)}
    sentences = answer_sentences(answer.answer) if answer.found else []
    if golds:
        values["first_gold"] = float(bool(sentences) and contains_gold(sentences[0], golds))
        values["gold"] = float(answer.found and contains_gold(answer.answer, golds))
    if answer.found:
        values["sentences"] = float(len(sentences))
        cited = [n for n in cited_numbers(answer.answer) if 1 <= n <= len(answer.sources)]
        if cited:
            hits = sum(answer.sources[n - 1].document_id in relevant for n in cited)
            values["precision"] = hits / len(cited)
            values["citations"] = float(len(cited))
    return values


def summarise(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Headline numbers from per-query values (citation precision is micro-averaged)."""
    out: dict[str, float] = {}
    for name, series in PER_QUERY.items():
        values = per_query.get(series, {})
        if not values:
            continue
        if series == "precision":
            weights = per_query.get("citations", {})
            cited = sum(weights.values())
            out[name] = sum(v * weights[q] for q, v in values.items()) / cited if cited else 0.0
        else:
            out[name] = float(np.mean(list(values.values())))
    out["answerable_queries"] = float(len(per_query.get("found", {})))
    out["unanswerable_queries"] = float(len(per_query.get("refused", {})))
    return out


def compare_answers(
    before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, Any]]:
    """Headline metric by metric: both values, the paired difference over the queries both
    runs judged, its standard error and two-sided paired t-test p-value."""
    rows: dict[str, dict[str, Any]] = {}
    a_sum, b_sum = summarise(before), summarise(after)
    for name, series in PER_QUERY.items():
        if name not in a_sum or name not in b_sum:
            continue
        test = paired_test(before.get(series, {}), after.get(series, {}))
        rows[name] = {
            "baseline": a_sum[name],
            "candidate": b_sum[name],
            "diff": b_sum[name] - a_sum[name],
            "paired_diff": test["mean_diff"],
            "se": test["se"],
            "p_value": test["p_value"],
            "n": test["n"],
        }
    return rows
