"""`folio backup` and `folio restore` (the logic is in app/ops/backup.py and restore.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import ConfigOpt, cli_settings, console, fail


def backup(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Folder for the archive (default: backups/ beside storage)"
        ),
    ] = None,
    keep: Annotated[
        int | None, typer.Option("--keep", help="Keep only the newest N archives in the folder")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Write one archive: database, vectors and retrieval state, config.yaml, manifest."""
    from app.core.errors import FolioError
    from app.ops.backup import create_backup

    settings = cli_settings(config, check_paths=False)
    folder = out or settings.storage_dir.parent / "backups"
    try:
        result = create_backup(settings=settings, out_dir=folder, keep=keep)
    except FolioError as exc:
        raise fail(exc.message) from None
    m = result.manifest
    size_mb = result.archive.stat().st_size / 1e6
    console.print(f"backup {result.archive} ({size_mb:.1f} MB)", highlight=False)
    console.print(_summary(m) + f", {result.seconds:.1f} s", highlight=False)
    for path in result.removed:
        console.print(f"removed old backup {path.name}", highlight=False)
    _print_secrets_apart(settings)


def _print_secrets_apart(settings) -> None:  # type: ignore[no-untyped-def]
    """The archive leaves the server secrets out on purpose; say where they are, since a
    restore without the same FOLIO_KEY_PEPPER loses every API key and TOTP secret."""
    from app.core.secrets import secret_locations

    console.print(
        "not in the archive, keep them apart from it (a restore needs the same key pepper):",
        highlight=False,
    )
    for place in secret_locations(settings):
        console.print(f"  {place}", highlight=False, soft_wrap=True)


def restore(
    archive: Annotated[Path, typer.Argument(help="A folio-backup-*.tar.gz archive")],
    config: ConfigOpt = None,
    new_pepper: Annotated[
        bool,
        typer.Option(
            "--new-pepper",
            help="The archive's FOLIO_KEY_PEPPER is lost: restore anyway with this one "
            "(every API key, recovery code and TOTP secret must be issued again)",
        ),
    ] = False,
) -> None:
    """Restore an archive into this installation, which must be empty (new database, empty
    storage). Checksums, versions, the embedding model and the key pepper are checked first."""
    from app.core.errors import FolioError
    from app.ops.restore import restore_backup

    settings = cli_settings(config, check_paths=False)
    try:
        result = restore_backup(settings=settings, archive=archive, new_pepper=new_pepper)
    except FolioError as exc:
        raise fail(exc.message) from None
    console.print(f"restored {archive.name}: {_summary(result.manifest)}, {result.seconds:.1f} s")
    if result.migrated_from:
        console.print(f"database migrated from revision {result.migrated_from} to head")


def _summary(manifest: dict) -> str:
    rows = manifest["database"]["rows"]
    counts = manifest["vectors"]["counts"]
    documents = counts["documents_config"] + counts["documents_api"]
    return (
        f"{manifest['database']['kind']} ({rows.get('users', 0)} users, "
        f"{rows.get('chat_sessions', 0)} sessions, {rows.get('messages', 0)} messages), "
        f"{counts['points']} points, {documents} documents"
    )
