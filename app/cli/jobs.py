"""`folio jobs` (list upload jobs, `show` one) and `folio worker` (run them in this process)."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated

import typer
from rich.table import Table

from app.cli.common import ConfigOpt, cli_settings, console, database, fail

jobs_app = typer.Typer(
    help="Upload jobs (POST /documents): list them, show one, purge old ones.",
    invoke_without_command=True,
)

STATES = ("queued", "running", "succeeded", "failed")


@jobs_app.callback()
def jobs_list(
    ctx: typer.Context,
    config: ConfigOpt = None,
    state: Annotated[str | None, typer.Option(help="queued | running | succeeded | failed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List upload jobs, newest first: state, progress, file, document, owner, error."""
    if ctx.invoked_subcommand is not None:
        return
    from app.services.jobs import list_jobs

    if state is not None and state not in STATES:
        raise fail(f"--state must be one of {', '.join(STATES)}")
    with database(config) as (_, db):
        items, total = list_jobs(db=db, identity=None, state=state, limit=limit)
    table = Table(title=f"jobs: {len(items)} of {total}")
    for column in ("id", "state", "progress", "file", "document", "owner", "created", "error"):
        table.add_column(column, overflow="fold")
    for job in items:
        table.add_row(
            job.id,
            job.state,
            f"{job.progress:.0%}",
            job.filename,
            job.document_id,
            job.owner,
            job.created_at.isoformat(timespec="seconds"),
            job.error_message or "",
        )
    console.print(table)


@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[str, typer.Argument(help="The job id (from POST /documents or the list)")],
    config: ConfigOpt = None,
) -> None:
    """One job as JSON (as `GET /jobs/{id}` returns it)."""
    from app.api.schemas.jobs import JobPublic
    from app.db.models import Job

    with database(config) as (_, db):
        job = db.get(Job, job_id) if len(job_id) <= 32 else None
    if job is None:
        raise fail(f"job {job_id!r} not found")
    console.print_json(json.dumps(JobPublic.of(job).model_dump(mode="json")))


@jobs_app.command("purge")
def jobs_purge(
    days: Annotated[float, typer.Option(min=0, help="Finished more than this many days ago")] = 30,
    config: ConfigOpt = None,
) -> None:
    """Delete finished jobs (succeeded or failed) older than --days; run it from cron."""
    from datetime import timedelta

    from app.services.jobs import purge_jobs

    with database(config) as (_, db):
        count = purge_jobs(db=db, older_than=timedelta(days=days))
    console.print(f"deleted {count} finished jobs", highlight=False)


def worker(
    config: ConfigOpt = None,
    threads: Annotated[
        int | None, typer.Option(min=1, max=64, help="Jobs run at once (default jobs.workers)")
    ] = None,
) -> None:
    """Run upload jobs from the queue (Redis with REDIS_URL, else the database) until stopped.
    Needs a Qdrant server: the embedded store opens in one process, `folio serve`."""
    from app.db.database import make_engine
    from app.services.index_holder import IndexHolder
    from app.services.job_queue import start_jobs

    settings = cli_settings(config, check_paths=False)
    if not settings.vector_store.is_server:
        raise fail(
            "the embedded vector store opens in one process only, so upload jobs run inside "
            "`folio serve`; set QDRANT_URL (a Qdrant server) to run separate workers"
        )
    from app.core.secrets import ensure_secrets
    from app.db import migrate

    ensure_secrets(settings)
    if settings.database.auto_migrate:
        migrate.upgrade(settings.database.url, key_pepper=settings.auth.pepper())
    engine = make_engine(settings.database.url, settings.database)
    holder = IndexHolder(settings.index, ledger_url=settings.database.url)
    holder.start()
    count = threads or settings.jobs.workers or 1
    queue = start_jobs(settings, engine, index=holder.get, threads=count)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print(f"folio worker: {count} threads on the {queue.kind} queue", highlight=False)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        queue.close()  # a running job goes back on the queue for another worker
        holder.close()
        engine.dispose()
    console.print("folio worker stopped", highlight=False)
