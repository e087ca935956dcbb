"""Semantic FAQ cache: a question whose embedding is within `cache.similarity` (cosine) of a
cached question, under the same answer namespace, gets the cached answer without retrieval or
an LLM call. The same question again (up to case, punctuation and spacing) is found by its
normalised text first, without even embedding it.

"Not found" is cached too, but for the same question only: asked again word for word it is
refused again without retrieval (nothing changed in between, or the namespace would differ),
while a merely similar question still gets its own search, which may find an answer.

The namespace (FolioIndex.answer_namespace) hashes the docstore fingerprint (every document id
and content hash, persisted with the index), the retrieval/synthesis config, the answerer and
top_k. Any ingest, delete or re-index changes the fingerprint, so old entries are never read
again: in memory they are dropped, in Redis they expire by TTL.

Memory by default (per process); Redis when REDIS_URL is set (shared by replicas).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from typing import Protocol

import numpy as np
import redis

from app.core.settings import CacheConfig
from indexes.answers import Answer

log = logging.getLogger("folio.cache")


def normalise(question: str) -> str:
    """Case, punctuation and spacing do not make a different question."""
    return " ".join(re.findall(r"\w+", question.lower()))


def _unit(embedding: list[float]) -> np.ndarray:
    vec = np.asarray(embedding, dtype=np.float32)
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm else vec


class FaqCache(Protocol):
    def lookup_exact(self, namespace: str, question: str) -> Answer | None: ...
    def lookup(self, namespace: str, embedding: list[float]) -> Answer | None: ...
    def store(
        self, namespace: str, question: str, embedding: list[float], answer: Answer
    ) -> None: ...
    def close(self) -> None: ...


class MemoryFaqCache:
    """One namespace at a time (the current index version); oldest entries evicted first."""

    def __init__(self, cfg: CacheConfig) -> None:
        self.cfg = cfg
        self._lock = threading.Lock()
        self._namespace = ""
        # entry id -> (unit question vector, or None for a refusal: exact lookups only; answer)
        self._entries: OrderedDict[str, tuple[np.ndarray | None, str]] = OrderedDict()
        self._matrix: np.ndarray | None = None
        self._ids: list[str] = []
        self._exact: dict[str, str] = {}  # normalised question → entry id

    def _switch(self, namespace: str) -> None:
        if namespace != self._namespace:  # the index or config changed: all entries are stale
            self._namespace, self._entries, self._matrix = namespace, OrderedDict(), None
            self._exact = {}

    def lookup_exact(self, namespace: str, question: str) -> Answer | None:
        with self._lock:
            self._switch(namespace)
            entry = self._entries.get(self._exact.get(normalise(question), ""))
            return Answer.model_validate_json(entry[1]) if entry else None

    def lookup(self, namespace: str, embedding: list[float]) -> Answer | None:
        with self._lock:
            self._switch(namespace)
            if self._matrix is None:
                self._ids = [i for i, (vec, _) in self._entries.items() if vec is not None]
                if not self._ids:
                    return None
                self._matrix = np.stack([self._entries[i][0] for i in self._ids])
            scores = self._matrix @ _unit(embedding)
            best = int(np.argmax(scores))
            if float(scores[best]) < self.cfg.similarity:
                return None
            return Answer.model_validate_json(self._entries[self._ids[best]][1])

    def store(self, namespace: str, question: str, embedding: list[float], answer: Answer) -> None:
        with self._lock:
            self._switch(namespace)
            entry = uuid.uuid4().hex
            vector = _unit(embedding) if answer.found else None
            self._entries[entry] = (vector, answer.model_dump_json())
            self._exact[normalise(question)] = entry
            while len(self._entries) > self.cfg.max_entries:
                self._entries.popitem(last=False)  # its exact key now points at nothing
            self._matrix = None

    def close(self) -> None:
        return None


class RedisFaqCache:
    """Hashes per namespace: id → float32 embedding bytes, id → answer JSON, normalised
    question → id; all expire
    `ttl_hours` after the last write, so stale namespaces disappear on their own.

    The cache is an optimisation: when Redis fails, answers are made without it, one warning
    is logged, and Redis is left alone for `RETRY_S` seconds (a hung Redis must not add its
    timeout to every request)."""

    RETRY_S = 5.0

    def __init__(self, cfg: CacheConfig, url: str, prefix: str) -> None:
        self.cfg = cfg
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._down_until = 0.0

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, what: str, exc: redis.RedisError) -> None:
        if self._down_until == 0.0:
            log.warning(
                "faq cache %s failed type=%s; answering without it", what, type(exc).__name__
            )
        self._down_until = time.monotonic() + self.RETRY_S

    def _ok(self) -> None:
        if self._down_until:
            log.info("faq cache: Redis answers again")
            self._down_until = 0.0

    def _keys(self, namespace: str) -> tuple[str, str]:
        return f"{self.prefix}:{namespace}:emb", f"{self.prefix}:{namespace}:ans"

    def lookup_exact(self, namespace: str, question: str) -> Answer | None:
        if not self._available():
            return None
        _, ans_key = self._keys(namespace)
        try:
            entry = self.client.hget(f"{self.prefix}:{namespace}:exact", normalise(question))
            raw = self.client.hget(ans_key, entry) if entry else None
        except redis.RedisError as exc:
            self._failed("lookup", exc)
            return None
        self._ok()
        return Answer.model_validate_json(raw) if raw else None

    def lookup(self, namespace: str, embedding: list[float]) -> Answer | None:
        if not self._available():
            return None
        emb_key, ans_key = self._keys(namespace)
        try:
            stored = self.client.hgetall(emb_key)
            if not stored:
                return None
            ids = list(stored)
            matrix = np.stack([np.frombuffer(stored[i], dtype=np.float32) for i in ids])
            scores = matrix @ _unit(embedding)
            best = int(np.argmax(scores))
            if float(scores[best]) < self.cfg.similarity:
                return None
            raw = self.client.hget(ans_key, ids[best])
        except redis.RedisError as exc:  # the cache is an optimisation: answer without it
            self._failed("lookup", exc)
            return None
        return Answer.model_validate_json(raw) if raw else None

    def store(self, namespace: str, question: str, embedding: list[float], answer: Answer) -> None:
        if not self._available():
            return
        emb_key, ans_key = self._keys(namespace)
        exact_key = f"{self.prefix}:{namespace}:exact"
        entry = uuid.uuid4().hex
        ttl = int(self.cfg.ttl_hours * 3600)
        try:
            if self.client.hlen(ans_key) >= self.cfg.max_entries:
                return  # full: keep the first (most frequently asked early) questions
            pipe = self.client.pipeline()
            if answer.found:  # a refusal answers the same question only (exact lookup)
                pipe.hset(emb_key, entry, _unit(embedding).tobytes())
            pipe.hset(ans_key, entry, answer.model_dump_json())
            pipe.hset(exact_key, normalise(question), entry)
            for key in (emb_key, ans_key, exact_key):
                pipe.expire(key, ttl)
            pipe.execute()
        except redis.RedisError as exc:
            self._failed("store", exc)

    def close(self) -> None:
        self.client.close()


def make_faq_cache(cfg: CacheConfig, redis_url: str | None) -> FaqCache | None:
    if not cfg.enabled:
        return None
    if redis_url:
        return RedisFaqCache(cfg, redis_url, cfg.key_prefix)
    return MemoryFaqCache(cfg)
