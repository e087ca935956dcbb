"""Job records: uploads indexed in the background, in the `jobs` table with their input bytes.

The database is the truth about a job; a queue (app/services/job_queue.py) only says "look at
job X". So a job survives a restart of every process and of Redis, and it runs once:

- a worker runs a job only after `claim` took it with one atomic UPDATE (state `queued`, or
  `running` under a claim whose lease expired); two workers told about the same job, or one
  told twice, cannot both win;
- the claim is a lease the worker renews while it works; a worker that crashed stops renewing,
  and the job is resumed by the next claim (ingest is idempotent: content already indexed is
  `unchanged`); after `jobs.max_attempts` claims it is failed, not retried forever;
- finishing, failing or releasing a job is conditional on still holding the claim, so a worker
  that lost its claim cannot overwrite the outcome of the one that took over.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from app.core.errors import NotFound
from app.core.settings import Settings
from app.db.database import session_scope
from app.db.models import ApiKey, Job, JobInput, utcnow
from app.services.identity import Identity
from app.services.ingest import IngestResult, owns
from app.services.uploads import Upload, check_owner, ingest_small_upload, runs_in_request
from indexes.folio_index import FolioIndex

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED)
MAX_MESSAGE_CHARS = 1000


def new_job(*, db: Session, identity: Identity, upload: Upload) -> Job:
    """Record an upload as a queued job, its bytes beside it, in one transaction."""
    job = Job(
        id=uuid.uuid4().hex,
        owner=identity.subject,
        owner_admin="admin" in identity.scopes,
        filename=upload.filename,
        media_type=upload.reader,
        size_bytes=len(upload.data),
        document_id=upload.document_id,
        book=upload.book,
        chapter=upload.chapter,
    )
    db.add(job)
    db.add(JobInput(job_id=job.id, data=upload.data))
    db.commit()
    db.refresh(job)
    return job


def upload_of(job: Job, data: bytes) -> Upload:
    """The checked upload a job was made from."""
    return Upload(
        filename=job.filename,
        reader=job.media_type,
        data=data,
        document_id=job.document_id,
        book=job.book,
        chapter=job.chapter,
    )


def get_job(*, db: Session, identity: Identity, job_id: str) -> Job:
    """A job its owner (or the owner's rotated key, or an admin) may see; 404 for anyone else,
    exactly as for an id that does not exist."""
    job = db.get(Job, job_id) if len(job_id) <= 32 else None
    if job is None or not owns(db=db, identity=identity, owner=job.owner):
        raise NotFound(f"job {job_id!r} not found")
    return job


def list_jobs(
    *,
    db: Session,
    identity: Identity | None,
    state: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Job], int]:
    """Newest first: the caller's own jobs (all of them for an admin, or `identity` None: the
    operator's CLI), and how many there are."""
    query = select(Job)
    count = select(func.count()).select_from(Job)
    if identity is not None and "admin" not in identity.scopes:
        owners = owner_subjects(db=db, identity=identity)
        query = query.where(col(Job.owner).in_(owners))
        count = count.where(col(Job.owner).in_(owners))
    if state is not None:
        query = query.where(Job.state == state)
        count = count.where(Job.state == state)
    query = query.order_by(col(Job.created_at).desc(), col(Job.id)).offset(offset).limit(limit)
    return list(db.exec(query).all()), int(db.exec(count).one())


def owner_subjects(*, db: Session, identity: Identity) -> list[str]:
    """The subjects whose jobs `identity` sees: its own and those of keys it replaced by
    rotation (the same rule as document ownership, `ingest.owns`)."""
    subjects = [identity.subject]
    if identity.key is None:
        return subjects
    current = identity.key.id
    for _ in range(50):
        previous = db.exec(select(ApiKey.id).where(ApiKey.replaced_by_id == current)).first()
        if previous is None:
            break
        subjects.append(f"key:{previous}")
        current = previous
    return subjects


# -- the claim protocol (each step one short transaction) --------------------------------------


@dataclass(frozen=True)
class Claim:
    """A job this worker holds: run it, renew it, then finish, fail or release it."""

    job: Job
    worker: str


def claim(db_engine: Engine, job_id: str, *, worker: str, lease_s: float) -> Claim | None:
    """Take the job if it is runnable (queued, due, or running under an expired lease); None
    when another worker holds it or it is finished. One UPDATE: atomic on SQLite and
    PostgreSQL alike."""
    now = utcnow()
    runnable = sa.or_(
        sa.and_(Job.state == QUEUED, col(Job.enqueued_at) <= now),
        sa.and_(Job.state == RUNNING, col(Job.lease_until) < now),
    )
    stmt = (
        sa.update(Job)
        .where(col(Job.id) == job_id, runnable)
        .values(
            state=RUNNING,
            stage="starting",
            worker=worker,
            lease_until=now + timedelta(seconds=lease_s),
            attempts=col(Job.attempts) + 1,
            started_at=func.coalesce(col(Job.started_at), now),
        )
    )
    with session_scope(db_engine) as db:
        if db.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
            db.rollback()
            return None
        db.commit()
        job = db.get(Job, job_id)
    return Claim(job=job, worker=worker) if job is not None else None


def renew(
    db_engine: Engine,
    held: Claim,
    *,
    lease_s: float,
    stage: str | None = None,
    progress: float | None = None,
) -> bool:
    """Extend the lease (and record progress); False when the claim was lost."""
    values: dict[str, Any] = {"lease_until": utcnow() + timedelta(seconds=lease_s)}
    if stage is not None:
        values["stage"] = stage
    if progress is not None:
        values["progress"] = round(min(max(progress, 0.0), 1.0), 4)
    return _update_held(db_engine, held, values)


def finish(db_engine: Engine, held: Claim, *, result: dict[str, Any]) -> bool:
    """Succeeded, with the ingest result; the input bytes are dropped."""
    return _settle(db_engine, held, state=SUCCEEDED, stage="done", result=result, progress=1.0)


def fail(db_engine: Engine, held: Claim, *, code: str, message: str) -> bool:
    """Failed, with a message safe to show (never a traceback); the input bytes are dropped."""
    return _settle(
        db_engine,
        held,
        state=FAILED,
        stage="failed",
        error_code=code[:64],
        error_message=message[:MAX_MESSAGE_CHARS],
    )


def release(db_engine: Engine, held: Claim, *, delay_s: float = 0.0) -> bool:
    """Back to the queue, not counted as an attempt (the server stops, the store is down):
    the next claim after `delay_s` runs it."""
    return _update_held(
        db_engine,
        held,
        {
            "state": QUEUED,
            "stage": "queued",
            "worker": None,
            "lease_until": None,
            "attempts": col(Job.attempts) - 1,
            "enqueued_at": utcnow() + timedelta(seconds=delay_s),
        },
    )


def read_input(db_engine: Engine, job_id: str) -> bytes | None:
    """The uploaded bytes of an unfinished job."""
    with session_scope(db_engine) as db:
        row = db.get(JobInput, job_id)
        return bytes(row.data) if row is not None else None


def runnable_ids(
    db_engine: Engine, *, limit: int, sent_before: datetime | None = None
) -> list[str]:
    """Jobs a worker could claim now, oldest first (`sent_before`: only those last put on the
    queue before then; the sweeper leaves recently sent ones alone)."""
    now = utcnow()
    sent = col(Job.enqueued_at) <= (sent_before or now)
    query = (
        select(Job.id)
        .where(
            sent,
            sa.or_(
                Job.state == QUEUED,
                sa.and_(Job.state == RUNNING, col(Job.lease_until) < now),
            ),
        )
        .order_by(col(Job.created_at))
        .limit(limit)
    )
    with session_scope(db_engine) as db:
        return list(db.exec(query).all())


def mark_sent(db_engine: Engine, job_ids: list[str]) -> None:
    """Record that jobs were put on the queue again (the sweeper's bookkeeping)."""
    if not job_ids:
        return
    with session_scope(db_engine) as db:
        db.execute(
            sa.update(Job)
            .where(col(Job.id).in_(job_ids), col(Job.state).in_((QUEUED, RUNNING)))
            .values(enqueued_at=utcnow())
        )
        db.commit()


def aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _update_held(db_engine: Engine, held: Claim, values: dict[str, Any]) -> bool:
    stmt = (
        sa.update(Job)
        .where(col(Job.id) == held.job.id, Job.worker == held.worker, Job.state == RUNNING)
        .values(**values)
    )
    with session_scope(db_engine) as db:
        changed = db.execute(stmt).rowcount == 1  # type: ignore[attr-defined]
        db.commit()
    return changed


def _settle(db_engine: Engine, held: Claim, **values: Any) -> bool:
    stmt = (
        sa.update(Job)
        .where(col(Job.id) == held.job.id, Job.worker == held.worker, Job.state == RUNNING)
        .values(**values, lease_until=None, finished_at=utcnow())  # `worker`: who ran it
    )
    with session_scope(db_engine) as db:
        if db.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
            db.rollback()
            return False
        db.execute(sa.delete(JobInput).where(col(JobInput.job_id) == held.job.id))
        db.commit()
    return True


def accept_upload(
    *,
    db: Session,
    index: FolioIndex,
    settings: Settings,
    identity: Identity,
    upload: Upload,
    submit: Callable[[str], None],
) -> IngestResult | Job:
    """Index a small upload now (its IngestResult), or record a job and queue it (the Job):
    over `api.sync_upload_max_bytes`, or more chunks than a request may embed."""
    check_owner(db=db, index=index, identity=identity, upload=upload)
    if runs_in_request(settings, upload):
        result = ingest_small_upload(
            db=db, index=index, settings=settings, identity=identity, upload=upload
        )
        if result is not None:
            return result
    job = new_job(db=db, identity=identity, upload=upload)
    submit(job.id)
    return job


def purge_jobs(*, db: Session, older_than: timedelta) -> int:
    """Delete finished jobs (succeeded or failed) that ended longer ago than `older_than`;
    how many. Queued and running jobs are never touched."""
    cutoff = utcnow() - older_than
    ended = sa.and_(col(Job.state).in_((SUCCEEDED, FAILED)), col(Job.finished_at) < cutoff)
    ids = list(db.exec(select(Job.id).where(ended)).all())
    if ids:
        db.execute(sa.delete(JobInput).where(col(JobInput.job_id).in_(ids)))
        db.execute(sa.delete(Job).where(col(Job.id).in_(ids)))
        db.commit()
    return len(ids)
