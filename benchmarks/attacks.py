"""Issue 25's attacks, rerunnable: each against a real `folio serve` on fresh storage, printing
what the server did (status, time, sizes, modes) as one JSON object.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/attacks.py [--methods 2000]
        [--slow-sockets 300] [--against ../main]

1. /metrics growth: N requests with random methods (`X<hex> /x`) and N to random paths on one
   keep-alive connection; /metrics size and time to serve it, before and after; the server's
   RSS growth; the new series count.
2. Ingest CPU: the issue's four examples (`"# h\\n" * 50000`, 500k `[`, an HTML bomb, 100k `>`)
   and a few relatives, each posted once: status, error code and seconds until the answer.
3. Storage modes: folders not 0700 and files not 0600 under storage/ after indexing,
   ingesting, registering and answering; the modes inside a backup archive.
6. Slow clients: S sockets each sending a partial POST body, S sending a partial head; how
   many the server closed and how long it took (the deadlines are lowered to 5 s here so the
   run is short; the shipped values are 10 s for the head, 30 s for the body).
7. `GET /usage?to=0`, `HEAD /widget.js`, `/ready` with nothing indexed.

With `--against PATH`, the same attacks also run against the server from another checkout
(e.g. ../main before the fixes), in the same run, with this checkout's Python environment;
its slow sockets are given `--slow-wait` seconds to be closed (the old server never closes
them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
ADMIN = "attack-bench-admin-key-0123456789abcdef"
INGEST_ATTACKS = {
    "50,000 headings (issue)": "# h\n" * 50_000,
    "500k [ (issue)": "[" * 500_000,
    "HTML bomb: 100k <div> (issue)": "<div>" * 100_000,
    "100k > (issue)": ">" * 100_000,
    "spaced HTML bomb: 50k '<div> '": "<div> " * 50_000,
    "nested quotes: 50k '> '": "> " * 50_000,
    "sentence bomb: 100k '. '": ". " * 100_000,
    "code fences: 100k": "```\n" * 100_000,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`folio serve` from `checkout` on fresh storage in `root`."""

    def __init__(self, checkout: Path, root: Path, *, timeouts: bool) -> None:
        self.checkout, self.root = checkout, root
        root.mkdir(parents=True)
        (root / "book").mkdir()
        (root / "book" / "salt.md").write_text(
            "# Salt\n\nSalt tightens gluten and slows fermentation.\n"
        )
        shipped = yaml.safe_load((REPO / "config.yaml").read_text())
        api = {"rate_limit_per_minute": 100_000, "rate_limit_per_day": 10_000_000}
        if timeouts:  # keys the old checkout does not know (its config refuses unknown keys)
            api |= {"header_timeout_s": 5, "body_timeout_s": 5}
            api |= {"ingest_rate_limit_per_minute": 10_000}
        config = {
            **{k: shipped[k] for k in ("embedding", "chunking", "runtime", "retrieval")},
            "environment": "test",
            "storage_dir": str(root / "storage"),
            "sources": [
                {"name": "b", "path": str(root / "book"), "globs": ["*.md"], "book": "Bench"}
            ],
            "vector_store": {"path": str(root / "storage" / "vectors")},
            "database": {"url": f"sqlite:///{root / 'storage' / 'folio.db'}"},
            "auth": {"admin_api_key": ADMIN, "bcrypt_rounds": 4},
            "api": api,
        }
        self.config = root / "config.yaml"
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(checkout)}

    def folio(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args, "--config", str(self.config)],
            cwd=self.checkout,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            preexec_fn=lambda: os.umask(0o022),  # a usual shell umask
        )

    def start(self) -> None:
        cmd = [sys.executable, "-m", "app.cli", "serve", "--config", str(self.config)]
        self.log = (self.root / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port)],
            cwd=self.checkout,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            preexec_fn=lambda: os.umask(0o022),
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.root / "server.log").read_text()[-2000:])
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# -- 1. /metrics ---------------------------------------------------------------------------


def metrics_snapshot(url: str) -> dict:
    started = time.perf_counter()
    r = httpx.get(f"{url}/metrics", timeout=120)
    seconds = time.perf_counter() - started
    lines = [ln for ln in r.text.splitlines() if ln.startswith("folio_http_")]
    return {
        "status": r.status_code,
        "bytes": len(r.content),
        "serve_s": round(seconds, 3),
        "http_series": len(lines),
    }


def random_methods(port: int, n: int, seed: int = 25) -> float:
    """n requests with made-up methods, then n to random paths, on one keep-alive socket."""
    rng = random.Random(seed)
    requests = [f"X{rng.getrandbits(32):08X} /x HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(n)]
    requests += [f"GET /{rng.getrandbits(64):016x} HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(n)]
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for raw in requests:
            sock.sendall(raw.encode())
            _read_response(sock)
    return time.perf_counter() - started


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        body += sock.recv(65536)
    return head


def attack_metrics(server: Server, n: int) -> dict:
    before = metrics_snapshot(server.url)
    rss = server.rss_mb()
    seconds = random_methods(server.port, n)
    after = metrics_snapshot(server.url)
    return {
        "requests": 2 * n,
        "send_s": round(seconds, 1),
        "before": before,
        "after": after,
        "new_http_series": after["http_series"] - before["http_series"],
        "rss_growth_mb": round(server.rss_mb() - rss, 1),
        "forwarded_by_untrusted_proxy": httpx.get(
            f"{server.url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}
        ).status_code,
    }


# -- 2. ingest -----------------------------------------------------------------------------


def attack_ingest(server: Server) -> dict:
    out = {}
    with httpx.Client(base_url=server.url, timeout=600) as client:
        for name, content in INGEST_ATTACKS.items():
            started = time.perf_counter()
            r = client.post(
                "/ingest",
                json={"chapter": name[:40], "content": content},
                headers={"X-API-Key": ADMIN},
            )
            seconds = time.perf_counter() - started
            body = r.json()
            out[name] = {
                "bytes": len(content.encode()),
                "status": r.status_code,
                "seconds": round(seconds, 2),
                "answer": body.get("error", {}).get("message", "")[:90]
                or f"accepted: {body.get('chunks')} chunks",
            }
    return out


# -- 3 and 4. storage modes and backups ------------------------------------------------------


def not_private(root: Path) -> list[str]:
    wrong = []
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        want = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        if stat.S_IMODE(info.st_mode) != want:
            wrong.append(f"{path.relative_to(root.parent)} {stat.S_IMODE(info.st_mode):o}")
    return wrong


def attack_storage(server: Server) -> dict:
    chapter = {"chapter": "Salt", "content": (server.root / "book" / "salt.md").read_text()}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        client.post("/ingest", json=chapter, headers={"X-API-Key": ADMIN}).raise_for_status()
        client.post(
            "/auth/register", json={"email": "r@example.com", "password": "a long passphrase!"}
        )
        client.post("/query", json={"query": "What does salt do?"})
    storage = server.root / "storage"
    wrong = not_private(storage)
    entries = sum(1 for _ in storage.rglob("*")) + 1
    return {"entries": entries, "not_owner_only": len(wrong), "examples": wrong[:6]}


def attack_backup(server: Server) -> dict:
    made = server.folio("backup", "--out", str(server.root / "backups"))
    if made.returncode != 0:
        return {"error": made.stderr.strip()[-300:]}
    (archive,) = sorted((server.root / "backups").glob("*.tar.gz"))
    with tarfile.open(archive) as tar:
        modes = sorted({f"{m.mode:o}" for m in tar.getmembers()})
    says_where = "key_pepper" in made.stdout
    return {
        "archive_mode": f"{stat.S_IMODE(archive.stat().st_mode):o}",
        "member_modes": modes,
        "prints_where_the_secrets_are": says_where,
    }


# -- 6. slow clients -------------------------------------------------------------------------


def attack_slow(server: Server, sockets: int, wait_s: float) -> dict:
    out = {}
    shapes = {
        "partial body": b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{",
        "partial head": b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Le",
    }
    for name, payload in shapes.items():
        conns = []
        for _ in range(sockets):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(payload)
            sock.setblocking(False)
            conns.append(sock)
        started = time.perf_counter()
        closed_at: dict[int, float] = {}
        status: dict[str, int] = {}
        while len(closed_at) < len(conns) and time.perf_counter() - started < wait_s:
            for i, sock in enumerate(conns):
                if i in closed_at:
                    continue
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    code = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "?"
                    status[code] = status.get(code, 0) + 1
                    continue
                closed_at[i] = time.perf_counter() - started
            time.sleep(0.05)
        for sock in conns:
            sock.close()
        times = sorted(closed_at.values())
        out[name] = {
            "sockets": sockets,
            "closed": len(times),
            "still_open_after_s": None if len(times) == sockets else round(wait_s, 1),
            "closed_after_s_median": round(times[len(times) // 2], 1) if times else None,
            "closed_after_s_max": round(times[-1], 1) if times else None,
            "responses": status,
        }
    return out


# -- 7. small ---------------------------------------------------------------------------------


def attack_small(server: Server) -> dict:
    admin = {"X-API-Key": ADMIN}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return {
            "GET /usage?to=0": client.get("/usage?to=0", headers=admin).status_code,
            "HEAD /widget.js": client.head("/widget.js").status_code,
            "/ready with 0 points": client.get("/ready").json()["status"],
        }


def run(checkout: Path, root: Path, args: argparse.Namespace, *, new: bool) -> dict:
    server = Server(checkout, root, timeouts=new)
    server.start()
    try:
        result = {"/ready before indexing": attack_small(server)}
        result["1 metrics"] = attack_metrics(server, args.methods)
        result["2 ingest"] = attack_ingest(server)
        result["3 storage"] = attack_storage(server)
        result["4 backup"] = attack_backup(server)
        result["6 slow clients"] = attack_slow(server, args.slow_sockets, args.slow_wait)
    finally:
        server.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", type=int, default=2000, help="random-method requests")
    parser.add_argument("--slow-sockets", type=int, default=300)
    parser.add_argument("--slow-wait", type=float, default=20.0, help="seconds to wait")
    parser.add_argument("--against", type=Path, help="another checkout to attack too")
    args = parser.parse_args()
    out: dict = {"command": " ".join(["benchmarks/attacks.py", *sys.argv[1:]])}
    out["load_average_1_5_15_at_start"] = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="folio-attacks-") as tmp:
        out["this checkout"] = run(REPO, Path(tmp) / "new", args, new=True)
        if args.against is not None:
            out[f"against {args.against}"] = run(
                args.against.resolve(), Path(tmp) / "old", args, new=False
            )
    print(json.dumps(out, indent=2))  # noqa: T201


if __name__ == "__main__":
    main()
