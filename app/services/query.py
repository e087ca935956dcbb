"""Answering questions: validate the question, ask the index, wrap store failures."""

from __future__ import annotations

import logging

from app.core.errors import ServiceUnavailable, where
from app.core.settings import Settings
from app.core.textcheck import clean_text
from indexes.engine import FolioIndex
from indexes.models import Answer

log = logging.getLogger("folio.query")


def answer_question(
    *, index: FolioIndex, settings: Settings, question: str, top_k: int | None = None
) -> Answer:
    """Answer with numbered citations; raises InvalidInput / ServiceUnavailable."""
    question = clean_text(question, field="query", max_chars=settings.api.max_query_chars)
    try:
        return index.query(question, top_k=top_k)
    except Exception as exc:
        # The store or the LLM failed; the client gets a stable code, the log gets the type.
        log.error("query failed type=%s at=%s", type(exc).__name__, where(exc))
        raise ServiceUnavailable("The answering backend is unavailable, try again later") from None
