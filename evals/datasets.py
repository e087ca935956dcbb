"""BEIR-style datasets: `corpus.jsonl`, `queries.jsonl`, `qrels.tsv` (+ optional train split and
`answers.jsonl`), read in place from `../shared/datasets/<name>/` or any folder.

Nothing here is copied into the repo: SciFact is CC BY-NC and the evals must stay honest.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from llama_index.core.schema import Document

from indexes.readers import ORIGIN_CONFIG, make_document

DATASETS_ENV = "FOLIO_DATASETS_DIR"
REPO = Path(__file__).resolve().parents[1]
SPLITS = ("dev", "train", "train+dev")


class DatasetNotFound(FileNotFoundError):
    """The dataset folder (or one of its files) is missing; the message says where we looked."""


@dataclass
class CorpusDoc:
    id: str
    title: str
    text: str


@dataclass
class Dataset:
    """A corpus, the queries of one split, their relevance judgements, optional gold answers."""

    name: str
    path: Path
    split: str
    corpus: list[CorpusDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    answers: dict[str, list[str]] = field(default_factory=dict)

    def corpus_hash(self) -> str:
        """sha256 of the corpus rows as indexed: the cache key of an eval index."""
        digest = hashlib.sha256()
        for doc in self.corpus:
            digest.update(json.dumps([doc.id, doc.title, doc.text]).encode())
            digest.update(b"\n")
        return digest.hexdigest()

    def subset(self, doc_ids: set[str], query_ids: list[str]) -> Dataset:
        """A smaller dataset over these documents and queries (fast regression evals)."""
        return Dataset(
            name=f"{self.name}-subset",
            path=self.path,
            split=self.split,
            corpus=[d for d in self.corpus if d.id in doc_ids],
            queries={q: self.queries[q] for q in query_ids},
            qrels={q: self.qrels[q] for q in query_ids},
            answers={q: self.answers[q] for q in query_ids if q in self.answers},
        )

    def documents(self) -> list[Document]:
        """One Document per corpus row: the title as a Markdown heading (so every chunk carries
        it as its section), then the text; doc id = corpus `_id`, chapter = title."""
        return [
            make_document(
                doc_id=doc.id,
                text=f"# {doc.title}\n\n{doc.text}" if doc.title else doc.text,
                book=self.name,
                chapter=doc.title or doc.id,
                origin=ORIGIN_CONFIG,
            )
            for doc in self.corpus
        ]


def datasets_dir() -> Path:
    """`$FOLIO_DATASETS_DIR`, else `../shared/datasets` next to the checkout."""
    env = os.environ.get(DATASETS_ENV)
    return Path(env) if env else REPO.parent / "shared" / "datasets"


def resolve_dataset(name_or_path: str | Path) -> Path:
    """A folder given directly, or a dataset name under `datasets_dir()`."""
    candidate = Path(name_or_path)
    if (candidate / "corpus.jsonl").is_file():
        return candidate
    named = datasets_dir() / str(name_or_path)
    if (named / "corpus.jsonl").is_file():
        return named
    raise DatasetNotFound(
        f"dataset {name_or_path!r} not found (looked for corpus.jsonl in {candidate} and {named};"
        f" set {DATASETS_ENV} to the folder holding the datasets)"
    )


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """`query-id<TAB>corpus-id<TAB>score` with a header line; only positive scores are kept."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or (n == 0 and not parts[2].strip().lstrip("-").isdigit()):
                continue  # header or blank line
            qid, did, score = parts[0], parts[1], int(parts[2])
            if score > 0:
                qrels.setdefault(qid, {})[did] = score
    return qrels


def _split_files(path: Path, split: str) -> list[tuple[Path, Path]]:
    dev = (path / "queries.jsonl", path / "qrels.tsv")
    train = (path / "train-queries.jsonl", path / "train-qrels.tsv")
    match split:
        case "dev":
            return [dev]
        case "train":
            return [train]
        case "train+dev":
            return [train, dev]
    raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def load_dataset(name_or_path: str | Path, split: str = "dev", limit: int | None = None) -> Dataset:
    """Load a dataset; queries without a positive judgement are dropped (they cannot score)."""
    path = resolve_dataset(name_or_path)
    corpus = [
        CorpusDoc(id=str(row["_id"]), title=row.get("title") or "", text=row.get("text") or "")
        for row in _jsonl(path / "corpus.jsonl")
    ]
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for queries_file, qrels_file in _split_files(path, split):
        if not queries_file.is_file() or not qrels_file.is_file():
            raise DatasetNotFound(f"{path.name} has no {split} split ({queries_file.name})")
        split_qrels = read_qrels(qrels_file)
        for row in _jsonl(queries_file):
            qid = str(row["_id"])
            if qid in split_qrels:
                queries[qid] = row["text"]
                qrels[qid] = split_qrels[qid]
    if limit is not None:
        keep = list(queries)[:limit]
        queries = {q: queries[q] for q in keep}
        qrels = {q: qrels[q] for q in keep}
    answers: dict[str, list[str]] = {}
    if (path / "answers.jsonl").is_file():
        answers = {
            str(r["_id"]): list(r["answers"])
            for r in _jsonl(path / "answers.jsonl")
            if str(r["_id"]) in queries
        }
    return Dataset(
        name=path.name,
        path=path,
        split=split,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        answers=answers,
    )
