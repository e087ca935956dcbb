"""Answer-level checks of the extractive synthesizer, reported next to the retrieval metrics.

- citation faithfulness: share of cited sentences found verbatim in the passage they cite;
- citation precision: share of citations whose passage comes from a relevant document;
- gold answer rate (datasets with answers.jsonl): share of answers containing a gold answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from llama_index.core.schema import MetadataMode, QueryBundle

if TYPE_CHECKING:
    from evals.datasets import Dataset
    from indexes.query import FolioQueryEngine

# "<sentence> [n]" pieces, as ExtractiveSynthesizer.answer() joins them
_CITED = re.compile(r"\s*(.+?)\s\[(\d+)\](?=\s|$)", re.DOTALL)


def cited_sentences(answer: str) -> list[tuple[str, int]]:
    """(sentence, source number) pairs of an answer with `[n]` markers."""
    return [(m.group(1).strip(), int(m.group(2))) for m in _CITED.finditer(answer)]


def faithful_share(pairs: list[tuple[str, int]], passages: list[str]) -> tuple[int, int]:
    """(verbatim-found, total) over cited sentences; a marker past the last passage fails.

    A passage may itself contain "[14]"-like text (SciFact: "age, 74 [14] years"), which the
    parser takes for a marker; when a piece is not found, it is joined with the next piece and
    its marker before being judged, so such text is not counted as an unfaithful citation.
    """
    found = total = 0
    carry = ""
    for text, n in pairs:
        candidate = f"{carry} {text}".strip() if carry else text
        if 1 <= n <= len(passages) and candidate in passages[n - 1]:
            found, total, carry = found + 1, total + 1, ""
        elif any(f"{candidate} [{n}]" in p for p in passages):
            carry = f"{candidate} [{n}]"  # the marker was part of the quoted sentence
        else:
            total, carry = total + 1, ""
    return found, total + (1 if carry else 0)


def citation_report(
    engine: FolioQueryEngine,
    dataset: Dataset,
    bundles: dict[str, tuple[QueryBundle, float]] | None = None,
    *,
    limit: int = 200,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, float]:
    """Answer the first `limit` queries offline and check their citations."""
    if engine.mode != "extractive":
        return {}  # LLM answers cost money and time; measure them deliberately, not by default
    found = cited = answered = precise = citations = gold_hits = gold_total = 0
    queries = list(dataset.queries.items())[:limit]
    for i, (qid, question) in enumerate(queries, start=1):
        nodes = engine.retrieve(bundles[qid][0] if bundles else question)
        if nodes:
            response = engine.synthesizer.synthesize(QueryBundle(question), nodes)
            answer = str(response.response or "")
            passages = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
            pairs = cited_sentences(answer)
            f, c = faithful_share(pairs, passages)
            found, cited = found + f, cited + c
            answered += bool(pairs)
            relevant = dataset.qrels.get(qid, {})
            for _, n in pairs:
                citations += 1
                if 1 <= n <= len(nodes) and nodes[n - 1].node.ref_doc_id in relevant:
                    precise += 1
        else:
            answer = ""
        if qid in dataset.answers:
            gold_total += 1
            low = answer.lower()
            gold_hits += any(g.lower() in low for g in dataset.answers[qid] if g.strip())
        if progress is not None and (i % 25 == 0 or i == len(queries)):
            progress("answering", i, len(queries))
    report = {
        "answered_queries": len(queries),
        "answer_rate": answered / len(queries) if queries else 0.0,
        "citation_faithfulness": found / cited if cited else 0.0,
        "citation_precision": precise / citations if citations else 0.0,
    }
    if gold_total:
        report["gold_answer_rate"] = gold_hits / gold_total
    return report
