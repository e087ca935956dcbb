"""Restoring a `folio backup` archive into an empty installation.

Everything is checked before anything is written: the archive opens (no absolute paths, links
or devices), every file's sha256 and size match the manifest, the manifest's format is known,
the database kind, schema, collection and embedding model match this installation, the schema
revision is one this code knows, this installation's key pepper is the one the archive's
secrets were made with, and the target holds no rows, points or documents. Then the
vectors go into place (FolioIndex.import_vectors), the database is restored (pg_restore in one
transaction, or SQLite's backup API), an older schema is migrated to head, and the restored
row and point counts are compared with the manifest.
"""

from __future__ import annotations

import hmac
import json
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.secrets import configured_secret, ensure_secrets, secrets_dir
from app.core.security import pepper_fingerprint
from app.core.settings import Settings
from app.db import dump, migrate
from app.db.database import make_engine
from app.ops.backup import FORMAT, FORMAT_VERSION, MANIFEST, BackupFailed, sha256_of
from app.services.index_holder import index_on_app_database
from app.services.pepper import SHOWN, mismatch_message, reset_pepper
from indexes.backup import BackupError
from indexes.folio_index import FolioIndex
from indexes.stores import StoreError, StoreLockedError


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    seconds: float
    migrated_from: str | None = None


def restore_backup(*, settings: Settings, archive: Path, new_pepper: bool = False) -> RestoreResult:
    """Restore `archive` into this (empty) installation; refuse anything that does not check
    out, before touching the installation. `new_pepper`: the archive's pepper is lost; restore
    anyway and record this installation's (every API key and TOTP secret must be reissued)."""
    started = time.perf_counter()
    if not archive.is_file():
        raise BackupFailed(f"{archive}: no such file")
    scratch_root = settings.storage_dir.parent if settings.storage_dir.parent.is_dir() else None
    with tempfile.TemporaryDirectory(prefix=".folio-restore-", dir=scratch_root) as tmp:
        root = Path(tmp)
        manifest = _unpack(archive, root)
        _verify_files(manifest, root)
        _check_fits(settings, manifest)
        if not new_pepper:
            _check_pepper(settings, manifest["database"].get("key_pepper_fingerprint"))
        _check_empty(settings)
        try:
            FolioIndex.import_vectors(settings.index, root / "vectors")
        except BackupError as exc:
            raise BackupFailed(str(exc)) from None
        database = manifest["database"]
        try:
            if database["kind"] == "sqlite":
                dump.restore_sqlite(root / database["file"], settings.database.url)
            else:
                dump.restore_postgres(
                    root / database["file"],
                    settings.database.url,
                    dumped_with=manifest["versions"]["pg_dump"],
                )
        except dump.DumpError as exc:
            raise BackupFailed(f"vectors restored, database not: {exc}") from None
    migrated_from = None
    if database["alembic_revision"] != migrate.head_revision():
        migrate.upgrade(settings.database.url)  # an older archive: bring it to this code's head
        migrated_from = database["alembic_revision"]
    _check_counts(settings, manifest)
    if new_pepper:
        _adopt_pepper(settings)
    return RestoreResult(manifest, time.perf_counter() - started, migrated_from)


def _unpack(archive: Path, root: Path) -> dict[str, Any]:
    """Extract safely (no absolute paths, links or devices) and read the manifest."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(root, filter="data")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BackupFailed(
            f"{archive.name} is corrupted or not a Folio backup ({type(exc).__name__}: {exc})"
        ) from None
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        raise BackupFailed(
            f"{archive.name} has no readable {MANIFEST}: not a Folio backup"
        ) from None
    if manifest.get("format") != FORMAT:
        raise BackupFailed(f"{archive.name} is not a Folio backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupFailed(
            f"{archive.name} has backup format {manifest.get('format_version')}; "
            f"this Folio reads format {FORMAT_VERSION}"
        )
    return manifest


def _verify_files(manifest: dict[str, Any], root: Path) -> None:
    listed = manifest.get("files") or {}
    present = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    if present - set(listed):
        raise BackupFailed(
            f"archive holds files its manifest does not list: {sorted(present - set(listed))[:3]}"
        )
    for rel, expected in listed.items():
        path = root / rel
        if not path.is_file():
            raise BackupFailed(f"archive is missing {rel}")
        if path.stat().st_size != expected["bytes"] or sha256_of(path) != expected["sha256"]:
            raise BackupFailed(f"checksum mismatch for {rel}: the archive is corrupted")


def _check_fits(settings: Settings, manifest: dict[str, Any]) -> None:
    from indexes.backup import check_compatible

    database = manifest["database"]
    kind = dump.kind_of(settings.database.url)
    if database["kind"] != kind:
        raise BackupFailed(
            f"the archive holds a {database['kind']} database; this installation uses {kind}"
        )
    if database["alembic_revision"] not in migrate.known_revisions():
        raise BackupFailed(
            f"the archive's schema revision {database['alembic_revision']} is unknown here "
            f"(head {migrate.head_revision()}): restore with the Folio release that made it"
        )
    if kind == "postgresql":
        engine = make_engine(settings.database.url)
        try:
            _, schema = dump.server_info(engine)
        finally:
            engine.dispose()
        if schema != database["schema"]:
            raise BackupFailed(
                f"the archive's tables live in schema {database['schema']!r}; "
                f"this connection's schema is {schema!r}"
            )
    try:
        check_compatible(settings.index, manifest["vectors"])
    except BackupError as exc:
        raise BackupFailed(str(exc)) from None


def _check_pepper(settings: Settings, recorded: str | None) -> None:
    """The archive's keys and TOTP secrets need the pepper they were made with, which the
    archive does not hold: refuse (before anything is written) when this installation has
    none or another one. An archive without a fingerprint (made before there was one) cannot
    be checked; the first start then records whichever pepper it has."""
    if recorded is None:
        return
    pepper = configured_secret(settings, "key_pepper")
    if pepper is None:
        raise BackupFailed(
            f"the archive's API keys, recovery codes and TOTP secrets were made with a "
            f"FOLIO_KEY_PEPPER (fingerprint {recorded[:SHOWN]}…), which backups never hold: "
            "set FOLIO_KEY_PEPPER to that value, or put the original key_pepper file into "
            f"{secrets_dir(settings)}/ (mode 0600), then restore again; if it is lost for "
            f"good, {NEW_PEPPER} restores anyway (every API key and TOTP secret must then be "
            "issued again)"
        )
    current = pepper_fingerprint(pepper)
    if not hmac.compare_digest(current.encode(), recorded.encode()):
        raise BackupFailed(
            mismatch_message(recorded, current, what="the archive", reset=NEW_PEPPER)
        )


NEW_PEPPER = "`folio restore --new-pepper`"


def _adopt_pepper(settings: Settings) -> None:
    """After a restore with `new_pepper`: this installation's pepper (generated if none) is
    the one the database belongs to from now on."""
    ensure_secrets(settings)
    engine = make_engine(settings.database.url)
    try:
        reset_pepper(engine=engine, pepper=settings.auth.pepper())
    finally:
        engine.dispose()


def _check_empty(settings: Settings) -> None:
    from indexes.backup import check_empty

    engine = make_engine(settings.database.url)
    try:
        rows = {t: n for t, n in dump.row_counts(engine).items() if n}
    finally:
        engine.dispose()
    if rows:
        summary = ", ".join(f"{t}: {n}" for t, n in list(rows.items())[:4])
        raise BackupFailed(
            f"the database is not empty ({summary}); restore needs an empty installation"
        )
    try:
        check_empty(settings.index)
    except StoreLockedError as exc:
        raise BackupFailed(f"{exc}: stop it before restoring") from None
    except (BackupError, StoreError) as exc:
        raise BackupFailed(str(exc)) from None


def _check_counts(settings: Settings, manifest: dict[str, Any]) -> None:
    """After the restore: the same rows and points as when the backup was made."""
    engine = make_engine(settings.database.url)
    try:
        rows = dump.row_counts(engine)
    finally:
        engine.dispose()
    if rows != manifest["database"]["rows"]:
        raise BackupFailed(
            f"restored rows {rows} differ from the manifest's {manifest['database']['rows']}"
        )
    index = index_on_app_database(settings, eager=False)
    try:
        points = index.point_count()
    finally:
        index.close()
    if points != manifest["vectors"]["counts"]["points"]:
        raise BackupFailed(
            f"restored {points} points; the manifest says {manifest['vectors']['counts']['points']}"
        )
