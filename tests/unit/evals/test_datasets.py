"""The BEIR-style loader on a tiny fixture written here (never a copy of the shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.datasets import DatasetNotFound, load_dataset, resolve_dataset


def _write(folder: Path) -> Path:
    folder.mkdir()
    corpus = [
        {"_id": "d1", "title": "Bread", "text": "Flour and water."},
        {"_id": "d2", "title": "", "text": "Salt matters."},
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus) + "\n")
    queries = [{"_id": "q1", "text": "what is bread"}, {"_id": "q2", "text": "unjudged"}]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries))
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t0\n")
    (folder / "train-queries.jsonl").write_text(json.dumps({"_id": "t1", "text": "salt?"}))
    (folder / "train-qrels.tsv").write_text("query-id\tcorpus-id\tscore\nt1\td2\t1\n")
    (folder / "answers.jsonl").write_text(json.dumps({"_id": "q1", "answers": ["Flour"]}))
    return folder


def test_loads_corpus_queries_and_positive_qrels(tmp_path):
    data = load_dataset(_write(tmp_path / "tiny"))
    assert data.name == "tiny"
    assert [d.id for d in data.corpus] == ["d1", "d2"]
    assert data.queries == {"q1": "what is bread"}  # q2 has no positive judgement
    assert data.qrels == {"q1": {"d1": 1}}
    assert data.answers == {"q1": ["Flour"]}


def test_splits_and_limit(tmp_path):
    folder = _write(tmp_path / "tiny")
    assert load_dataset(folder, split="train").queries == {"t1": "salt?"}
    assert set(load_dataset(folder, split="train+dev").queries) == {"t1", "q1"}
    assert list(load_dataset(folder, split="train+dev", limit=1).queries) == ["t1"]


def test_documents_carry_title_as_section_and_id(tmp_path):
    docs = load_dataset(_write(tmp_path / "tiny")).documents()
    assert docs[0].doc_id == "d1"
    assert docs[0].text == "# Bread\n\nFlour and water."
    assert docs[0].metadata["chapter"] == "Bread"
    assert docs[1].text == "Salt matters."


def test_corpus_hash_changes_with_content(tmp_path):
    data = load_dataset(_write(tmp_path / "tiny"))
    before = data.corpus_hash()
    data.corpus[0].text += "!"
    assert data.corpus_hash() != before


def test_named_dataset_resolves_through_env(tmp_path, monkeypatch):
    _write(tmp_path / "tiny")
    monkeypatch.setenv("FOLIO_DATASETS_DIR", str(tmp_path))
    assert resolve_dataset("tiny") == tmp_path / "tiny"
    with pytest.raises(DatasetNotFound, match="FOLIO_DATASETS_DIR"):
        resolve_dataset("missing")
