"""Standalone against contextual sentence vectors for choosing the answering sentence.

Contextual ("late chunking") vectors mean-pool a passage's own token states over each
sentence's span, so they would come free with the chunk's forward pass at ingest. Standalone
vectors embed each sentence alone (what Folio stores). For every answerable SQuAD DEV question,
the sentences of its gold paragraph are ranked by cosine to the question; printed: how often a
sentence holding a gold answer comes first, for standalone, contextual (minus `beta` x the
passage's mean, beta = 0 is plain pooling) and the sum of both cosines.

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.contextual_sentences
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "datasets" / "squad-v1.1-dev"
BETAS = (0.0, 0.3, 0.5, 0.7)


def main() -> None:
    from indexes.onnx_embedding import OnnxEncoder, load_tokenizer
    from indexes.onnx_model import ensure_onnx, local_model_path
    from indexes.text import split_sentences

    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent")
        return
    corpus = {d["_id"]: d["text"] for d in map(json.loads, (DATA / "corpus.jsonl").open())}
    queries = {d["_id"]: d["text"] for d in map(json.loads, (DATA / "queries.jsonl").open())}
    answers = {d["_id"]: d["answers"] for d in map(json.loads, (DATA / "answers.jsonl").open())}
    gold = dict(line.split("\t")[:2] for line in list((DATA / "qrels.tsv").open())[1:])
    model = local_model_path()
    tokenizer = load_tokenizer(model, 256)
    encoder = OnnxEncoder(ensure_onnx(model, "int8"), tokenizer, 2)

    paragraphs = sorted(set(gold.values()))
    sentences = {p: split_sentences(corpus[p]) for p in paragraphs}
    unique = list(dict.fromkeys(s for p in paragraphs for s in sentences[p]))
    standalone = dict(zip(unique, encoder.encode_sorted(unique, 8), strict=True))
    contextual = {beta: {} for beta in BETAS}
    for p in paragraphs:
        text, enc = corpus[p], tokenizer.encode(corpus[p])
        ids = np.array([enc.ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        feeds["token_type_ids"] = np.zeros_like(ids)
        names = {i.name for i in encoder.session.get_inputs()}
        states = encoder.session.run(None, {k: v for k, v in feeds.items() if k in names})[0][0]
        offsets, special = np.array(enc.offsets), np.array(enc.special_tokens_mask)
        mean = states[special == 0].mean(0)
        mean /= np.linalg.norm(mean)
        cursor = 0
        for sentence in sentences[p]:
            start = text.find(sentence, cursor)
            start = start if start >= 0 else text.find(sentence)
            end, cursor = start + len(sentence), start
            span = (offsets[:, 0] >= start) & (offsets[:, 1] <= end) & (special == 0)
            if not span.any():
                continue
            vector = states[span].mean(0)
            vector /= np.linalg.norm(vector)
            for beta in BETAS:
                shifted = vector - beta * mean
                contextual[beta][(p, sentence)] = shifted / np.linalg.norm(shifted)

    asked = sorted(gold)
    question_vectors = encoder.encode_sorted([queries[q] for q in asked], 32)
    firsts: dict[str, list[bool]] = {"standalone": [], "sum": []}
    firsts.update({f"contextual beta={b}": [] for b in BETAS})
    for q, qv in zip(asked, question_vectors, strict=True):
        p, golds = gold[q], [a.lower() for a in answers[q]]
        holds = [any(g in s.lower() for g in golds) for s in sentences[p]]
        if not any(holds):
            continue
        alone = np.array([standalone[s] @ qv for s in sentences[p]])
        firsts["standalone"].append(holds[int(alone.argmax())])
        for beta in BETAS:
            ctx = np.array([contextual[beta].get((p, s), standalone[s]) @ qv for s in sentences[p]])
            firsts[f"contextual beta={beta}"].append(holds[int(ctx.argmax())])
            if beta == 0.0:
                firsts["sum"].append(holds[int((alone + ctx).argmax())])
    for name, hits in firsts.items():
        print(f"{name:22s} questions {len(hits)}  gold sentence first {np.mean(hits):.3f}")


if __name__ == "__main__":
    main()
