"""Re-indexing the configured sources, reporting progress as plain events (for CLI and HTTP).

A running server re-reads its config file on every re-index request, so a source added to
config.yaml is indexed by the next `folio index` even while `folio serve` holds the store.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from app.core.metrics import observe_ingest
from app.core.settings import ConfigError, Settings, load_settings
from indexes.config import IndexConfig
from indexes.folio_index import FolioIndex
from indexes.readers import ORIGIN_CONFIG


def reindex_events(index: FolioIndex, *, settings: Settings | None = None) -> Iterator[dict]:
    """Run `index_sources` in a worker thread; yield progress events, then the summary.

    With `settings` loaded from a file, that file is read again first and a `config` event
    says what it found: its sources replace the running ones for this and later re-indexes;
    changes to other index sections (chunking, embedding, store, retrieval, synthesis) need a
    restart and are listed under `restart_needed`. A config that no longer loads is an `error`
    event with its one-line message, and nothing is indexed."""
    if settings is not None and settings.config_path is not None:
        try:
            fresh = load_settings(settings.config_path)
        except ConfigError as exc:
            yield {"event": "error", "message": f"config error: {exc}"}
            return
        yield config_event(index.cfg, fresh, path=str(settings.config_path))
        index.cfg = index.cfg.model_copy(update={"sources": fresh.sources})
    yield from _run(index)


def config_event(running: IndexConfig, fresh: Settings, *, path: str) -> dict:
    """What re-reading the config changed, as the CLI shows it."""
    before = {s.name for s in running.sources}
    after = [s.name for s in fresh.sources]
    return {
        "event": "config",
        "path": path,
        "sources": after,
        "added_sources": [n for n in after if n not in before],
        "removed_sources": sorted(before - set(after)),
        "restart_needed": [
            name
            for name in IndexConfig.model_fields
            if name != "sources" and getattr(fresh, name) != getattr(running, name)
        ],
    }


def _run(index: FolioIndex) -> Iterator[dict]:
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
