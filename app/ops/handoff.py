"""Handing `folio index` to a running `folio serve`.

Qdrant's local mode lets one process open a storage folder. While a server runs, it writes
`<storage>/server.json` (mode 0600) with its URL and a random token; the CLI finds it and asks
the server to re-index over HTTP, so the server keeps answering and sees the new index at once.
Whoever can read that file can already write the index files, so the token grants nothing new.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HANDOFF_HEADER = "X-Folio-Handoff"


@dataclass
class ServerInfo:
    url: str
    token: str
    pid: int


def handoff_path(storage_dir: Path) -> Path:
    return storage_dir / "server.json"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def write_server_info(storage_dir: Path, *, host: str, port: int, token: str) -> Path:
    """Advertise this server to CLI processes on the same machine."""
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    path = handoff_path(storage_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": f"http://{connect_host}:{port}", "token": token, "pid": os.getpid()}, fh)
    os.replace(path.with_suffix(".tmp"), path)
    return path


def remove_server_info(storage_dir: Path) -> None:
    path = handoff_path(storage_dir)
    try:
        info = json.loads(path.read_text())
        if info.get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def find_server(storage_dir: Path) -> ServerInfo | None:
    """The running server for this storage folder, if its process is alive."""
    try:
        info = json.loads(handoff_path(storage_dir).read_text())
        server = ServerInfo(url=str(info["url"]), token=str(info["token"]), pid=int(info["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(server.pid, 0)
    except ProcessLookupError:
        return None  # stale file from a killed server
    except PermissionError:
        pass
    return server


def reindex_via_server(server: ServerInfo, timeout_s: float = 3600.0) -> Iterator[dict]:
    """Ask the server to re-index; yields its NDJSON progress events, the last one the summary."""
    import httpx

    with httpx.stream(
        "POST",
        f"{server.url}/admin/reindex",
        headers={HANDOFF_HEADER: server.token},
        timeout=timeout_s,
    ) as response:
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"server refused the re-index: HTTP {response.status_code}")
        for line in response.iter_lines():
            if line.strip():
                yield json.loads(line)
