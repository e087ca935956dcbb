"""Experiment: a sentence ranker trained self-supervised on cloze questions from the books, never
on an eval set, tested on SQuAD DEV against the shipped weights (paired, per question).

Training data (reproducible, no labels): the sample book (`data/book`) and the Rust book
(`../shared/textbooks/rust-book/chapters`, read in place). Each section is a passage; in each of
its sentences a name, number or date is masked and the rest phrased as a question ("Raymond
Calvel popularized the technique in the 1970s." → "When did Raymond Calvel popularize the
technique?" is beyond a regex, so: "When: Raymond Calvel popularized the technique in ___?").
That sentence is the positive, the other sentences of its passage the negatives. Features are
the answerer's own (`ExtractiveSynthesizer.features`: meaning, words, rank, kind, negation,
meta, restatement) plus their pairwise products; the model is a listwise logistic regression
(softmax over each question's sentences, L2), fitted with numpy. Its score replaces the shipped
weighted sum; it would cost one dot product per sentence (far below 5 ms per answer).

Tested on the SQuAD DEV replay (`benchmarks.answer_replay`), both halves, with each setting's
threshold at found 0.965 on the fit half as in `benchmarks.answer_calibration`. Prints JSON.

    .venv/bin/python -m benchmarks.train_sentence_ranker
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import QueryBundle

from benchmarks.answer_calibration import Replayer, at_threshold, run, threshold_for
from benchmarks.answer_replay import collect
from indexes.synthesizer import WEIGHTS, ExtractiveSynthesizer
from indexes.text import split_sentences

REPO = Path(__file__).resolve().parents[1]
BOOKS = [
    REPO / "data" / "book",
    REPO.parent / "shared" / "textbooks" / "rust-book" / "chapters",
]
_YEAR = re.compile(r"\b(1\d{3}|20\d\d)s?\b")
_DURATION = re.compile(
    r"\b\d+(?:[.,]\d+)?(?:\s+to\s+\d+)?\s+(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b"
)
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?(?:\s*(?:%|percent|grams?|°C|°F|bytes?|bits?))?")
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+\b")


def passages(folder: Path) -> list[list[str]]:
    """Sentences of each section (text between headings) of every markdown file."""
    out = []
    for path in sorted(folder.glob("*.md")):
        for section in re.split(r"\n(?=#{1,6} )", path.read_text(encoding="utf-8")):
            sentences = split_sentences(section)
            if len(sentences) >= 3:
                out.append(sentences)
    return out


def cloze(sentence: str) -> str | None:
    """A question from a sentence with one name, number or date masked, or None."""
    for pattern, wh in ((_DURATION, "How long"), (_YEAR, "When"), (_NUMBER, "How many"),
                        (_NAME, "Who")):  # fmt: skip
        match = pattern.search(sentence)
        if match:
            rest = (sentence[: match.start()] + sentence[match.end() :]).strip().rstrip(".!")
            return f"{wh}: {' '.join(rest.split())}?"
    return None


def training_groups(synth: ExtractiveSynthesizer, limit: int, seed: int) -> list[np.ndarray]:
    """Feature rows per cloze question, the positive first."""
    rng = random.Random(seed)
    items = []
    for folder in BOOKS:
        if not folder.is_dir():
            continue
        for sentences in passages(folder):
            for i, s in enumerate(sentences):
                question = cloze(s)
                if question:
                    items.append((question, i, sentences))
    rng.shuffle(items)
    items = items[:limit]
    model = synth._embed_model
    questions = model.get_text_embedding_batch([q for q, _, _ in items])
    groups = []
    for (question, i, sentences), vector in zip(items, questions, strict=True):
        cands = synth.candidates(["\n\n".join(sentences)])
        order = [j for j, c in enumerate(cands) if c.text == sentences[i]][:1]
        if not order or len(cands) < 2:
            continue
        rows, _ = synth.features(QueryBundle(question, embedding=vector), cands)
        pos = order[0]
        groups.append(np.vstack([rows[pos], np.delete(rows, pos, axis=0)]))
    return groups


def expand(rows: np.ndarray) -> np.ndarray:
    """The features and their pairwise products."""
    n = rows.shape[1]
    pairs = [rows[:, a] * rows[:, b] for a in range(n) for b in range(a + 1, n)]
    return np.column_stack([rows, *pairs]) if pairs else rows


def fit(groups: list[np.ndarray], l2: float = 1e-2, steps: int = 400, lr: float = 0.5):
    """Listwise logistic regression: maximise log softmax of the positive in each group."""
    xs = [expand(g) for g in groups]
    w = np.zeros(xs[0].shape[1])
    for _ in range(steps):
        grad = l2 * w
        for x in xs:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad -= (x[0] - p @ x) / len(xs)
        w -= lr * grad
    return w


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--cache-dir", default=".folio-cache/evals")
    parser.add_argument("--limit", type=int, default=3000, help="cloze questions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the weights here (.npy)")
    args = parser.parse_args()
    from app.core.settings import load_settings
    from indexes.embeddings import build_embed_model

    cfg = load_settings(args.config, environ={}).index
    model = build_embed_model(cfg.embedding, cfg.runtime)
    synth = ExtractiveSynthesizer(embed_model=model, max_candidates=10_000)
    started = time.perf_counter()
    groups = training_groups(synth, args.limit, args.seed)
    w = fit(groups)
    out: dict[str, Any] = {"cloze_questions": len(groups), "train_s": 0.0}
    out["train_s"] = round(time.perf_counter() - started, 1)
    if args.out:
        np.save(args.out, w)
    # cloze accuracy: positive ranked first, ranker vs shipped weights
    out["cloze_top1"] = {
        "ranker": float(np.mean([np.argmax(expand(g) @ w) == 0 for g in groups])),
        "shipped": float(np.mean([np.argmax(g @ WEIGHTS) == 0 for g in groups])),
    }
    replay = collect("squad-v1.1-dev", config=args.config, cache_dir=Path(args.cache_dir))
    k = cfg.synthesis.candidate_sentences
    replayer = Replayer(
        ExtractiveSynthesizer(embed_model=model, max_candidates=k), replay.vectors, k
    )
    items = {h: [replayer.prepare(a) for a in replay.asked if a.half == h] for h in (0, 1)}
    timings = []

    class Ranked(Replayer):
        """The replay with the ranker's score instead of the weighted sum."""

        def full_rows(self, item, keep):  # type: ignore[no-untyped-def]
            rows, idf = super().full_rows(item, keep)
            t = time.perf_counter()
            ranked = expand(rows) @ w
            timings.append(time.perf_counter() - t)
            return np.column_stack([ranked, np.zeros((len(rows), rows.shape[1] - 1))]), idf

    ranked = Ranked(replayer.synth, replay.vectors, k)
    ranked.shortlist_weights = np.asarray(WEIGHTS, float)  # the same sentences are scored
    unit = np.eye(len(WEIGHTS))[0]  # the ranker's score sits in column 0
    results = {}
    for name, rep, weights in (("shipped", replayer, WEIGHTS), ("ranker", ranked, unit)):
        fit_res = run(rep, items[1], np.asarray(weights, float), cap=1)
        t = threshold_for(fit_res)
        rep_res = run(rep, items[0], np.asarray(weights, float))
        results[name] = (rep_res, at_threshold(rep_res, t), at_threshold(fit_res, t))
        out[name] = {"report_half": results[name][1], "fit_half": results[name][2]}
    from scipy.stats import ttest_rel

    a = results["shipped"][0]
    b = results["ranker"][0]
    ta, tb = out["shipped"]["report_half"]["threshold"], out["ranker"]["report_half"]["threshold"]
    fa = (a["best_answerable"] >= ta) & a["first"]
    fb = (b["best_answerable"] >= tb) & b["first"]
    out["paired_first_sentence_diff"] = {
        "diff": round(float(fb.mean() - fa.mean()), 4),
        "p": float(ttest_rel(fb.astype(float), fa.astype(float)).pvalue),
    }
    out["ranker_ms_per_answer_p95"] = round(float(np.percentile(timings, 95)) * 1000, 4)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
