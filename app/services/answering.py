"""Answering questions: the one path of `POST /query`, `POST /query/stream`,
`POST /sessions/{id}/messages` and its stream (and, without the request parts, `folio ask`).

Each request goes through each step once: `clean_text`; admission to the AnswerPool (503 +
Retry-After when full; a stream holds its place until it ends); one short database read for
the daily LLM budget (`llm_allowed`) and, in a session, the session and its history; the
condensing of a follow-up; the FAQ cache decision; the index; the error mapping (whatever the
index, the store or the LLM raises becomes BackendUnavailable); and one commit that stores the
usage record (and, in a session, the message). No database connection is held while the model
works: the pool is sized for short transactions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from app.core.errors import BackendUnavailable, FolioError, NotFound, where
from app.core.metrics import FAQ_CACHE
from app.core.settings import Settings
from app.core.textcheck import clean_text
from app.db.database import session_scope
from app.db.models import Message
from app.services.answer_pool import AnswerPool, Slot
from app.services.faq_cache import FaqCache
from app.services.identity import Identity
from app.services.sessions import Turn, add_message, get_session, history_of
from app.services.usage import count_usage, llm_allowed, usage_record
from indexes.answers import Answer, Usage
from indexes.folio_index import FolioIndex

log = logging.getLogger("folio.answering")


@contextmanager
def backend_errors(what: str) -> Iterator[None]:
    """FolioErrors pass; anything else the index, the store or the LLM raises is logged by type
    and place (never its message: it may hold SQL or a path) and becomes BackendUnavailable."""
    try:
        yield
    except FolioError:
        raise
    except Exception as exc:
        log.error("%s failed type=%s at=%s", what, type(exc).__name__, where(exc))
        raise BackendUnavailable() from None


@dataclass
class CacheProbe:
    """What the FAQ cache said about a question: a hit, or where the answer made instead is to
    be stored (namespace, embedding) and the tokens the lookup spent."""

    hit: Answer | None = None
    namespace: str = ""
    embedding: list[float] | None = None
    usage: Usage = field(default_factory=Usage)
    started: float = field(default_factory=time.perf_counter)

    def remember(self, cache: FaqCache | None, question: str, answer: Answer) -> None:
        """Count the lookup into a fresh answer (tokens, time) and cache it; a refusal is
        cached for this question only."""
        if cache is None or self.hit is not None:
            return
        answer.usage.embedding_tokens += self.usage.embedding_tokens
        answer.latency_ms = (time.perf_counter() - self.started) * 1000
        cache.store(self.namespace, question, self.embedding or [], answer)


def probe_cache(
    *, index: FolioIndex, cache: FaqCache | None, question: str, top_k: int | None, allow_llm: bool
) -> CacheProbe:
    """The cached answer of the same question (by its normalised text: not even an embedding)
    or of a near-identical one (by embedding), marked `cached`, under the namespace of the
    current index and config; else what `CacheProbe.remember` needs. No cache: a miss."""
    probe = CacheProbe()
    if cache is None:
        return probe
    probe.namespace = index.answer_namespace(top_k=top_k, allow_llm=allow_llm)
    hit = cache.lookup_exact(probe.namespace, question)
    if hit is not None:
        FAQ_CACHE.labels("exact_hit").inc()
        hit.usage = Usage()
    else:
        probe.embedding, probe.usage = index.embed_question(question)
        hit = cache.lookup(probe.namespace, probe.embedding)
        FAQ_CACHE.labels("semantic_hit" if hit is not None else "miss").inc()
        if hit is not None:
            hit.usage = probe.usage.model_copy()
    if hit is not None:
        hit.cached = True
        hit.latency_ms = (time.perf_counter() - probe.started) * 1000
        probe.hit = hit
    return probe


def answer_question(
    *,
    index: FolioIndex,
    settings: Settings,
    question: str,
    top_k: int | None = None,
    allow_llm: bool = True,
    cache: FaqCache | None = None,
) -> Answer:
    """A cited answer to `question` (cleaned here: InvalidInput when it is not a question),
    from the FAQ cache when one is given and it knows the question; BackendUnavailable when
    the index, the store or the LLM fails. The blocking core of `/query`, and `folio ask`."""
    question = clean_text(question, field="query", max_chars=settings.api.max_query_chars)
    return _answer(index=index, cache=cache, question=question, top_k=top_k, allow_llm=allow_llm)


def _answer(
    *,
    index: FolioIndex,
    cache: FaqCache | None,
    question: str,
    top_k: int | None,
    allow_llm: bool,
) -> Answer:
    with backend_errors("query"):
        probe = probe_cache(
            index=index, cache=cache, question=question, top_k=top_k, allow_llm=allow_llm
        )
        if probe.hit is not None:
            return probe.hit
        answer = index.query(question, top_k=top_k, allow_llm=allow_llm, embedding=probe.embedding)
    probe.remember(cache, question, answer)
    return answer


@dataclass
class Answerer:
    """Answers one request's question, alone or in a session, whole or streamed: what the
    request may use (gathered by the API's dependency) and the steps they share."""

    db_engine: Engine
    index: FolioIndex
    settings: Settings
    pool: AnswerPool
    cache: FaqCache | None
    identity: Identity

    async def answer(self, *, question: str, top_k: int | None = None) -> Answer:
        """`POST /query`: the answer, with its usage recorded for the caller."""
        question = self._clean(question)
        return await self.pool.run(self._answer_and_record, question, top_k)

    async def answer_in_session(
        self, *, session_id: str, question: str, top_k: int | None = None
    ) -> Message:
        """`POST /sessions/{id}/messages`: check the session, condense a follow-up into a
        standalone question from its history, answer that, store the message."""
        question = self._clean(question)
        return await self.pool.run(self._turn, session_id, question, top_k)

    async def stream(self, *, question: str, top_k: int | None = None) -> AnswerStream:
        """`POST /query/stream`: admitted and checked here (errors are plain JSON responses);
        the answer is produced as the returned stream is read."""
        question = self._clean(question)
        slot = self.pool.slot()
        try:
            allow_llm = await slot.run(self._llm_allowed)
        except BaseException:
            slot.close()
            raise
        return AnswerStream(
            self, slot, question=question, top_k=top_k, allow_llm=allow_llm, endpoint="query.stream"
        )

    async def stream_in_session(
        self, *, session_id: str, question: str, top_k: int | None = None
    ) -> AnswerStream:
        """`POST /sessions/{id}/messages/stream`: the session is checked and the question
        condensed before the stream starts; the message is stored when the answer is complete
        (not when the client went away)."""
        question = self._clean(question)
        slot = self.pool.slot()
        try:
            turn, allow_llm = await slot.run(self._begin_turn, session_id, question)
        except BaseException:
            slot.close()
            raise
        return AnswerStream(
            self,
            slot,
            question=turn.standalone,
            top_k=top_k,
            allow_llm=allow_llm,
            endpoint="sessions.messages.stream",
            turn=turn,
        )

    # -- the steps (blocking: they run on the answer pool's threads) -------------------------

    def _clean(self, question: str) -> str:
        return clean_text(question, field="query", max_chars=self.settings.api.max_query_chars)

    def _llm_allowed(self) -> bool:
        with session_scope(self.db_engine) as db:
            return llm_allowed(db=db, settings=self.settings)

    def _answer_and_record(self, question: str, top_k: int | None) -> Answer:
        answer = _answer(
            index=self.index,
            cache=self.cache,
            question=question,
            top_k=top_k,
            allow_llm=self._llm_allowed(),
        )
        self.record(answer, endpoint="query")
        return answer

    def _turn(self, session_id: str, question: str, top_k: int | None) -> Message:
        turn, allow_llm = self._begin_turn(session_id, question)
        answer = _answer(
            index=self.index,
            cache=self.cache,
            question=turn.standalone,
            top_k=top_k,
            allow_llm=allow_llm,
        )
        message = self.record(answer, endpoint="sessions.messages", turn=turn)
        assert message is not None  # record raises NotFound rather than return None for a turn
        return message

    def _begin_turn(self, session_id: str, question: str) -> tuple[Turn, bool]:
        """One short read (the session, its history, today's budget), then the condensing,
        with no connection held while an LLM rewrites the question."""
        with session_scope(self.db_engine) as db:
            session = get_session(
                db=db, settings=self.settings, identity=self.identity, session_id=session_id
            )
            history = history_of(db=db, session=session)
            allow_llm = llm_allowed(db=db, settings=self.settings)
        with backend_errors("condense"):
            standalone = self.index.condense(history, question, allow_llm=allow_llm)
        turn = Turn(session_id=session.id, question=question, standalone=standalone)
        return turn, allow_llm

    def record(self, answer: Answer, *, endpoint: str, turn: Turn | None = None) -> Message | None:
        """The usage record and, for a turn, the message, in one commit; then the usage
        metrics. NotFound when the turn's session was deleted meanwhile (the usage stays)."""
        with session_scope(self.db_engine) as db:
            record = usage_record(
                settings=self.settings, identity=self.identity, endpoint=endpoint, answer=answer
            )
            db.add(record)
            message = add_message(db=db, turn=turn, answer=answer) if turn else None
            db.commit()
            count_usage(db=db, settings=self.settings, record=record)
        if turn is not None and message is None:
            raise NotFound("No such session")
        return message


class AnswerStream:
    """One admitted answer as it is produced: text pieces (`str`), then the final `Answer`.

    Iterate it once. Each piece is computed on the answer pool only when the consumer asks for
    the next, so a client that disconnects stops retrieval and synthesis after the piece in
    flight; the index's iterator is then closed and the pool's place given back. An answer the
    FAQ cache knows comes as one piece. By the time the `Answer` arrives, its usage (and, in a
    session, `message`) is stored. Failures arrive as FolioErrors (BackendUnavailable for the
    index, the store or the LLM). `close()` ends a stream that was never read.
    """

    def __init__(
        self,
        answerer: Answerer,
        slot: Slot,
        *,
        question: str,
        top_k: int | None,
        allow_llm: bool,
        endpoint: str,
        turn: Turn | None = None,
    ) -> None:
        self.turn = turn
        self.message: Message | None = None
        self._answerer = answerer
        self._slot = slot
        self._question = question
        self._top_k = top_k
        self._allow_llm = allow_llm
        self._endpoint = endpoint
        self._pieces: Iterator[str | Answer] | None = None

    def __aiter__(self) -> AsyncIterator[str | Answer]:
        return self._produce()

    async def _produce(self) -> AsyncIterator[str | Answer]:
        try:
            probe = await self._slot.run(self._open)
            answer = probe.hit
            if answer is not None:
                yield answer.answer
            while answer is None:
                piece = await self._slot.run(self._next)
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    yield piece
            self.message = await self._slot.run(self._finish, probe, answer)
            yield answer
        finally:
            self.close()

    def close(self) -> None:
        """Give the pool's place back (once the piece in flight ends) and close the index's
        iterator. Idempotent."""
        self._slot.close(then=self._close_pieces)

    def _open(self) -> CacheProbe:
        a = self._answerer
        with backend_errors("stream"):
            probe = probe_cache(
                index=a.index,
                cache=a.cache,
                question=self._question,
                top_k=self._top_k,
                allow_llm=self._allow_llm,
            )
            if probe.hit is None:
                self._pieces = iter(
                    a.index.stream(
                        self._question,
                        top_k=self._top_k,
                        allow_llm=self._allow_llm,
                        embedding=probe.embedding,  # a cache miss embedded it already
                    )
                )
        return probe

    def _next(self) -> str | Answer:
        assert self._pieces is not None
        with backend_errors("stream"):
            piece = next(self._pieces, None)
        if piece is None:
            log.error("stream failed: the index ended without an answer")
            raise BackendUnavailable()
        return piece

    def _finish(self, probe: CacheProbe, answer: Answer) -> Message | None:
        probe.remember(self._answerer.cache, self._question, answer)
        with backend_errors("stream"):
            return self._answerer.record(answer, endpoint=self._endpoint, turn=self.turn)

    def _close_pieces(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
