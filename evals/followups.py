"""Follow-up eval: does a rewritten follow-up retrieve what its hand-written standalone does?

`evals/followups/*.jsonl` holds conversations written for this eval from the sample book
(`data/book`) and the Rust book (`../shared/textbooks/rust-book`, read in place; its
conversations are skipped with a reason when it is absent), never from an eval corpus. Each
follow-up turn has a hand-written standalone version and a gold passage: a document and the
section heading that answers it. The conversation is replayed through the condenser (each
rewrite sees the previous *rewritten* questions, as `/sessions` does), and every follow-up is
retrieved three ways: as rewritten, as written by hand, and raw. Metrics (over follow-ups):

- hit_rate: the rewritten question's top-k passages include the gold section (k = top_k);
- standalone_hit_rate: the same for the hand-written standalone version (the ceiling);
- raw_hit_rate: the follow-up asked as it is, without the conversation (the floor);
- top1_rate / standalone_top1_rate: the gold section is the first passage;
- complete_unchanged: complete questions left exactly as asked (should be 1.0).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexes.condense import condense_offline
from indexes.config import IndexConfig, SourceConfig, VectorStoreConfig

FOLLOWUPS = Path(__file__).with_name("followups")
REPO = Path(__file__).resolve().parents[1]
BOOKS: dict[str, tuple[Path, str, str]] = {  # name -> (folder, globs, title)
    "sourdough": (REPO / "data" / "book", "*.md", "The Sourdough Handbook"),
    "rust-book": (
        REPO.parent / "shared" / "textbooks" / "rust-book" / "chapters",
        "ch*.md",
        "The Rust Programming Language",
    ),
}

Condense = Callable[[Sequence[str], str], str]


@dataclass
class Turn:
    question: str
    standalone: str
    doc: str
    section: str
    kind: str


@dataclass
class Conversation:
    id: str
    book: str
    turns: list[Turn]


def load_conversations(folder: Path = FOLLOWUPS) -> list[Conversation]:
    """Every conversation of every `*.jsonl` in `folder`."""
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            turns = [
                Turn(
                    question=t["question"],
                    standalone=t.get("standalone", t["question"]),
                    doc=t["gold"]["doc"],
                    section=t["gold"]["section"],
                    kind=t.get("kind", "first"),
                )
                for t in row["turns"]
            ]
            out.append(Conversation(id=row["id"], book=row["book"], turns=turns))
    return out


def _norm(text: str) -> str:
    return " ".join(text.replace("`", "").lower().split())


def is_gold(node: Any, turn: Turn) -> bool:
    """The passage is from the gold document and under the gold section heading."""
    meta = node.node.metadata
    doc = str(meta.get("source_id") or node.node.ref_doc_id or "")
    sections = [_norm(s) for s in str(meta.get("section") or "").split(" > ")]
    return doc.endswith(turn.doc) and _norm(turn.section) in sections


def book_config(cfg: IndexConfig, book: str, cache_dir: Path) -> IndexConfig:
    """`cfg` indexing one book into its own cached storage under `cache_dir`."""
    folder, globs, title = BOOKS[book]
    root = cache_dir / f"followups-{book}"
    return cfg.model_copy(
        update={
            "storage_dir": root,
            "sources": [SourceConfig(name=book, path=folder, globs=[globs], book=title)],
            "vector_store": VectorStoreConfig(path=root / "vectors", collection="followups"),
        }
    )


def followup_eval(
    cfg: IndexConfig,
    *,
    cache_dir: Path,
    condense: Condense = condense_offline,
    conversations: list[Conversation] | None = None,
) -> dict[str, Any]:
    """Replay every conversation whose book is present; headline rates, per-turn rows and the
    books skipped (with the reason)."""
    from indexes.folio_index import FolioIndex

    conversations = load_conversations() if conversations is None else conversations
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for book in sorted({c.book for c in conversations}):
        folder = BOOKS[book][0]
        if not folder.is_dir():
            skipped[book] = f"{folder} not found (../shared is absent)"
            continue
        folio = FolioIndex.from_config(book_config(cfg, book, cache_dir))
        try:
            folio.index_sources()
            for conv in (c for c in conversations if c.book == book):
                rows += _replay(folio, conv, condense)
        finally:
            folio.close()
    return {"summary": summarise(rows), "turns": rows, "skipped": skipped}


def _replay(folio: Any, conv: Conversation, condense: Condense) -> list[dict[str, Any]]:
    def rank(question: str, turn: Turn) -> int | None:
        nodes = folio.engine.retrieve(question)
        return next((i for i, n in enumerate(nodes, 1) if is_gold(n, turn)), None)

    rows = []
    history: list[str] = []
    for n, turn in enumerate(conv.turns):
        rewritten = condense(history, turn.question)
        history.append(rewritten)
        if n == 0:
            continue
        rows.append(
            {
                "conversation": conv.id,
                "book": conv.book,
                "kind": turn.kind,
                "question": turn.question,
                "rewritten": rewritten,
                "standalone": turn.standalone,
                "rank": rank(rewritten, turn),
                "standalone_rank": rank(turn.standalone, turn),
                "raw_rank": rank(turn.question, turn),
            }
        )
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Headline rates over the follow-up turns."""
    if not rows:
        return {"followups": 0.0}

    def rate(key: str, top: int | None = None) -> float:
        hits = [r[key] is not None and (top is None or r[key] <= top) for r in rows]
        return sum(hits) / len(rows)

    complete = [r for r in rows if r["kind"] == "complete"]
    return {
        "followups": float(len(rows)),
        "conversations": float(len({r["conversation"] for r in rows})),
        "hit_rate": rate("rank"),
        "standalone_hit_rate": rate("standalone_rank"),
        "raw_hit_rate": rate("raw_rank"),
        "top1_rate": rate("rank", 1),
        "standalone_top1_rate": rate("standalone_rank", 1),
        "complete_unchanged": (
            sum(r["rewritten"] == r["question"] for r in complete) / len(complete)
            if complete
            else 1.0
        ),
    }
