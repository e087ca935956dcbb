"""Holds the process's FolioIndex, building it at start-up and retrying when a store is down.

A Qdrant server that is unreachable at start-up must not crash the app: /health stays up,
/ready explains the problem, and the next request after it comes back builds the index.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from app.core.errors import ServiceUnavailable
from indexes.config import IndexConfig
from indexes.folio_index import FolioIndex
from indexes.stores import StoreError, describe_store

IndexFactory = Callable[..., FolioIndex]  # (cfg, *, ledger_url, create_schema) -> FolioIndex

log = logging.getLogger("folio.index")

RETRY_AFTER_S = 5.0


class IndexHolder:
    """Lazily (re)builds the FolioIndex; at most one build at a time, one try per interval."""

    def __init__(
        self,
        cfg: IndexConfig,
        factory: IndexFactory = FolioIndex,
        *,
        ledger_url: str | None = None,
    ) -> None:
        self.cfg = cfg
        self._factory = factory
        # the app's database holds the ledger; its migrations made the tables
        self._factory_kwargs: dict[str, Any] = (
            {"ledger_url": ledger_url, "create_schema": False} if ledger_url else {}
        )
        self._index: FolioIndex | None = None
        self.error: str | None = None
        self._last_try = 0.0
        self._lock = threading.Lock()

    def start(self) -> None:
        self._try_build()

    def get(self) -> FolioIndex:
        """The index, or ServiceUnavailable with the reason."""
        if self._index is None and time.monotonic() - self._last_try >= RETRY_AFTER_S:
            self._try_build()
        if self._index is None:
            raise ServiceUnavailable(self.error or "index not loaded")
        return self._index

    @property
    def loaded(self) -> FolioIndex | None:
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def _try_build(self) -> None:
        with self._lock:
            if self._index is not None:
                return
            self._last_try = time.monotonic()
            try:
                self._index = self._factory(self.cfg, **self._factory_kwargs)
                self.error = None
            except StoreError as exc:
                self.error = str(exc)
            except Exception as exc:  # connection errors from the Qdrant client, etc.
                self.error = (
                    f"{describe_store(self.cfg.vector_store)} is unreachable ({type(exc).__name__})"
                )
            if self.error:
                log.error("index unavailable: %s", self.error)


def open_index(
    settings: Any, *, index_cls: type[FolioIndex] = FolioIndex, **kwargs: Any
) -> FolioIndex:
    """A FolioIndex (or `index_cls`) for a CLI command: the app's database (migrated first when
    `database.auto_migrate`) holds the ledger, exactly as in the server."""
    from app.core.secrets import ensure_secrets
    from app.db import migrate

    ensure_secrets(settings)  # migrations need the key pepper
    if settings.database.auto_migrate:
        migrate.upgrade(settings.database.url, key_pepper=settings.auth.pepper())
    return index_on_app_database(settings, index_cls=index_cls, **kwargs)


def index_on_app_database(
    settings: Any, *, index_cls: type[FolioIndex] = FolioIndex, **kwargs: Any
) -> FolioIndex:
    """A FolioIndex whose ledger is the app's (already migrated) database, never the default
    SQLite file beside the vectors: backup, restore and the CLI must see the server's ledger."""
    return index_cls.from_config(
        settings.index, ledger_url=settings.database.url, create_schema=False, **kwargs
    )
