"""Owner-only files: every folder Folio creates is 0700 and every file 0600.

The storage folder holds the documents' text (vector payloads), the SQLite database (password
hashes, encrypted TOTP secrets), the generated secrets and the handoff token; backups hold the
same. Files are created by Folio, SQLite, Qdrant Edge (Rust) and tar, so the one rule that
covers them all is the process umask, set once at start (`folio` commands and `create_app`).
A tree made by an older release (0755 / 0644) is tightened at start-up, with one warning.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("folio.storage")

PRIVATE_UMASK = 0o077  # new folders 0700, new files 0600


def use_private_umask() -> None:
    """From now on this process creates owner-only files and folders."""
    os.umask(PRIVATE_UMASK)


def tighten_storage(storage_dir: Path, vectors: Path | None) -> int:
    """Owner-only access to the storage folder itself and, recursively, to the embedded vector
    store's folder (both Folio's own; the storage folder's other contents may be the
    operator's). Secret files are not touched: one others could read is refused instead
    (app/core/secrets.py), since it may have been read. Returns how many entries changed."""
    changed = _tighten([storage_dir] if storage_dir.is_dir() else [])
    if vectors is not None and vectors.is_dir():
        changed += _tighten([vectors, *vectors.rglob("*")])
    if changed:
        log.warning(
            "storage: %d files or folders were readable by other users; now owner-only", changed
        )
    return changed


def _tighten(paths: list[Path]) -> int:
    """Remove group/other access (not following links); entries we cannot change (another
    owner) are left as they are."""
    changed = 0
    for path in paths:
        try:
            info = path.lstat()
        except OSError:
            continue  # removed meanwhile
        if stat.S_ISLNK(info.st_mode) or not stat.S_IMODE(info.st_mode) & 0o077:
            continue
        try:
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
            changed += 1
        except OSError:
            continue
    return changed
