"""Running one job in this process: claim it, read the file, index it, record the outcome.

Whatever goes wrong ends in a job state, never in a lost job: a file that cannot be read or is
too large fails the job with the same code and message the request would have got; the store
being down, or this process stopping, puts the job back on the queue; an unexpected error fails
it with its type only (the log line has the job id; no traceback reaches the record).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.errors import FolioError, ServiceUnavailable, where
from app.core.settings import Settings
from app.db.database import session_scope
from app.db.models import ApiKey, Job
from app.services import jobs
from app.services.identity import Identity
from app.services.uploads import ingest_upload, job_budget
from indexes.folio_index import FolioIndex

log = logging.getLogger("folio.jobs")

STORE_RETRY_S = 10.0  # a job whose store is down waits this long before the next claim
PROGRESS_EVERY_S = 1.0  # at most one progress write a second
READ_SHARE = 0.1  # the progress a job has when its file is read and embedding starts


class InputMissing(FolioError):
    code, status = "input_missing", 410


class Interrupted(Exception):
    """This process is stopping: the job goes back to the queue."""


class ClaimLost(Exception):
    """Another worker took the job over (this one stopped renewing in time)."""


@dataclass(frozen=True)
class Outcome:
    job_id: str
    state: str  # succeeded | failed | queued (released) | lost


class JobRunner:
    """Runs jobs for one process: `run(job_id)` from any number of worker threads."""

    def __init__(
        self,
        *,
        db_engine: Engine,
        settings: Settings,
        index: Callable[[], FolioIndex],
        worker_id: str,
        stopping: threading.Event | None = None,
        requeue: Callable[[str, float], None] | None = None,
    ) -> None:
        self.db_engine = db_engine
        self.settings = settings
        self._index = index
        self.worker_id = worker_id
        self.stopping = stopping or threading.Event()
        # tells the queue about a released job (job id, delay in seconds): a Redis queue does
        # not hear of it otherwise until its sweeper runs
        self._requeue = requeue

    def run(self, job_id: str) -> Outcome | None:
        """Claim and run the job; None when it is not runnable (done, or held elsewhere)."""
        cfg = self.settings.jobs
        held = jobs.claim(self.db_engine, job_id, worker=self.worker_id, lease_s=cfg.lease_s)
        if held is None:
            return None
        if held.job.attempts > cfg.max_attempts:
            jobs.fail(
                self.db_engine,
                held,
                code="interrupted",
                message=f"the job was interrupted {cfg.max_attempts} times (a worker stopped "
                "while running it); upload the file again",
            )
            return Outcome(job_id, jobs.FAILED)
        if held.job.attempts > 1:
            log.warning("resuming job %s (claim %d)", job_id, held.job.attempts)
        with _Heartbeat(self.db_engine, held, lease_s=cfg.lease_s) as heartbeat:
            return self._execute(held, heartbeat)

    def _execute(self, held: jobs.Claim, heartbeat: _Heartbeat) -> Outcome:
        job = held.job
        started = time.perf_counter()
        index: FolioIndex | None = None
        try:
            data = jobs.read_input(self.db_engine, job.id)
            if data is None:
                raise InputMissing("the uploaded file is gone; upload it again")
            index = self._index()
            self._check(heartbeat)
            jobs.renew(self.db_engine, held, lease_s=self.settings.jobs.lease_s, stage="reading")
            with session_scope(self.db_engine) as db:
                result = ingest_upload(
                    db=db,
                    index=index,
                    settings=self.settings,
                    identity=_identity_of(db, job),
                    upload=jobs.upload_of(job, data),
                    budget=job_budget(self.settings),
                    progress=self._progress(held, heartbeat),
                )
        except (Interrupted, ServiceUnavailable) as exc:
            delay = 0.0 if isinstance(exc, Interrupted) else STORE_RETRY_S
            log.info("job %s back on the queue (%s)", job.id, type(exc).__name__)
            return self._release(held, delay)
        except ClaimLost:
            log.warning("job %s was taken over by another worker", job.id)
            return Outcome(job.id, "lost")
        except FolioError as exc:
            log.info("job %s failed: %s", job.id, exc.code)
            failed = jobs.fail(self.db_engine, held, code=exc.code, message=exc.message)
            return self._settled(held, failed, jobs.FAILED)
        except Exception as exc:
            if self.stopping.is_set():  # the index closed under a stopping process
                return self._release(held, 0.0)
            if (down := self._dependency_down(index)) is not None:
                log.warning("job %s waits: %s (%s)", job.id, down, type(exc).__name__)
                return self._release(held, STORE_RETRY_S)
            log.error("job %s failed type=%s at=%s", job.id, type(exc).__name__, where(exc))
            message = f"indexing failed ({type(exc).__name__}); the server log names job {job.id}"
            failed = jobs.fail(self.db_engine, held, code="internal", message=message)
            return self._settled(held, failed, jobs.FAILED)
        elapsed = time.perf_counter() - started
        log.info("job %s %s in %.1f s", job.id, result.status, elapsed)
        finished = jobs.finish(self.db_engine, held, result=result.model_dump())
        return self._settled(held, finished, jobs.SUCCEEDED)

    def _dependency_down(self, index: FolioIndex | None) -> str | None:
        """After an unexpected error: is the vector store or the database away? Then the job
        waits for them instead of failing (asked of them, not guessed from the error)."""
        if index is not None:
            try:
                index.check()  # StoreError, or the client's own connection error
            except Exception:
                return "the vector store is unreachable"
        try:
            with self.db_engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception:
            return "the database is unreachable"
        return None

    def _release(self, held: jobs.Claim, delay_s: float) -> Outcome:
        if not jobs.release(self.db_engine, held, delay_s=delay_s):
            return Outcome(held.job.id, "lost")
        if self._requeue is not None:
            try:
                self._requeue(held.job.id, delay_s)
            except Exception as exc:  # Redis away: the sweeper sends it later
                log.warning("job %s not re-queued type=%s", held.job.id, type(exc).__name__)
        return Outcome(held.job.id, jobs.QUEUED)

    @staticmethod
    def _settled(held: jobs.Claim, recorded: bool, state: str) -> Outcome:
        return Outcome(held.job.id, state if recorded else "lost")

    def _check(self, heartbeat: _Heartbeat) -> None:
        if self.stopping.is_set():
            raise Interrupted
        if heartbeat.lost:
            raise ClaimLost

    def _progress(self, held: jobs.Claim, heartbeat: _Heartbeat):  # type: ignore[no-untyped-def]
        """The pipeline's progress callback: records progress (at most once a second), and is
        where a stopping process or a lost claim stops the run, between batches."""
        last = 0.0
        lease_s = self.settings.jobs.lease_s

        def report(done: int, total: int, _doc: str) -> None:
            nonlocal last
            self._check(heartbeat)
            now = time.monotonic()
            if now - last < PROGRESS_EVERY_S and done < total:
                return
            last = now
            share = READ_SHARE + (1 - READ_SHARE) * (done / total if total else 0.0)
            renewed = jobs.renew(
                self.db_engine, held, lease_s=lease_s, stage="embedding", progress=share
            )
            if not renewed:
                raise ClaimLost

        return report


class _Heartbeat:
    """Renews the claim every third of the lease while the job runs (embedding a large file
    reports no progress for a while)."""

    def __init__(self, db_engine: Engine, held: jobs.Claim, *, lease_s: float) -> None:
        self._db_engine, self._held, self._lease_s = db_engine, held, lease_s
        self._done = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._loop, name="folio-job-lease", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._done.wait(self._lease_s / 3):
            try:
                if not jobs.renew(self._db_engine, self._held, lease_s=self._lease_s):
                    self.lost = True
                    return
            except Exception as exc:  # the database away for a moment: try again next beat
                log.warning("job lease renewal failed type=%s", type(exc).__name__)


def _identity_of(db: Session, job: Job) -> Identity:
    """Who submitted the job, for the document owner rules when it runs (the document may have
    been ingested by another key since the upload was accepted)."""
    key = None
    if job.owner.startswith("key:"):
        key = db.get(ApiKey, int(job.owner.removeprefix("key:")))
    scopes = frozenset({"ingest", "admin"} if job.owner_admin else {"ingest"})
    kind = "bootstrap" if job.owner == "bootstrap" else "api_key"
    return Identity(kind=kind, subject=job.owner, scopes=scopes, key=key)
