"""Calibrate the extractive answerer on SQuAD DEV only: sentence-score weights, the extra-sentence
margin, how many candidate sentences to embed, and the "not found" threshold.

Half of the articles are indexed (`evals.answering.split_by_title`, as `folio eval` does), and
then the other half, so every DEV question is asked once answerable and once not: 2,000 of
each, twice the data of one split, and the weights are not fitted to the half `folio eval`
reports. Every question is retrieved once through the engine and every candidate sentence's
features (`ExtractiveSynthesizer.features`, the code `/query` runs) are cached, so each setting
is replayed offline in numpy. Prints JSON with each half's numbers beside the total. Never run
on held-out data.

    .venv/bin/python -m benchmarks.answer_calibration squad-v1.1-dev
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import itertools
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from llama_index.core.schema import MetadataMode, QueryBundle

from app.core.settings import load_settings
from evals.answering import contains_gold, split_by_title, spread
from evals.datasets import load_dataset
from evals.runner import EvalSession
from indexes import synthesizer
from indexes.query import with_evidence
from indexes.synthesizer import WEIGHTS, ExtractiveSynthesizer


def collect(args: argparse.Namespace, half: int) -> list[dict]:
    """Per question: answerable?, feature rows, gold label per sentence, terms per sentence."""
    cfg = load_settings(args.config, environ={}).index
    data = load_dataset(args.dataset, split="dev")
    split = split_by_title(data, half=half)
    spread_order = {q: i for i, q in enumerate(data.queries)}
    key = hashlib.sha256(
        json.dumps(
            [
                data.corpus_hash(),
                cfg.model_dump(mode="json", exclude={"sources"}),
                inspect.getsource(synthesizer),  # the splitter and the features
            ],
            default=str,
        ).encode()
    ).hexdigest()[:12]
    cache = Path(args.cache_dir) / f"answer-features-{key}-{args.max_candidates}-half{half}.pkl"
    rows = pickle.loads(cache.read_bytes()) if cache.is_file() else []
    done = {r["qid"] for r in rows}
    if args.limit is None and len(done) == len(data.queries):
        return rows
    session = EvalSession(cache_root=Path(args.cache_dir))
    folio = session.open_index(split.indexed, cfg)
    engine = session.engine(folio, cfg)
    synth = ExtractiveSynthesizer(
        embed_model=engine.embed_model, max_candidates=args.max_candidates
    )
    bundles = session.query_bundles(cfg, split.indexed, engine)
    asked = [(q, True) for q in spread(split.answerable, args.limit)]
    asked += [(q, False) for q in spread(split.unanswerable, args.limit)]
    asked.sort(key=lambda qa: spread_order[qa[0]])  # answerable and not, interleaved
    started = time.perf_counter()
    for i, (qid, answerable) in enumerate(asked, start=1):
        if qid in done:
            continue
        bundle = bundles[qid][0]
        nodes = with_evidence(
            engine.retrieve(QueryBundle(bundle.query_str, embedding=bundle.embedding))
        )
        texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        sentences = synth.shortlist(bundle, synth.candidates(texts))
        item = {"qid": qid, "half": half, "answerable": answerable, "n": len(sentences)}
        if sentences:
            feats, idf = synth.features(bundle, sentences)
            golds = data.answers.get(qid, [])
            item.update(
                features=feats,
                gold=np.array([answerable and contains_gold(s.text, golds) for s in sentences]),
                terms=[s.terms & idf.keys() for s in sentences],
                covers=[(s.terms | s.context) & idf.keys() for s in sentences],
                source=np.array([s.source for s in sentences]),
                texts=[s.text for s in sentences],
                question=bundle.query_str,
            )
        rows.append(item)
        if i % 100 == 0:  # saved as it goes: a long run can be stopped and resumed
            print(f"{i}/{len(asked)} {time.perf_counter() - started:.0f}s", file=sys.stderr)
            cache.write_bytes(pickle.dumps(rows))
    session.close()
    cache.write_bytes(pickle.dumps(rows))
    return [r for r in rows if r["qid"] in {q for q, _ in asked}]


def choose(item: dict, weights: np.ndarray, margin: float, cap: int) -> tuple[float, list[int]]:
    """The replayed `select`: best score and chosen sentence indexes (best first)."""
    feats = item["features"]
    scores = feats @ weights
    order = list(np.argsort(-scores, kind="stable"))
    lead = order[0]
    chosen, covered = [lead], set(item["covers"][lead])
    for j in order[1:]:
        if len(chosen) >= cap or scores[j] < scores[lead] - margin:
            break
        new = item["terms"][j] - covered
        if new:
            chosen.append(j)
            covered |= new
    return float(scores[lead]), chosen


def evaluate(rows: list[dict], weights, margin: float = 0.1, cap: int = 3, k: int | None = None):
    """First-sentence gold rate, gold anywhere, mean length (answerable) and best scores; the
    first-sentence rate ignores "not found" (see `thresholds` for the rate with it)."""
    first = anywhere = length = 0.0
    best_ans, gold_first, best_unans = [], [], []
    n_ans = 0
    for item in rows:
        if "features" not in item:
            (best_ans if item["answerable"] else best_unans).append(-9.0)
            if item["answerable"]:
                gold_first.append(False)
                n_ans += 1
            continue
        view = item
        if k is not None:  # only k candidates get embedded: the best k by words and rank
            cheap = item["features"][:, 1:] @ np.asarray(weights)[1:]
            keep = sorted(np.argsort(-cheap, kind="stable")[:k])
            view = {
                **item,
                "features": item["features"][keep],
                "terms": [item["terms"][j] for j in keep],
                "covers": [item["covers"][j] for j in keep],
                "gold": item["gold"][keep],
            }
        best, chosen = choose(view, np.asarray(weights), margin, cap)
        if item["answerable"]:
            n_ans += 1
            gold = view["gold"]
            first += bool(gold[chosen[0]])
            anywhere += bool(any(gold[j] for j in chosen))
            length += len(chosen)
            best_ans.append(best)
            gold_first.append(bool(gold[chosen[0]]))
        else:
            best_unans.append(best)
    return {
        "first_sentence_gold_rate": first / n_ans,
        "gold_answer_rate": anywhere / n_ans,
        "mean_sentences": length / n_ans,
        "best_answerable": np.array(best_ans),
        "gold_first": np.array(gold_first),
        "best_unanswerable": np.array(best_unans),
    }


def at_threshold(res: dict, t: float) -> dict:
    """Found, refusal and first-sentence gold rates ("not found" is a miss) at threshold t."""
    ans, unans = res["best_answerable"], res["best_unanswerable"]
    return {
        "threshold": round(t, 4),
        "answerable_found_rate": round(float(np.mean(ans >= t)), 4),
        "refusal_rate": round(float(np.mean(unans < t)), 4),
        "first_sentence_gold_rate": round(float(np.mean((ans >= t) & res["gold_first"])), 4),
    }


def at_found(res: dict, keep: float) -> dict:
    """The rates at the threshold that answers `keep` of the answerable questions."""
    return at_threshold(res, float(np.quantile(res["best_answerable"], 1 - keep)))


def thresholds(res: dict, keeps=(0.99, 0.98, 0.97, 0.965, 0.96, 0.95)) -> list[dict]:
    return [at_found(res, keep) for keep in keeps]


def by_half(rows: list[dict], weights, t: float, k: int | None) -> dict[str, dict]:
    """Each half's rates at one threshold: both must hold, not just their sum."""
    return {
        f"half{h}": at_threshold(
            evaluate([r for r in rows if r["half"] == h], weights, cap=1, k=k), t
        )
        for h in sorted({r["half"] for r in rows})
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", nargs="?", default="squad-v1.1-dev")
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--cache-dir", default=".folio-cache/evals")
    parser.add_argument("--max-candidates", type=int, default=200)
    parser.add_argument("--limit", type=int, default=None, help="questions per kind (spread)")
    parser.add_argument("--halves", default="0,1", help="which halves to index in turn")
    parser.add_argument("--shipped", action="store_true", help="report indexes' WEIGHTS")
    parser.add_argument("--candidates", type=int, default=12, help="sentences embedded (config)")
    args = parser.parse_args()
    rows = [r for half in map(int, args.halves.split(",")) for r in collect(args, half)]
    out: dict = {
        "questions": len(rows),
        "answerable": sum(r["answerable"] for r in rows),
        "candidates_mean": float(np.mean([r["n"] for r in rows])),
        "candidates_p95": float(np.percentile([r["n"] for r in rows], 95)),
    }
    # Weights: the best first-sentence gold rate (with "not found" a miss) among those that
    # refuse >= 0.82 of the unanswerable questions while answering 0.96 of the answerable ones
    # (threshold = the 4th percentile of the answerable questions' best scores). The negation
    # weight stays below 0: without it, "how do I get an ear?" leads with "without forming an
    # ear" (tests/unit/indexes/test_synthesizer.py).
    grid = []
    weights = itertools.product(
        (1.0,), (1.25, 1.5, 1.75), (0.0, 0.1, 0.2, 0.3, 0.4), (0.0, 0.1, 0.2), (-0.4, -0.2)
    )
    for w in weights:
        res = evaluate(rows, list(w), cap=1, k=args.candidates)
        at96 = at_found(res, 0.96)
        grid.append(
            {
                "weights": list(w),
                "first_sentence_gold_rate": at96["first_sentence_gold_rate"],
                "refusal_at_found_0.96": at96["refusal_rate"],
            }
        )
    # Rank >= 0.3: below it the sample book's "how long" and "ear" questions lose their lead
    # sentence in passage 1 (tests/integration/test_answers.py); SQuAD alone would take 0.1.
    eligible = [g for g in grid if g["refusal_at_found_0.96"] >= 0.82 and g["weights"][2] >= 0.3]
    eligible.sort(key=lambda g: (-g["first_sentence_gold_rate"], -g["refusal_at_found_0.96"]))
    out["top_weights"] = eligible[:8]
    out["best_any_rank"] = max(
        (g for g in grid if g["refusal_at_found_0.96"] >= 0.82),
        key=lambda g: g["first_sentence_gold_rate"],
    )
    out["best_without_refusal_rule"] = max(grid, key=lambda g: g["first_sentence_gold_rate"])
    out["single_signals"] = [
        {"weights": only, **evaluate(rows, only, cap=1)}
        for only in ([1.0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0], [0, 0, 1.0, 0, 0], [0, 0, 0, 1.0, 0])
    ]
    for item in out["single_signals"]:
        for key in ("best_answerable", "gold_first", "best_unanswerable"):
            item.pop(key)
    # First-sentence rates within 0.001 of the best are a tie (se ~ 0.01): the tie goes to the
    # weights that refuse most.
    tied = [
        g
        for g in eligible
        if g["first_sentence_gold_rate"] >= eligible[0]["first_sentence_gold_rate"] - 0.001
    ]
    chosen = max(tied, key=lambda g: g["refusal_at_found_0.96"])
    best_w = list(WEIGHTS) if args.shipped else chosen["weights"]
    out["chosen_weights"] = best_w
    out["margins"] = []
    for margin in (0.0, 0.1, 0.2, 0.3, 0.4):
        res = evaluate(rows, best_w, margin=margin, k=args.candidates)
        out["margins"].append(
            {
                "margin": margin,
                "mean_sentences": round(res["mean_sentences"], 3),
                "gold_answer_rate": round(res["gold_answer_rate"], 4),
                "first_sentence_gold_rate": round(res["first_sentence_gold_rate"], 4),
            }
        )
    out["candidates_cap"] = []
    for k in (12, 16, 24, 32, 48, 64, None):
        res = evaluate(rows, best_w, cap=1, k=k)
        out["candidates_cap"].append({"k": k, "thresholds": thresholds(res, (0.97, 0.96, 0.95))})
    res = evaluate(rows, best_w, cap=1, k=args.candidates)
    out["thresholds"] = thresholds(res)
    # Shipped: keep 0.965, half a point above the rule's 0.96, because `folio eval` answered
    # 0.006 fewer answerable questions than the replay at the same threshold (its index is
    # built afresh, and int8 vectors move a little with their batchmates).
    shipped_t = at_found(res, 0.965)["threshold"]
    out["halves_at_found_0.965"] = by_half(rows, best_w, shipped_t, args.candidates)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
