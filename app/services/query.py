"""Answering questions: validate the question, ask the index, wrap store failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.errors import ServiceUnavailable, where
from app.core.metrics import FAQ_CACHE
from app.core.settings import Settings
from app.core.textcheck import clean_text
from app.services.faq_cache import FaqCache
from app.services.identity import Identity
from app.services.usage import llm_allowed, record_usage
from indexes.answers import Answer, Usage
from indexes.folio_index import FolioIndex

log = logging.getLogger("folio.query")

T = TypeVar("T")


def answer_question(
    *,
    index: FolioIndex,
    settings: Settings,
    question: str,
    top_k: int | None = None,
    allow_llm: bool = True,
) -> Answer:
    """Answer with numbered citations; raises InvalidInput / ServiceUnavailable."""
    question = clean_text(question, field="query", max_chars=settings.api.max_query_chars)
    try:
        return index.query(question, top_k=top_k, allow_llm=allow_llm)
    except Exception as exc:
        # The store or the LLM failed; the client gets a stable code, the log gets the type.
        log.error("query failed type=%s at=%s", type(exc).__name__, where(exc))
        raise ServiceUnavailable("The answering backend is unavailable, try again later") from None


def answer_with_cache(
    *,
    index: FolioIndex,
    settings: Settings,
    cache: FaqCache | None,
    question: str,
    top_k: int | None = None,
    allow_llm: bool = True,
) -> Answer:
    """The cached answer of a near-identical question (`cached: true`, no retrieval, no LLM),
    else a fresh answer that is then cached (a "not found" only for the same question asked
    again). Without a cache: `answer_question`."""
    if cache is None:
        return answer_question(
            index=index, settings=settings, question=question, top_k=top_k, allow_llm=allow_llm
        )
    question = clean_text(question, field="query", max_chars=settings.api.max_query_chars)
    started = time.perf_counter()
    try:
        namespace = index.answer_namespace(top_k=top_k, allow_llm=allow_llm)
        hit = cache.lookup_exact(namespace, question)
        if hit is not None:  # asked before, word for word: not even an embedding
            FAQ_CACHE.labels("exact_hit").inc()
            hit.cached, hit.usage = True, Usage()
            hit.latency_ms = (time.perf_counter() - started) * 1000
            return hit
        embedding, embed_usage = index.embed_question(question)
        hit = cache.lookup(namespace, embedding)
        if hit is not None:
            FAQ_CACHE.labels("semantic_hit").inc()
            hit.cached, hit.usage = True, embed_usage
            hit.latency_ms = (time.perf_counter() - started) * 1000
            return hit
        FAQ_CACHE.labels("miss").inc()
        answer = index.query(question, top_k=top_k, allow_llm=allow_llm, embedding=embedding)
    except Exception as exc:
        log.error("query failed type=%s at=%s", type(exc).__name__, where(exc))
        raise ServiceUnavailable("The answering backend is unavailable, try again later") from None
    answer.usage.embedding_tokens += embed_usage.embedding_tokens
    answer.latency_ms = (time.perf_counter() - started) * 1000
    cache.store(namespace, question, embedding, answer)  # a refusal: for this question only
    return answer


def answer_and_record(
    *,
    db: Session,
    index: FolioIndex,
    settings: Settings,
    identity: Identity,
    question: str,
    top_k: int | None = None,
    endpoint: str = "query",
    cache: FaqCache | None = None,
) -> Answer:
    """An answer (from the FAQ cache when possible) within the daily budget, with a usage
    record for the caller. The database connection is given back before the model works, so a
    slow answer never holds one (the pool is sized for short transactions)."""
    allow_llm = llm_allowed(db=db, settings=settings)
    db.commit()  # ends the read transaction: the connection returns to the pool
    answer = answer_with_cache(
        index=index,
        settings=settings,
        cache=cache,
        question=question,
        top_k=top_k,
        allow_llm=allow_llm,
    )
    record_usage(db=db, settings=settings, identity=identity, endpoint=endpoint, answer=answer)
    return answer


def in_session(engine: Engine, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """`fn(db=<a new session>, **kwargs)`: for work that runs off the request's own session
    (on the answer pool's threads)."""
    with Session(engine, expire_on_commit=False) as db:
        return fn(db=db, **kwargs)
