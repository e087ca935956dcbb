"""Answering questions: validate the question, ask the index, wrap store failures."""

from __future__ import annotations

import logging

from sqlmodel import Session

from app.core.errors import ServiceUnavailable, where
from app.core.settings import Settings
from app.core.textcheck import clean_text
from app.services.identity import Identity
from app.services.usage import llm_allowed, record_usage
from indexes.engine import FolioIndex
from indexes.models import Answer

log = logging.getLogger("folio.query")


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


def answer_and_record(
    *,
    db: Session,
    index: FolioIndex,
    settings: Settings,
    identity: Identity,
    question: str,
    top_k: int | None = None,
    endpoint: str = "query",
) -> Answer:
    """`answer_question` within the daily budget, with a usage record for the caller."""
    allow_llm = llm_allowed(db=db, settings=settings)
    answer = answer_question(
        index=index, settings=settings, question=question, top_k=top_k, allow_llm=allow_llm
    )
    record_usage(db=db, settings=settings, identity=identity, endpoint=endpoint, answer=answer)
    return answer
