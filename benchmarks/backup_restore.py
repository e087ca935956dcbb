"""Backup and restore time for the Rust book (../shared/textbooks/rust-book), SQLite or PostgreSQL.

Indexes the book once into `.folio-cache/bench-backup/` (local MiniLM, Qdrant local mode; reused
on later runs), adds a few accounts and usage rows, then times `create_backup` and
`restore_backup` (the same services `folio backup` / `folio restore` run) into a fresh empty
installation, and checks that the restored store answers a question with the same citations.
Prints one JSON object.

    .venv/bin/python benchmarks/backup_restore.py [--database-url postgresql://…/test] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CHAPTERS = REPO.parent / "shared" / "textbooks" / "rust-book" / "chapters"
CACHE = REPO / ".folio-cache" / "bench-backup"
QUESTION = "How do I borrow a value mutably?"


def write_config(root: Path, database_url: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "environment": "test",
        "storage_dir": str(root / "storage"),
        "sources": [
            {
                "name": "rust",
                "path": str(CHAPTERS),
                "globs": ["ch*.md"],
                "book": "The Rust Programming Language",
            }
        ],
        "vector_store": {"path": str(root / "storage" / "qdrant"), "collection": "rust"},
        "retrieval": {"mode": "hybrid"},
        "database": {"url": database_url},
        "auth": {"bcrypt_rounds": 4},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def indexed_storage() -> tuple[Path, float | None]:
    """The Rust book's storage folder, indexed once and cached; seconds spent indexing now."""
    from app.core.settings import load_settings
    from indexes.folio_index import FolioIndex

    done = CACHE / "storage" / ".complete"
    if done.exists():
        return CACHE / "storage", None
    shutil.rmtree(CACHE, ignore_errors=True)
    settings = load_settings(write_config(CACHE, "sqlite://"), environ={})
    started = time.perf_counter()
    index = FolioIndex.from_config(settings.index, eager=False)
    index.index_sources()
    index.close()
    done.write_text("")
    return CACHE / "storage", time.perf_counter() - started


def seed_database(url: str) -> None:
    """A few accounts, keys and usage rows, so the database part is not empty."""
    from sqlmodel import Session

    from app.db import migrate
    from app.db.database import make_engine
    from app.db.models import ApiKey, UsageRecord, User

    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as db:
        for i in range(50):
            db.add(User(email=f"reader{i}@example.com", password_hash="$2b$04$" + "x" * 53))
            db.add(
                ApiKey(
                    name=f"k{i}", prefix=uuid.uuid4().hex[:12], key_hash="0" * 64, scopes="query"
                )
            )
        for i in range(2000):
            db.add(
                UsageRecord(subject=f"ip:10.0.0.{i % 250}", endpoint="query", embedding_tokens=9)
            )
        db.commit()
    engine.dispose()


def citations(settings) -> list[str]:  # type: ignore[no-untyped-def]
    from app.services.index_holder import index_on_app_database

    # the app's database holds the ledger, as in `folio serve`; the cached store is copied in
    # without one, so the first open adopts its documents from their payloads (not timed)
    index = index_on_app_database(settings)
    try:
        return [s.node_id for s in index.query(QUESTION).sources]
    finally:
        index.close()


def pg_site_url(base: str) -> tuple[str, str]:
    """A fresh schema on the PostgreSQL at `base` (dropped at the end)."""
    import sqlalchemy as sa

    from app.db.database import make_engine

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(base: str, schema: str) -> None:
    import sqlalchemy as sa

    from app.db.database import make_engine

    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def wipe_database(url: str) -> None:
    import sqlalchemy as sa
    from sqlmodel import SQLModel

    from app.db.database import make_engine
    from indexes.ledger import metadata as ledger_metadata

    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink()
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        SQLModel.metadata.drop_all(conn)
        ledger_metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL base URL (default: SQLite)")
    parser.add_argument("--repeat", type=int, default=1, help="backup/restore rounds")
    args = parser.parse_args()
    if not CHAPTERS.is_dir():
        sys.exit(f"Rust book not found at {CHAPTERS}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from app.core.settings import load_settings
    from app.ops.backup import create_backup
    from app.ops.restore import restore_backup

    storage, index_s = indexed_storage()
    work = Path(tempfile.mkdtemp(prefix="folio-bench-backup-"))
    schema = None
    try:
        if args.database_url:
            url, schema = pg_site_url(args.database_url)
        else:
            url = f"sqlite:///{work / 'site' / 'folio.db'}"
        config = write_config(work / "site", url)
        settings = load_settings(config, environ={})
        backup_s, restore_s, sizes = [], [], []
        for _ in range(args.repeat):
            shutil.rmtree(work / "site" / "storage", ignore_errors=True)
            shutil.copytree(storage, work / "site" / "storage")
            seed_database(url)
            before = citations(settings)
            result = create_backup(settings=settings, out_dir=work / "backups")
            backup_s.append(result.seconds)
            sizes.append(result.archive.stat().st_size)
            shutil.rmtree(work / "site" / "storage")
            wipe_database(url)
            restored = restore_backup(settings=settings, archive=result.archive)
            restore_s.append(restored.seconds)
            assert citations(settings) == before, "restored store cites other passages"
            result.archive.unlink()
            wipe_database(url)
        counts = result.manifest["vectors"]["counts"]
        print(
            json.dumps(
                {
                    "corpus": "rust-book",
                    "database": "postgresql" if args.database_url else "sqlite",
                    "points": counts["points"],
                    "documents": counts["documents_config"],
                    "db_rows": sum(result.manifest["database"]["rows"].values()),
                    "archive_mb": round(statistics.median(sizes) / 1e6, 2),
                    "backup_s": round(statistics.median(backup_s), 2),
                    "restore_s": round(statistics.median(restore_s), 2),
                    "rounds": args.repeat,
                    "index_s_first_run": round(index_s, 1) if index_s else None,
                    "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
                    "cpus": os.cpu_count(),
                },
                indent=2,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if schema and args.database_url:
            drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()
