"""The document ledger: which documents are indexed, with which content hash and chunk ids.

It lives in the database (SQLite by default, PostgreSQL in production), one row per document,
written in one short transaction per document, so ingest cost does not grow with the corpus and
every replica sees the same ledger. The app creates the tables with Alembic (migration 0003);
a notebook gets them from `create_schema()`.

A write is two-phase, which is what makes `kill -9` safe (see `indexes/pipeline.py`):
`begin` marks the row `writing` before any point is written; `commit` records the new hash and
chunk ids and marks it `indexed`; `settle` clears the flag once stale points are gone. Rows not
`indexed` after a crash name exactly the documents whose points must be checked.

Why a table and not LlamaIndex's docstore: the docstore keeps each document's hash and node ids
as JSON blobs across three collections; a table with columns lets the ledger be listed, paged,
owned and migrated like the rest of the database, and updated in one transaction per document.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)

metadata = MetaData()

documents = Table(
    "documents",
    metadata,
    Column("id", String(512), primary_key=True),
    Column("origin", String(16), nullable=False, index=True),
    Column("content_hash", String(128), nullable=True),  # null until first commit
    Column("chunk_ids", Text, nullable=False, default="[]"),  # JSON list, reading order
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("book", String(300), nullable=True),
    Column("chapter", String(300), nullable=True),
    Column("owner", String(128), nullable=True),  # who ingested it (API documents)
    Column("state", String(16), nullable=False, default="indexed"),  # indexed|writing|deleting
    Column("indexed_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

index_state = Table(
    "index_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("version", Integer, nullable=False, default=0),
)

INDEXED, WRITING, DELETING = "indexed", "writing", "deleting"


@dataclass
class LedgerEntry:
    """One indexed document."""

    id: str
    origin: str
    content_hash: str | None
    chunk_ids: list[str] = field(default_factory=list)
    book: str | None = None
    chapter: str | None = None
    owner: str | None = None
    state: str = INDEXED
    indexed_at: datetime | None = None

    @property
    def chunk_count(self) -> int:
        return len(self.chunk_ids)


def _now() -> datetime:
    return datetime.now(UTC)


def _entry(row: Any) -> LedgerEntry:
    indexed_at = row.indexed_at
    if indexed_at is not None and indexed_at.tzinfo is None:  # SQLite drops the zone
        indexed_at = indexed_at.replace(tzinfo=UTC)
    return LedgerEntry(
        id=row.id,
        origin=row.origin,
        content_hash=row.content_hash,
        chunk_ids=json.loads(row.chunk_ids or "[]"),
        book=row.book,
        chapter=row.chapter,
        owner=row.owner,
        state=row.state,
        indexed_at=indexed_at,
    )


def make_ledger_engine(url: str) -> Engine:
    """An engine for the ledger; SQLite gets WAL and a busy timeout so a reader never blocks a
    writer and concurrent writers wait instead of failing."""
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    for plain in ("postgres://", "postgresql://"):  # SQLAlchemy 2.1 defaults to psycopg 3
        if url.startswith(plain):
            url = "postgresql+psycopg2://" + url.removeprefix(plain)
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)


class SqlLedger:
    """The ledger over one SQLAlchemy engine (thread-safe: one short transaction per call)."""

    def __init__(self, engine: Engine, *, version_ttl_s: float = 1.0) -> None:
        self.engine = engine
        self._version_ttl_s = version_ttl_s
        self._version: tuple[float, int] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, create_schema: bool = False) -> SqlLedger:
        ledger = cls(make_ledger_engine(url))
        if create_schema:
            ledger.create_schema()
        return ledger

    def create_schema(self) -> None:
        """Tables for use outside the app (notebooks, evals); the app uses Alembic."""
        metadata.create_all(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self.engine.begin() as conn:
            yield conn

    # -- reads -------------------------------------------------------------------------------

    def get(self, doc_id: str) -> LedgerEntry | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(documents).where(documents.c.id == doc_id)).first()
        return _entry(row) if row is not None else None

    def hashes(self, origin: str) -> dict[str, str | None]:
        """doc id → content hash of every document of one origin."""
        query = select(documents.c.id, documents.c.content_hash).where(documents.c.origin == origin)
        with self.engine.connect() as conn:
            return {row.id: row.content_hash for row in conn.execute(query)}

    def entries(
        self, *, origin: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[LedgerEntry]:
        query = select(documents).order_by(documents.c.id).offset(offset)
        if origin is not None:
            query = query.where(documents.c.origin == origin)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def count(self, origin: str | None = None) -> int:
        query = select(func.count()).select_from(documents)
        if origin is not None:
            query = query.where(documents.c.origin == origin)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def chunk_total(self) -> int:
        query = select(func.coalesce(func.sum(documents.c.chunk_count), 0)).where(
            documents.c.state == INDEXED
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def unsettled(self) -> list[LedgerEntry]:
        """Rows a crash may have left mid-write or mid-delete."""
        query = select(documents).where(documents.c.state != INDEXED)
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def version(self) -> int:
        """Bumped by every commit and delete; cached for `version_ttl_s` (other replicas' writes
        show up within that time, this process's at once)."""
        now = time.monotonic()
        cached = self._version
        if cached is not None and now - cached[0] < self._version_ttl_s:
            return cached[1]
        with self.engine.connect() as conn:
            value = conn.execute(
                select(index_state.c.version).where(index_state.c.name == "documents")
            ).scalar()
        self._version = (now, int(value or 0))
        return self._version[1]

    # -- writes ------------------------------------------------------------------------------

    def begin(
        self,
        doc_id: str,
        *,
        origin: str,
        owner: str | None = None,
    ) -> LedgerEntry | None:
        """Mark a document `writing` (creating its row if new); returns the previous entry."""
        with self._tx() as conn:
            row = conn.execute(select(documents).where(documents.c.id == doc_id)).first()
            values = {"state": WRITING, "updated_at": _now()}
            if row is None:
                conn.execute(
                    insert(documents).values(
                        id=doc_id,
                        origin=origin,
                        content_hash=None,
                        chunk_ids="[]",
                        chunk_count=0,
                        owner=owner,
                        **values,
                    )
                )
                return None
            conn.execute(update(documents).where(documents.c.id == doc_id).values(**values))
            return _entry(row)

    def commit(
        self,
        doc_id: str,
        *,
        content_hash: str,
        chunk_ids: Sequence[str],
        settled: bool,
        book: str | None = None,
        chapter: str | None = None,
        owner: str | None = None,
    ) -> None:
        """Record the new version; `settled=False` while stale points may remain."""
        values: dict[str, Any] = {
            "book": book,
            "chapter": chapter,
            "content_hash": content_hash,
            "chunk_ids": json.dumps(list(chunk_ids)),
            "chunk_count": len(chunk_ids),
            "state": INDEXED if settled else WRITING,
            "indexed_at": _now(),
            "updated_at": _now(),
        }
        if owner is not None:
            values["owner"] = owner
        with self._tx() as conn:
            conn.execute(update(documents).where(documents.c.id == doc_id).values(**values))
            self._bump(conn)

    def adopt(
        self,
        doc_id: str,
        *,
        origin: str,
        content_hash: str,
        chunk_ids: Sequence[str],
        book: str | None,
        chapter: str | None,
    ) -> None:
        """A row for a document whose points exist without one (see Indexer.recover)."""
        with self._tx() as conn:
            conn.execute(
                insert(documents).values(
                    id=doc_id,
                    origin=origin,
                    content_hash=content_hash,
                    chunk_ids=json.dumps(list(chunk_ids)),
                    chunk_count=len(chunk_ids),
                    book=book,
                    chapter=chapter,
                    owner=None,
                    state=INDEXED,
                    indexed_at=_now(),
                    updated_at=_now(),
                )
            )
            self._bump(conn)

    def settle(self, doc_id: str) -> None:
        with self._tx() as conn:
            conn.execute(
                update(documents)
                .where(documents.c.id == doc_id)
                .values(state=INDEXED, updated_at=_now())
            )

    def begin_delete(self, doc_id: str) -> None:
        with self._tx() as conn:
            conn.execute(
                update(documents)
                .where(documents.c.id == doc_id)
                .values(state=DELETING, updated_at=_now())
            )
            self._bump(conn)

    def remove(self, doc_id: str) -> None:
        with self._tx() as conn:
            conn.execute(delete(documents).where(documents.c.id == doc_id))
            self._bump(conn)

    def _bump(self, conn: Any) -> None:
        updated = conn.execute(
            update(index_state)
            .where(index_state.c.name == "documents")
            .values(version=index_state.c.version + 1)
        ).rowcount
        if not updated:
            conn.execute(insert(index_state).values(name="documents", version=1))
        with self._lock:
            self._version = None  # this process sees its own writes at once
