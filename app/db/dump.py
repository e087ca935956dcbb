"""Dumping and restoring Folio's tables: SQLite through its online backup API, PostgreSQL with
`pg_dump --format=custom` / `pg_restore` (the client tools must be at least the server's major
version; both are checked and named in the error).

Only Folio's own tables (the SQLModel metadata, the document ledger of `indexes/ledger.py` and
`alembic_version`) are dumped, in the schema
the connection's search_path points at, so a database shared with other applications is not
swept into the archive. The password travels in PGPASSWORD, never on a command line.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import SQLModel

import app.db.models  # noqa: F401  (fills SQLModel.metadata)
from app.db.database import make_engine, normalise_url
from indexes.ledger import metadata as ledger_metadata

VERSION_TABLE = "alembic_version"


class DumpError(Exception):
    """The dump or restore cannot go ahead; one line, safe to print (no password)."""


def kind_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def folio_tables() -> list[str]:
    """Folio's tables, parents before children (the order a restore must create them). The
    ledger (`documents`, `index_state`) belongs with them: without it a restored index has to
    re-adopt its points, and API documents lose their owner."""
    return [t.name for t in [*SQLModel.metadata.sorted_tables, *ledger_metadata.sorted_tables]]


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per Folio table (missing tables count as 0)."""
    present = set(sa.inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in folio_tables():
            if table in present:
                quoted = engine.dialect.identifier_preparer.quote(table)
                counts[table] = int(
                    conn.execute(sa.text(f"SELECT count(*) FROM {quoted}")).scalar()
                )
            else:
                counts[table] = 0
    return counts


# -- SQLite -----------------------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    path = make_url(url).database
    if not path or path == ":memory:":
        raise DumpError("an in-memory SQLite database cannot be backed up")
    return Path(path)


def dump_sqlite(url: str, target: Path) -> dict[str, str]:
    """A consistent copy of a live SQLite database (writers may keep writing meanwhile)."""
    source = sqlite_path(url)
    if not source.is_file():
        raise DumpError(f"SQLite database {source} does not exist")
    _copy_sqlite(source, target)
    return {"sqlite": sqlite3.sqlite_version}


def restore_sqlite(source: Path, url: str) -> None:
    """Replace the database at `url` with `source`, page by page (the file may exist, empty)."""
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy_sqlite(source, target)


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup API, source opened read-only: page by page, consistent."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


# -- PostgreSQL -------------------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DumpError(
            f"{name} not found: install the PostgreSQL client tools (postgresql-client)"
        )
    return path


def _major(text: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", text)
    if match is None:
        raise DumpError(f"cannot read a version from {text!r}")
    return int(match.group(1))


def tool_version(name: str) -> str:
    """`15.20` from `pg_dump (PostgreSQL) 15.20 (Debian …)`."""
    out = subprocess.run([_tool(name), "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"\)\s+(\d+(?:\.\d+)*)", out.stdout)
    if match is None:
        raise DumpError(f"cannot read {name}'s version from {out.stdout.strip()!r}")
    return match.group(1)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URL without the password, and an environment carrying it."""
    parsed: URL = make_url(normalise_url(url))
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def server_info(engine: Engine) -> tuple[str, str]:
    """(server version, current schema)."""
    with engine.connect() as conn:
        version = str(conn.execute(sa.text("SHOW server_version")).scalar())
        schema = str(conn.execute(sa.text("SELECT current_schema()")).scalar())
    return version.split()[0], schema


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
        detail = lines[-1] if lines else f"exit code {result.returncode}"
        raise DumpError(f"{what} failed: {detail}")


def dump_postgres(url: str, target: Path) -> dict[str, str]:
    """`pg_dump --format=custom` of Folio's tables in the connection's schema."""
    client = tool_version("pg_dump")
    engine = make_engine(url)
    try:
        server, schema = server_info(engine)
        present = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if _major(client) < _major(server):
        raise DumpError(
            f"pg_dump {client} cannot dump a PostgreSQL {server} server; "
            f"install postgresql-client-{_major(server)}"
        )
    tables = [t for t in [*folio_tables(), VERSION_TABLE] if t in present]
    if not tables:
        raise DumpError(f"no Folio tables in schema {schema!r}: run `folio db upgrade` first")
    conninfo, env = _libpq(url)
    command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"]
    command += [f"--table={_qualified(schema, t)}" for t in tables]
    command += [f"--file={target}", f"--dbname={conninfo}"]
    _run(command, env, "pg_dump")
    return {"pg_dump": client, "postgresql_server": server, "schema": schema}


def restore_postgres(source: Path, url: str, *, dumped_with: str) -> None:
    """`pg_restore` in one transaction; existing (empty) Folio tables are dropped first."""
    client = tool_version("pg_restore")
    if _major(client) < _major(dumped_with):
        raise DumpError(
            f"pg_restore {client} cannot read a dump made by pg_dump {dumped_with}; "
            f"install postgresql-client-{_major(dumped_with)}"
        )
    conninfo, env = _libpq(url)
    command = [
        _tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={conninfo}",
        str(source),
    ]
    _run(command, env, "pg_restore")


def _qualified(schema: str, table: str) -> str:
    # pg_dump's --table takes a pattern: quote both parts so names are matched literally
    return f'"{schema}"."{table}"'
