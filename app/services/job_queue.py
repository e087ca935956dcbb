"""How workers learn about jobs: a dramatiq queue in Redis when REDIS_URL is set, else the jobs
table itself. Either way the job's record and bytes are in the database and a worker runs it
only under an atomic claim (app/services/jobs.py), so a message delivered twice, or a job found
by two pollers, runs once.

Why dramatiq (over rq and arq): its workers are threads, which suits Folio's synchronous
indexing (ONNX Runtime releases the GIL while it embeds) and lets `folio serve` run a worker
inside itself without owning the main thread or signals: with the embedded Qdrant Edge store
only the server process may write the index. Its Redis broker acknowledges a message only after
the actor returns and gives the messages of a worker that stopped heart-beating to the others.
rq forks a process per job by default (the loaded model and the open store do not survive a
fork) and installs signal handlers, which need the main thread; arq runs jobs on an asyncio loop
of its own. The database stays the truth because this Redis may keep nothing on disk: a sweeper
in every worker process puts runnable jobs back on the queue (Redis restarted, a worker died).

Where jobs run:
- embedded store (the default): inside `folio serve` only (`jobs.workers` threads);
- a Qdrant server: in `folio serve` and in any number of `folio worker` processes, on any
  machine that reaches the database, Redis and Qdrant.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from app.core.settings import Settings
from app.db.models import utcnow
from app.services import jobs
from app.services.job_runner import JobRunner

log = logging.getLogger("folio.jobs")

ACTOR_NAME = "folio_run_job"
STOP_TIMEOUT_S = 10.0  # a stopping process waits this long for running jobs (they are released)


class JobQueue(Protocol):
    """Tells workers about jobs; `start` consumes them in this process."""

    kind: str

    def submit(self, job_id: str) -> None: ...

    def resend(self, job_id: str, delay_s: float) -> None: ...

    def start(self, runner: JobRunner, *, threads: int) -> None: ...

    def close(self) -> None: ...


def worker_id() -> str:
    """This process's name on the claims it takes: host, pid and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def make_queue(settings: Settings, db_engine: Engine) -> JobQueue:
    """The Redis queue when REDIS_URL is set, else the database one."""
    if settings.api.redis_url:
        return RedisQueue(settings, db_engine)
    return DatabaseQueue(settings, db_engine)


class DatabaseQueue:
    """No Redis: worker threads poll the jobs table every `jobs.poll_s` (and wake at once for
    jobs submitted by this process). Several processes may poll one database."""

    kind = "database"

    def __init__(self, settings: Settings, db_engine: Engine) -> None:
        self._settings, self._db_engine = settings, db_engine
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, job_id: str) -> None:
        self._wake.set()

    def resend(self, job_id: str, delay_s: float) -> None:
        """Nothing to send: pollers find a released job when it is due."""

    def start(self, runner: JobRunner, *, threads: int) -> None:
        self._stopping = runner.stopping
        for i in range(threads):
            thread = threading.Thread(
                target=self._loop, args=(runner,), name=f"folio-jobs-{i}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _loop(self, runner: JobRunner) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before looking: a job submitted meanwhile wakes the wait
            ran = False
            try:
                for job_id in jobs.runnable_ids(self._db_engine, limit=len(self._threads) + 1):
                    if self._stopping.is_set():
                        return
                    if runner.run(job_id) is not None:
                        ran = True
                        break
            except Exception as exc:  # the database away: try again at the next poll
                log.warning("job poll failed type=%s", type(exc).__name__)
            if not ran:
                self._wake.wait(self._settings.jobs.poll_s)

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=STOP_TIMEOUT_S)
        self._threads.clear()


class RedisQueue:
    """REDIS_URL: job ids on a dramatiq queue (namespace `jobs.queue_name`); every process
    with a started worker takes them."""

    kind = "redis"

    def __init__(self, settings: Settings, db_engine: Engine) -> None:
        import dramatiq
        from dramatiq.brokers.redis import RedisBroker

        self._settings, self._db_engine = settings, db_engine
        self.queue_name = settings.jobs.queue_name
        # No default middleware: no retries (a job's failure is recorded, not re-run by the
        # broker), no time limit (a large upload embeds for minutes), no Prometheus server.
        self.broker = RedisBroker(
            url=settings.api.redis_url, namespace=self.queue_name, middleware=[]
        )
        self._runner: JobRunner | None = None
        self._actor: Any = dramatiq.Actor(
            self._handle,
            broker=self.broker,
            actor_name=ACTOR_NAME,
            queue_name=self.queue_name,
            priority=0,
            options={},
        )
        self._worker: Any = None
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()

    def submit(self, job_id: str) -> None:
        """Put the job id on the queue; with Redis away the job waits in the database for the
        sweeper (every worker process runs one)."""
        try:
            self._actor.send(job_id)
        except Exception as exc:
            log.warning("job %s not queued in Redis yet type=%s", job_id, type(exc).__name__)

    def resend(self, job_id: str, delay_s: float) -> None:
        """A released job back on the queue, due after `delay_s` (dramatiq's delay queue)."""
        self._actor.send_with_options(args=(job_id,), delay=int(delay_s * 1000) or None)

    def start(self, runner: JobRunner, *, threads: int) -> None:
        from dramatiq import Worker

        self._runner = runner
        self._stopping = runner.stopping
        self._worker = Worker(
            self.broker, queues={self.queue_name}, worker_threads=threads, worker_timeout=1000
        )
        self._worker.start()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="folio-jobs-sweep")
        self._sweeper.daemon = True
        self._sweeper.start()

    def _handle(self, job_id: str) -> None:
        """The actor: run the job under its claim. Never raises, so the broker acknowledges
        the message whatever happened (the outcome is in the job record)."""
        if self._runner is None or not isinstance(job_id, str):
            return
        try:
            self._runner.run(job_id)
        except Exception as exc:  # the database away: the job stays runnable, the sweeper resends
            log.warning("job %s not run type=%s", job_id, type(exc).__name__)

    def sweep(self) -> list[str]:
        """Put runnable jobs back on the queue that were last sent more than a lease ago (lost
        with a Redis restart, claimed by a worker that crashed); returns their ids. While the
        queue holds messages (waiting or in flight) only jobs sent more than ten leases ago
        are sent again: the queue is probably bringing them, and duplicates stay few."""
        lease = self._settings.jobs.lease_s
        busy = self.broker.do_qsize(self.queue_name) > 0
        before = utcnow() - timedelta(seconds=lease * (10 if busy else 1))
        ids = jobs.runnable_ids(self._db_engine, limit=100, sent_before=before)
        for job_id in ids:
            self._actor.send(job_id)
        jobs.mark_sent(self._db_engine, ids)
        if ids:
            log.info("re-queued %d jobs found runnable in the database", len(ids))
        return ids

    def _sweep_loop(self) -> None:
        interval = max(self._settings.jobs.lease_s / 2, 1.0)
        while not self._stopping.is_set():
            try:
                self.sweep()
            except Exception as exc:
                log.warning("job sweep failed type=%s", type(exc).__name__)
            self._stopping.wait(interval)

    def close(self) -> None:
        self._stopping.set()
        if self._worker is not None:
            self._worker.stop(timeout=int(STOP_TIMEOUT_S * 1000))
            self._worker = None
        if self._sweeper is not None:
            self._sweeper.join(timeout=STOP_TIMEOUT_S)
        self.broker.close()


def start_jobs(
    settings: Settings, db_engine: Engine, *, index: Any, threads: int | None = None
) -> JobQueue:
    """The process's queue, consuming with `threads` workers (default `jobs.workers`) that
    index into `index()` (a callable: the server's index holder, or a worker's)."""
    queue = make_queue(settings, db_engine)
    threads = settings.jobs.workers if threads is None else threads
    if threads > 0:
        runner = JobRunner(
            db_engine=db_engine,
            settings=settings,
            index=index,
            worker_id=worker_id(),
            requeue=queue.resend,
        )
        queue.start(runner, threads=threads)
    return queue
