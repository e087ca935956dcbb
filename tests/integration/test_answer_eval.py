"""The answer eval end to end on a small hand-made labelled set: half the titles indexed, real
MiniLM, both answerers (extractive; LLM against the fake OpenAI server, since no real model is
available offline). Citation precision must be able to fail: an LLM citing a passage of an
irrelevant document lowers it."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.answering import split_by_title
from evals.datasets import CorpusDoc, Dataset
from evals.runner import EvalSession, answer_eval
from indexes.config import IndexConfig
from tests.utils.fake_openai import make_fake_openai_app
from tests.utils.http import serve_in_thread

pytestmark = pytest.mark.integration

CORPUS = [
    CorpusDoc(
        "o1",
        "Ovens",
        "A Dutch oven traps steam around the loaf. Preheat the Dutch oven at 250 °C for "
        "45 minutes before the loaf goes in.",
    ),
    CorpusDoc(
        "o2",
        "Ovens",
        "A baking stone stores heat and gives the loaf a strong bottom crust. Place the stone "
        "on the lowest rack of the oven.",
    ),
    CorpusDoc(
        "s1",
        "Salt",
        "Salt tightens the gluten network and slows fermentation. Most bakers use 2 percent "
        "salt by flour weight.",
    ),
    CorpusDoc("r1", "Rye", "Rye flour has little gluten, so rye loaves are baked in tins."),
    CorpusDoc("t1", "Starter", "A starter is ready when it doubles within 4 to 8 hours."),
]
QUERIES = {
    "q1": ("How long should the Dutch oven preheat?", "o1", ["45 minutes"]),
    "q2": ("What percentage of salt do bakers use?", "s1", ["2 percent"]),
    "q3": ("What does a baking stone give the loaf?", "o2", ["strong bottom crust"]),
    "q4": ("Why are rye loaves baked in tins?", "r1", ["little gluten"]),
    "q5": ("How do I know my starter is ready?", "t1", ["doubles"]),
}


def _dataset(tmp_path: Path) -> Dataset:
    return Dataset(
        name="toy-bakery",
        path=tmp_path,
        split="dev",
        corpus=CORPUS,
        queries={q: text for q, (text, _, _) in QUERIES.items()},
        qrels={q: {doc: 1} for q, (_, doc, _) in QUERIES.items()},
        answers={q: golds for q, (_, _, golds) in QUERIES.items()},
    )


def _cfg(**synthesis) -> IndexConfig:
    from app.core.settings import load_settings
    from indexes.config import SynthesisConfig
    from tests.utils.builders import REPO

    base = load_settings(REPO / "config.yaml", environ={}, check_paths=False).index
    merged = SynthesisConfig.model_validate({**base.synthesis.model_dump(), **synthesis})
    return base.model_copy(update={"synthesis": merged, "sources": []})


@pytest.fixture
def session(tmp_path, minilm):
    s = EvalSession(cache_root=tmp_path / "cache")
    s.share_model(_cfg(), minilm)
    yield s
    s.close()


def test_split_asks_about_indexed_and_missing_titles(tmp_path):
    split = split_by_title(_dataset(tmp_path))  # sorted: Ovens, Rye, Salt, Starter
    assert sorted(split.answerable) == ["q1", "q2", "q3"]
    assert sorted(split.unanswerable) == ["q4", "q5"]


def test_extractive_answers_lead_with_the_gold_and_refuse_missing_titles(tmp_path, session):
    summary, per_query = answer_eval(session, _dataset(tmp_path), _cfg(mode="extractive"))
    assert summary["answerable_queries"] == 3 and summary["unanswerable_queries"] == 2
    assert summary["first_sentence_gold_rate"] == 1.0, per_query
    assert summary["answerable_found_rate"] == 1.0
    assert summary["refusal_rate"] == 1.0, per_query
    assert summary["citation_precision"] == 1.0
    assert summary["mean_sentences"] <= 2


def test_llm_citation_precision_counts_irrelevant_passages(tmp_path, session):
    """Fake server: the precision measures Folio's citation plumbing, not a model. Passage 2
    is never the relevant document here, so citing it must cost precision."""
    precision = {}
    for reply in ("It is so [1].", "See [1][2]."):
        with serve_in_thread(make_fake_openai_app(reply)) as url:
            cfg = _cfg(mode="llm", api_key="sk-fake", api_base=f"{url}/v1")
            summary, _ = answer_eval(session, _dataset(tmp_path), cfg)
        precision[reply] = summary["citation_precision"]
    assert precision["It is so [1]."] == 1.0
    assert precision["See [1][2]."] < 0.8, precision
