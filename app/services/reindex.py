"""Re-indexing the configured sources, reporting progress as plain events (for CLI and HTTP)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from app.core.metrics import observe_ingest
from indexes.engine import FolioIndex
from indexes.readers import ORIGIN_CONFIG


def reindex_events(index: FolioIndex) -> Iterator[dict]:
    """Run `index_sources` in a worker thread; yield progress events, then the summary."""
    events: queue.Queue[dict | None] = queue.Queue()

    def progress(done: int, total: int, doc_id: str) -> None:
        events.put({"event": "progress", "done": done, "total": total, "document": doc_id})

    def work() -> None:
        try:
            report = index.index_sources(progress=progress)
            observe_ingest(ORIGIN_CONFIG, report.counts())
            events.put({"event": "summary", **report.counts()})
        except Exception as exc:
            events.put({"event": "error", "message": f"re-index failed ({type(exc).__name__})"})
        finally:
            events.put(None)

    threading.Thread(target=work, name="folio-reindex", daemon=True).start()
    while (event := events.get()) is not None:
        yield event
