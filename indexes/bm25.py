"""BM25 over the chunk nodes (bm25s), persisted next to the docstores and kept in step with them.

The index is rebuilt from the `nodes` docstore whenever ingestion changes the chunk set (bm25s
indexes ~10k chunks in about a second) and saved atomically with a stamp of the chunk ids and
the BM25 parameters. On open, a missing index, a stale stamp (a run killed between saves) or
changed parameters trigger a rebuild, so BM25 and the vectors always cover the same chunks.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.schema import BaseNode, MetadataMode

from indexes.config import BM25Config

_STAMP = "folio-bm25.json"


def chunk_set_stamp(node_ids: Sequence[str]) -> str:
    """Order-independent fingerprint of a set of chunk ids."""
    digest = hashlib.sha256()
    for node_id in sorted(node_ids):
        digest.update(node_id.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def chunk_text(node: BaseNode) -> str:
    """What BM25 reads: the same text the embedder sees (section line + chunk)."""
    return node.get_content(metadata_mode=MetadataMode.EMBED)


@dataclass(frozen=True)
class _State:
    retriever: Any = None
    node_ids: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)
    stamp: str = ""


class BM25Index:
    """A bm25s index of chunks, with node and document ids aligned to bm25s row numbers.

    The searchable state is swapped as one object, so a query running during a rebuild sees
    either the old or the new index, never a mix.
    """

    def __init__(self, cfg: BM25Config, path: Path) -> None:
        self.cfg = cfg
        self.path = path
        self._state = _State()

    @property
    def node_ids(self) -> list[str]:
        return self._state.node_ids

    @property
    def doc_ids(self) -> list[str]:
        return self._state.doc_ids

    @property
    def stamp(self) -> str:
        return self._state.stamp

    @cached_property
    def _stemmer(self) -> Any:
        if not self.cfg.stemmer:
            return None
        import Stemmer

        return Stemmer.Stemmer(self.cfg.stemmer)

    def _params(self) -> dict[str, Any]:
        return self.cfg.model_dump()

    def tokenize(self, texts: list[str]) -> list[list[str]]:
        """Lower-cased word tokens, stopwords removed, stemmed (the same for chunks and queries)."""
        import bm25s

        return bm25s.tokenize(
            texts,
            stopwords=self.cfg.stopwords or [],
            stemmer=self._stemmer,
            return_ids=False,
            show_progress=False,
        )

    def __len__(self) -> int:
        return len(self.node_ids)

    # -- build / persist -------------------------------------------------------------------

    def load_or_build(self, nodes_fn: Any, node_ids: Sequence[str]) -> None:
        """Load the saved index if it matches `node_ids` and the config, else rebuild it."""
        wanted = chunk_set_stamp(node_ids)
        if self._load(wanted):
            return
        self.rebuild(nodes_fn())

    def rebuild(self, nodes: Sequence[BaseNode]) -> None:
        """Index these chunks from scratch and save; an empty set clears the index."""
        import bm25s

        nodes = sorted(nodes, key=lambda n: n.node_id)
        node_ids = [n.node_id for n in nodes]
        retriever = None
        if nodes:
            retriever = bm25s.BM25(k1=self.cfg.k1, b=self.cfg.b, method=self.cfg.method)
            retriever.index(self.tokenize([chunk_text(n) for n in nodes]), show_progress=False)
        self._state = _State(
            retriever=retriever,
            node_ids=node_ids,
            doc_ids=[str(n.ref_doc_id or "") for n in nodes],
            stamp=chunk_set_stamp(node_ids),
        )
        self._save()

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._state.retriever is not None:
            self._state.retriever.save(str(tmp), show_progress=False)
        meta = {
            "params": self._params(),
            "stamp": self.stamp,
            "node_ids": self.node_ids,
            "doc_ids": self.doc_ids,
        }
        (tmp / _STAMP).write_text(json.dumps(meta))
        old = self.path.with_name(self.path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.path.exists():
            os.replace(self.path, old)
        os.replace(tmp, self.path)
        shutil.rmtree(old, ignore_errors=True)

    def _load(self, wanted_stamp: str) -> bool:
        meta_file = self.path / _STAMP
        if not meta_file.is_file():
            return False
        meta = json.loads(meta_file.read_text())
        if meta.get("stamp") != wanted_stamp or meta.get("params") != self._params():
            return False
        retriever = None
        if meta["node_ids"]:
            import bm25s

            retriever = bm25s.BM25.load(str(self.path))
        self._state = _State(retriever, meta["node_ids"], meta["doc_ids"], meta["stamp"])
        return True

    # -- search ----------------------------------------------------------------------------

    def search(self, query: str, k: int) -> list[tuple[str, str, float]]:
        """(node id, document id, score) of the best `k` chunks with a positive score."""
        state = self._state  # one snapshot: a concurrent rebuild swaps the whole state
        retriever = state.retriever
        if retriever is None or k <= 0:
            return []
        tokens = self.tokenize([query])[0]
        ids = retriever.get_tokens_ids(tokens)
        if not ids:
            return []
        scores = retriever.get_scores_from_ids(ids)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            (state.node_ids[i], state.doc_ids[i], float(scores[i])) for i in top if scores[i] > 0
        ]
