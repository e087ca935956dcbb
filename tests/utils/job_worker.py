"""A job worker process for tests: `python -m tests.utils.job_worker CONFIG` runs
`start_jobs` (the code behind `folio worker`) with a mock-embedding index over the config's own
storage folder and ledger, until SIGTERM. Two of them on one jobs database and one Redis stand
for workers on two machines (which in production share a Qdrant server)."""

from __future__ import annotations

import signal
import sys
import threading


def main(config: str) -> None:
    from app.core.settings import load_settings
    from app.db.database import make_engine
    from app.services.job_queue import start_jobs
    from tests.utils.apps import mock_index

    settings = load_settings(config, environ={})
    index = mock_index(settings.index)  # its own vectors and ledger (storage_dir)
    engine = make_engine(settings.database.url, settings.database)
    queue = start_jobs(settings, engine, index=lambda: index, threads=1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.wait(0.2):
        pass
    queue.close()
    index.close()
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
