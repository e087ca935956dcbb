"""What the answerer sees, cached once, so any scoring can be replayed offline in seconds.

For each half of a dataset's articles (`evals.answering.split_by_title`), the half is indexed
(`folio eval`'s own cached index) and every DEV question is retrieved once through the engine,
exactly as `/query` does: its question text and embedding, the passages (after `with_evidence`)
with their document ids, and every stored sentence vector of those passages. Nothing here
depends on the answerer's code, so changing a signal does not invalidate the cache: the
calibration (`benchmarks/answer_calibration.py`) and the ranker experiments rebuild features
from it with the code under test.

    .venv/bin/python -m benchmarks.answer_replay squad-v1.1-dev      # builds both halves
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from llama_index.core.schema import MetadataMode, QueryBundle

from evals.answering import split_by_title
from evals.datasets import Dataset, load_dataset


@dataclass
class Asked:
    """One question as the answerer received it."""

    qid: str
    half: int
    answerable: bool
    question: str
    embedding: np.ndarray  # float32 unit-or-not query vector, as the retriever used it
    passages: list[str]  # passage texts in rank order (MetadataMode.NONE)
    doc_ids: list[str]
    scores: list[float]
    golds: list[str] = field(default_factory=list)
    relevant: set[str] = field(default_factory=set)


@dataclass
class Replay:
    """All questions of the requested halves and the sentence vectors their passages carry."""

    asked: list[Asked]
    vectors: dict[str, np.ndarray]  # sentence key -> float16 unit vector

    def stored(self) -> dict[str, np.ndarray]:
        return self.vectors


def _cache_file(cache_dir: Path, data: Dataset, cfg_json: str, half: int) -> Path:
    key = hashlib.sha256(json.dumps([data.corpus_hash(), cfg_json]).encode()).hexdigest()[:12]
    return cache_dir / f"answer-replay-{key}-half{half}.pkl"


def collect_half(dataset: str, half: int, *, config: str, cache_dir: Path) -> Replay:
    """The cached replay of one half (built on first use: indexing plus one retrieval each)."""
    from app.core.settings import load_settings
    from evals.runner import EvalSession
    from indexes.query import with_evidence
    from indexes.sentence_vectors import stored_vectors

    cfg = load_settings(config, environ={}).index
    data = load_dataset(dataset, split="dev")
    # what retrieval and the stored vectors depend on (not the answerer's own settings)
    cfg_json = cfg.model_dump_json(
        include={
            "chunking": True,
            "embedding": True,
            "retrieval": True,
            "synthesis": {"max_citations", "sentence_vectors"},
        }
    )
    cache = _cache_file(cache_dir, data, cfg_json, half)
    if cache.is_file():
        return _load(cache)
    split = split_by_title(data, half=half)
    session = EvalSession(cache_root=cache_dir)
    folio = session.open_index(split.indexed, cfg)
    engine = session.engine(folio, cfg)
    bundles = session.query_bundles(cfg, split.indexed, engine)
    kinds = dict.fromkeys(split.answerable, True) | dict.fromkeys(split.unanswerable, False)
    asked: list[Asked] = []
    vectors: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    for i, qid in enumerate(data.queries, start=1):
        if qid not in kinds:
            continue
        bundle = bundles[qid][0]
        nodes = with_evidence(
            engine.retrieve(QueryBundle(bundle.query_str, embedding=bundle.embedding))
        )
        stored = stored_vectors(nodes)
        for key in stored:
            if key not in vectors:
                vectors[key] = stored[key].astype(np.float16)
        asked.append(
            Asked(
                qid=qid,
                half=half,
                answerable=kinds[qid],
                question=bundle.query_str,
                embedding=np.asarray(bundle.embedding, dtype=np.float32),
                passages=[n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes],
                doc_ids=[str(n.node.ref_doc_id or "") for n in nodes],
                scores=[float(n.score or 0.0) for n in nodes],
                golds=list(data.answers.get(qid, [])),
                relevant=set(data.qrels.get(qid, {})),
            )
        )
        if i % 250 == 0:
            print(f"half {half}: {i}/{len(data.queries)} {time.perf_counter() - started:.0f}s",
                  file=sys.stderr)  # fmt: skip
    session.close()
    replay = Replay(asked=asked, vectors=vectors)
    cache.parent.mkdir(parents=True, exist_ok=True)
    _save(cache, replay)
    return replay


def _save(path: Path, replay: Replay) -> None:
    """Plain dicts in the pickle: loadable whichever module runs (no class paths inside)."""
    data = {"asked": [asdict(a) for a in replay.asked], "vectors": replay.vectors}
    path.write_bytes(pickle.dumps(data))


def _load(path: Path) -> Replay:
    data = pickle.loads(path.read_bytes())
    return Replay(asked=[Asked(**a) for a in data["asked"]], vectors=data["vectors"])


def collect(
    dataset: str, halves: tuple[int, ...] = (0, 1), *, config: str, cache_dir: Path
) -> Replay:
    """Both halves (or the requested ones) merged into one replay."""
    asked: list[Asked] = []
    vectors: dict[str, np.ndarray] = {}
    for half in halves:
        part = collect_half(dataset, half, config=config, cache_dir=cache_dir)
        asked += part.asked
        vectors.update(part.vectors)
    return Replay(asked=asked, vectors=vectors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", nargs="?", default="squad-v1.1-dev")
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--cache-dir", default=".folio-cache/evals")
    parser.add_argument("--halves", default="0,1")
    args = parser.parse_args()
    halves = tuple(int(h) for h in args.halves.split(","))
    replay = collect(args.dataset, halves, config=args.config, cache_dir=Path(args.cache_dir))
    print(
        json.dumps(
            {
                "questions": len(replay.asked),
                "answerable": sum(a.answerable for a in replay.asked),
                "sentence_vectors": len(replay.vectors),
                "passages_mean": float(np.mean([len(a.passages) for a in replay.asked])),
            }
        )
    )


if __name__ == "__main__":
    main()
