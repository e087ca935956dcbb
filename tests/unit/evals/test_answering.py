"""Answer metrics checked by hand: split by title, per-answer judgement, summaries, comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.answering import (
    answer_sentences,
    compare_answers,
    judge,
    split_by_title,
    spread,
    summarise,
)
from evals.datasets import CorpusDoc, Dataset
from indexes.answers import Answer, Source


def _dataset() -> Dataset:
    corpus = [
        CorpusDoc("a1", "Alpha", "x"),
        CorpusDoc("a2", "Alpha", "x"),
        CorpusDoc("b1", "Beta", "x"),
        CorpusDoc("c1", "Gamma", "x"),
    ]
    qrels = {"q1": {"a1": 1}, "q2": {"b1": 1}, "q3": {"c1": 1}, "q4": {"a2": 1, "b1": 1}}
    return Dataset(
        name="toy",
        path=Path("."),
        split="dev",
        corpus=corpus,
        queries={q: f"question {q}" for q in qrels},
        qrels=qrels,
        answers={"q1": ["forty two"]},
    )


def _source(n: int, doc: str) -> Source:
    return Source(n=n, node_id=f"n{n}", document_id=doc, text="t")


def test_split_indexes_every_other_title_and_drops_mixed_queries():
    split = split_by_title(_dataset())
    # sorted titles Alpha, Beta, Gamma: Alpha and Gamma indexed, Beta left out
    assert {d.id for d in split.indexed.corpus} == {"a1", "a2", "c1"}
    assert split.answerable == ["q1", "q3"]
    assert split.unanswerable == ["q2"]  # q4 has relevant docs on both sides: not asked
    assert set(split.indexed.queries) == {"q1", "q2", "q3"}


def test_the_other_half_swaps_answerable_and_unanswerable():
    split = split_by_title(_dataset(), half=1)
    assert {d.id for d in split.indexed.corpus} == {"b1"}
    assert split.answerable == ["q2"]
    assert split.unanswerable == ["q1", "q3"]
    assert split.indexed.name != split_by_title(_dataset()).indexed.name  # separate eval caches


def test_spread_samples_evenly_and_keeps_all_by_default():
    ids = [str(i) for i in range(10)]
    assert spread(ids, None) == ids
    assert spread(ids, 5) == ["0", "2", "4", "6", "8"]
    assert spread(ids, 0) == []


def test_answer_sentences_drop_markers():
    text = "He said stop now. [1] It is 42 km long, about 26 miles. [2][3]"
    assert answer_sentences(text) == ["He said stop now.", "It is 42 km long, about 26 miles."]


def test_judge_first_sentence_gold_length_and_precision():
    answer = Answer(
        answer="The answer is forty two. [1] Other things happen here too. [2]",
        sources=[_source(1, "a1"), _source(2, "zz")],
        mode="extractive",
    )
    values = judge(answer, answerable=True, relevant={"a1": 1}, golds=["Forty  Two"])
    assert values == {
        "found": 1.0,
        "first_gold": 1.0,
        "gold": 1.0,
        "sentences": 2.0,
        "precision": 0.5,
        "citations": 2.0,
    }


def test_judge_gold_only_in_second_sentence_is_a_first_sentence_miss():
    answer = Answer(
        answer="Other things happen here too. [1] The answer is forty two. [1]",
        sources=[_source(1, "a1")],
        mode="extractive",
    )
    values = judge(answer, answerable=True, relevant={"a1": 1}, golds=["forty two"])
    assert values["first_gold"] == 0.0 and values["gold"] == 1.0


def test_judge_not_found_and_unanswerable():
    refused = Answer(answer="Not found.", mode="extractive", found=False)
    assert judge(refused, answerable=True, relevant={}, golds=["x"]) == {
        "found": 0.0,
        "first_gold": 0.0,
        "gold": 0.0,
    }
    assert judge(refused, answerable=False, relevant={}, golds=[]) == {"refused": 1.0}
    answered = Answer(answer="Something [1]", sources=[_source(1, "b")], mode="extractive")
    assert judge(answered, answerable=False, relevant={}, golds=[]) == {"refused": 0.0}


def test_citation_precision_can_fail_for_llm_style_markers():
    """An LLM answer citing a passage from an irrelevant document lowers precision."""
    answer = Answer(
        answer="Rye ferments fast [1][2], and salt slows it [2].",
        sources=[_source(1, "good"), _source(2, "bad")],
        mode="llm",
    )
    values = judge(answer, answerable=True, relevant={"good": 1}, golds=[])
    assert values["precision"] == pytest.approx(1 / 3)


def test_summary_micro_averages_precision():
    per_query = {
        "found": {"q1": 1.0, "q2": 0.0},
        "refused": {"q3": 1.0, "q4": 1.0, "q5": 0.0},
        "precision": {"q1": 0.5, "q6": 1.0},
        "citations": {"q1": 2.0, "q6": 2.0},
        "sentences": {"q1": 1.0, "q6": 3.0},
    }
    summary = summarise(per_query)
    assert summary["answerable_found_rate"] == 0.5
    assert summary["refusal_rate"] == pytest.approx(2 / 3)
    assert summary["citation_precision"] == 0.75
    assert summary["mean_sentences"] == 2.0
    assert summary["answerable_queries"] == 2 and summary["unanswerable_queries"] == 3


def test_compare_pairs_queries():
    before = {"found": {"q1": 1.0, "q2": 1.0}, "refused": {"q3": 0.0, "q4": 0.0}}
    after = {"found": {"q1": 1.0, "q2": 1.0}, "refused": {"q3": 1.0, "q4": 1.0}}
    rows = compare_answers(before, after)
    assert rows["refusal_rate"]["diff"] == 1.0 and rows["refusal_rate"]["n"] == 2
    assert rows["answerable_found_rate"]["diff"] == 0.0
    assert rows["answerable_found_rate"]["p_value"] == 1.0
