"""Backups: one archive with the database, the vectors and retrieval state, `config.yaml` and a
manifest (versions, row and point counts, sha256 of every file). Restoring is in
app/ops/restore.py.

Archive layout (`folio-backup-<UTC time>.tar.gz`, mode 0600: it holds password hashes and
TOTP secrets):

    manifest.json
    config.yaml
    database/folio.sqlite | database/folio.pgdump
    vectors/…            (opaque: written by FolioIndex.export_vectors)

Not in the archive, by design: Redis (rate-limit windows and the FAQ cache rebuild themselves)
and the server secrets (JWT_SECRET, FOLIO_KEY_PEPPER, or their files in <storage_dir>/secrets:
keep them in your secret store, apart from the backups; `folio backup` says where they are).
API keys, recovery codes and TOTP secrets only verify with the same pepper: the manifest holds
its fingerprint, and restore refuses an installation with another pepper or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from app.core.errors import FolioError
from app.core.settings import Settings
from app.db import dump, migrate
from app.db.database import make_engine
from app.services.index_holder import index_on_app_database
from app.services.pepper import recorded_fingerprint
from indexes.backup import BackupError
from indexes.folio_index import FolioIndex
from indexes.stores import StoreError, StoreLockedError

FORMAT = "folio-backup"
FORMAT_VERSION = 1
PREFIX = "folio-backup-"
SUFFIX = ".tar.gz"
MANIFEST = "manifest.json"


class BackupFailed(FolioError):
    code, status = "backup_failed", 409


@dataclass
class BackupResult:
    archive: Path
    manifest: dict[str, Any]
    seconds: float
    removed: list[Path] = field(default_factory=list)


# -- backup -----------------------------------------------------------------------------------


def create_backup(*, settings: Settings, out_dir: Path, keep: int | None = None) -> BackupResult:
    """Write one archive into `out_dir`; with `keep`, delete all but the newest `keep`."""
    if keep is not None and keep < 1:
        raise BackupFailed("--keep must be at least 1")
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix=".folio-backup-", dir=out_dir) as tmp:
        staging = Path(tmp) / "archive"
        staging.mkdir()
        database = _dump_database(settings, staging / "database")
        vectors = _export_vectors(settings, staging / "vectors")
        config_file = settings.config_path
        if config_file is not None and config_file.is_file():
            shutil.copy2(config_file, staging / "config.yaml")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": _versions() | database.pop("versions"),
            "database": database,
            "vectors": vectors,
            "config": "config.yaml" if (staging / "config.yaml").is_file() else None,
            "files": _checksums(staging),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        archive = _archive_name(out_dir)
        partial = archive.with_name(archive.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # gzip level 3: the Rust book's 30 MB pack in 1 s (8.4 MB); level 9 took 29 s for 7.7 MB
        with (
            os.fdopen(fd, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w:gz", compresslevel=3) as tar,
        ):
            tar.add(staging / MANIFEST, arcname=MANIFEST, filter=_private)  # first: read alone
            for rel in sorted(manifest["files"]):
                tar.add(staging / rel, arcname=rel, recursive=False, filter=_private)
        os.replace(partial, archive)
    removed = _prune(out_dir, keep) if keep else []
    return BackupResult(archive, manifest, time.perf_counter() - started, removed)


def _private(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """Members unpack owner-only (0600), whatever the umask of whoever extracts them."""
    member.mode = 0o600
    return member


def _dump_database(settings: Settings, folder: Path) -> dict[str, Any]:
    folder.mkdir()
    url = settings.database.url
    kind = dump.kind_of(url)
    engine = make_engine(url)
    try:
        revision = migrate.current_revision(engine)
        rows = dump.row_counts(engine)
        pepper = recorded_fingerprint(engine)  # restore checks it: the pepper is not archived
    finally:
        engine.dispose()
    if revision is None:
        raise BackupFailed("the database has no Folio schema yet: run `folio db upgrade` first")
    name = "folio.sqlite" if kind == "sqlite" else "folio.pgdump"
    try:
        if kind == "sqlite":
            versions = dump.dump_sqlite(url, folder / name)
            schema = None
        else:
            versions = dump.dump_postgres(url, folder / name)
            schema = versions.pop("schema")
    except dump.DumpError as exc:
        raise BackupFailed(str(exc)) from None
    return {
        "kind": kind,
        "file": f"database/{name}",
        "alembic_revision": revision,
        "schema": schema,
        "rows": rows,
        "versions": versions,
        "key_pepper_fingerprint": pepper,
    }


EXPORT_PREFIX = ".export-"


def export_vectors_in_storage(*, index: FolioIndex) -> dict[str, Any]:
    """In the running server: export into a fresh folder under storage_dir (the CLI that
    asked reads it and deletes it); return its name and the export's metadata."""
    folder = index.cfg.storage_dir / f"{EXPORT_PREFIX}{secrets.token_hex(8)}"
    try:
        meta = index.export_vectors(folder)
    except BackupError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise BackupFailed(str(exc)) from None
    return {"folder": folder.name, "meta": meta}


def _export_via_server(settings: Settings, folder: Path) -> dict[str, Any] | None:
    """Local store held by a running `folio serve`: let it export (under its lock), then move
    the result here. None when no server runs."""
    import httpx

    from app.ops.handoff import HANDOFF_HEADER, find_server

    if settings.vector_store.is_server:
        return None
    server = find_server(settings.storage_dir)
    if server is None:
        return None
    try:
        response = httpx.post(
            f"{server.url}/admin/export-vectors",
            headers={HANDOFF_HEADER: server.token},
            timeout=3600,
        )
    except httpx.HTTPError as exc:
        raise BackupFailed(f"could not reach the running server at {server.url} ({exc})") from None
    if response.status_code != 200:
        message = response.json().get("error", {}).get("message", response.text)
        raise BackupFailed(f"the running server refused the export: {message}")
    body = response.json()
    exported = settings.storage_dir / body["folder"]
    try:
        shutil.move(str(exported), str(folder))
    finally:
        shutil.rmtree(exported, ignore_errors=True)
    return dict(body["meta"])


def _export_vectors(settings: Settings, folder: Path) -> dict[str, Any]:
    via_server = _export_via_server(settings, folder)
    if via_server is not None:
        return via_server
    try:
        index = index_on_app_database(settings, eager=False)
    except StoreLockedError as exc:
        raise BackupFailed(
            f"{exc}: stop it first (a consistent copy of local mode needs the folder)"
        ) from None
    except StoreError as exc:
        raise BackupFailed(str(exc)) from None
    try:
        return index.export_vectors(folder)
    except BackupError as exc:
        raise BackupFailed(str(exc)) from None
    finally:
        index.close()


def _versions() -> dict[str, str]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "folio": version("folio"),
        "python": platform.python_version(),
        "llama_index_core": version("llama-index-core"),
        "qdrant_client": version("qdrant-client"),
        "alembic_head": migrate.head_revision() or "",
    }


def _checksums(root: Path) -> dict[str, dict[str, Any]]:
    return {
        path.relative_to(root).as_posix(): {"sha256": sha256_of(path), "bytes": path.stat().st_size}
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _archive_name(out_dir: Path) -> Path:
    """`folio-backup-20261129T162801.123Z.tar.gz`: names sort by time (retention relies on it)."""
    while True:
        now = datetime.now(UTC)
        stamp = now.strftime("%Y%m%dT%H%M%S") + f".{now.microsecond // 1000:03d}Z"
        archive = out_dir / f"{PREFIX}{stamp}{SUFFIX}"
        if not archive.exists():
            return archive
        time.sleep(0.002)


def list_archives(out_dir: Path) -> list[Path]:
    """Archives in `out_dir`, oldest first (the names sort by time)."""
    return sorted(p for p in out_dir.glob(f"{PREFIX}*{SUFFIX}") if p.is_file())


def _prune(out_dir: Path, keep: int) -> list[Path]:
    archives = list_archives(out_dir)
    doomed = archives[: max(0, len(archives) - keep)]
    for path in doomed:
        path.unlink()
    return doomed
