"""Load test: Folio (shipped config, FAQ cache on and off) against a plain-LlamaIndex server on
the same corpus, in one run, with 1, 10 and 100 closed-loop clients.

Each client sends a question, waits for the answer, sends the next (SciFact's 959 train + DEV
questions, each client starting at a different one). Rate limits are raised so they do not
interfere; everything else is the shipped config.yaml. Prints one JSON object: q/s, p50/p95/p99,
errors (by status) and degradation against one client, per server and level, plus each server's
peak RSS and time to /health, and Folio/plain throughput ratios.

    .venv/bin/python benchmarks/load_test.py [--corpus scifact] [--duration 30] [--levels 1 10 100]
        [--plain-store qdrant|simple]

The Folio index is copied from the eval cache when `folio eval` has built it (same config),
else built here; the plain index is built once and kept in .folio-cache/bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CACHE = REPO / ".folio-cache" / "bench"
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def questions(corpus: str) -> list[str]:
    from evals.datasets import load_dataset

    texts: list[str] = []
    for split in ("train", "dev"):
        try:
            texts += list(load_dataset(corpus, split=split).queries.values())
        except (FileNotFoundError, ValueError):
            continue
    return texts


# -- Folio's index for the corpus --------------------------------------------------------------


def folio_workdir(corpus: str) -> Path:
    """A config + storage for `folio serve` over the corpus (index copied or built once)."""
    import yaml

    from app.core.settings import load_settings
    from evals.datasets import load_dataset
    from evals.runner import DEFAULT_CACHE, index_key

    work = CACHE / f"folio-{corpus}"
    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    config = {
        **{k: shipped[k] for k in ("embedding", "retrieval", "synthesis", "runtime", "chunking")},
        "environment": "test",
        "storage_dir": str(work / "storage"),
        "sources": [],
        "vector_store": {"path": str(work / "storage" / "vectors")},
        "database": {"url": f"sqlite:///{work / 'storage' / 'folio.db'}"},
        "api": {"rate_limit_per_minute": 10_000_000, "rate_limit_per_day": 100_000_000},
        "auth": {"admin_api_key": "load-test-admin-key-0123456789abcdef"},
    }
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    if (work / "storage" / "vectors").is_dir():
        return work
    dataset = load_dataset(corpus, split="dev")
    settings = load_settings(work / "config.yaml", environ={})
    cached = REPO / DEFAULT_CACHE / index_key(dataset, settings.index)
    if (cached / "vectors").is_dir():
        print(f"copying the eval index {cached}", file=sys.stderr)
        shutil.copytree(cached / "vectors", work / "storage" / "vectors")
        shutil.copy(cached / "folio.db", work / "storage" / "folio.db")
        return work
    from app.services.index_holder import open_index

    print("building the Folio index (slow: every chunk is embedded)", file=sys.stderr)
    folio = open_index(settings, eager=False)
    try:
        folio.ingest_documents(dataset.documents(), origin="config")
        folio.maybe_optimize()
    finally:
        folio.close()
    return work


# -- servers -----------------------------------------------------------------------------------


class Server:
    def __init__(self, name: str, cmd: list[str], port: int, env: dict[str, str]) -> None:
        self.name, self.cmd, self.port, self.env = name, cmd, port, env
        self.proc: subprocess.Popen | None = None
        self.startup_s = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 1800) -> None:
        import httpx

        started = time.perf_counter()
        # the server's log goes to a file: an unread pipe fills up (64 KB of access lines) and
        # then blocks the server's logging, which stalls every request
        self.log = CACHE / f"{self.name}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    self.startup_s = time.perf_counter() - started
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start")

    def peak_rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- the load ----------------------------------------------------------------------------------


async def closed_loop(url: str, qs: list[str], clients: int, duration: float) -> dict:
    """`clients` workers, each asking, waiting, asking again, for `duration` seconds.

    The client is aiohttp on one keep-alive connection per worker: the load generator shares
    the machine's two cores with the server, and httpx spent a whole core on 120 q/s with 100
    connections (its pool), which capped what any server could show."""
    import aiohttp

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as client:
        stop_at = time.perf_counter() + duration

        async def worker(n: int) -> None:
            i = n * 7919  # each client starts elsewhere in the question list
            while time.perf_counter() < stop_at:
                question = qs[i % len(qs)]
                i += 1
                started = time.perf_counter()
                try:
                    async with client.post("/query", json={"query": question}) as response:
                        await response.read()
                        status = str(response.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = type(exc).__name__
                elapsed = (time.perf_counter() - started) * 1000
                statuses[status] = statuses.get(status, 0) + 1
                if status == "200":
                    latencies.append(elapsed)

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(clients)))
        wall = time.perf_counter() - began
    total = sum(statuses.values())
    return {
        "clients": clients,
        "requests": total,
        "qps": round(len(latencies) / wall, 1),
        "p50_ms": pct(latencies, 0.50),
        "p95_ms": pct(latencies, 0.95),
        "p99_ms": pct(latencies, 0.99),
        "errors": total - len(latencies),
        "statuses": statuses,
    }


def cache_lookups(url: str) -> dict[str, float]:
    """Folio's FAQ cache counters by result (exact_hit, semantic_hit, miss); {} elsewhere."""
    import httpx

    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    counts = {}
    for line in text.splitlines():
        if line.startswith('folio_faq_cache_lookups_total{result="'):
            result = line.split('"')[1]
            counts[result] = float(line.rsplit(" ", 1)[1])
    return counts


def run_levels(server: Server, qs: list[str], levels: list[int], duration: float) -> dict:
    server.start()
    try:
        asyncio.run(closed_loop(server.url, qs, 4, 3))  # warm-up, not recorded
        results = []
        for n in levels:
            before = cache_lookups(server.url)
            results.append(asyncio.run(closed_loop(server.url, qs, n, duration)))
            after = cache_lookups(server.url)
            if after:  # how much of this level the FAQ cache answered
                delta = {k: after[k] - before.get(k, 0.0) for k in after}
                total = sum(delta.values()) or 1.0
                results[-1]["cache"] = {k: round(v / total, 3) for k, v in sorted(delta.items())}
        base = results[0]["p50_ms"] or 1.0
        for r in results:
            r["p50_vs_1_client"] = round(r["p50_ms"] / base, 2)
        return {
            "startup_s": round(server.startup_s, 1),
            "peak_rss_mb": server.peak_rss_mb(),
            "levels": results,
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="scifact")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--plain-store", choices=["qdrant", "simple"], default="qdrant")
    args = parser.parse_args()

    qs = questions(args.corpus)
    work = folio_workdir(args.corpus)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    out: dict = {"corpus": args.corpus, "questions": len(qs), "duration_s": args.duration}
    servers = []
    if not args.skip_plain:
        port = free_port()
        cmd = [PY, str(REPO / "benchmarks" / "plain_server.py"), "--corpus", args.corpus]
        cmd += ["--store", args.plain_store]
        out["plain_store"] = args.plain_store
        servers.append(Server("plain_llamaindex", [*cmd, "--port", str(port)], port, env))
    for cache in ("on", "off"):
        port = free_port()
        cmd = [PY, "-m", "app.cli", "serve", "--config", str(work / "config.yaml")]
        if cache == "off":
            cfg = (work / "config.yaml").read_text()
            (work / "config-nocache.yaml").write_text(cfg + "cache:\n  enabled: false\n")
            cmd = [PY, "-m", "app.cli", "serve", "--config", str(work / "config-nocache.yaml")]
        servers.append(Server(f"folio_cache_{cache}", [*cmd, "--port", str(port)], port, env))
    for server in servers:
        print(f"load: {server.name}", file=sys.stderr)
        out[server.name] = run_levels(server, qs, args.levels, args.duration)
    if "plain_llamaindex" in out:
        plain = {r["clients"]: r["qps"] for r in out["plain_llamaindex"]["levels"]}
        for name in ("folio_cache_on", "folio_cache_off"):
            out[f"{name}_qps_over_plain"] = {
                str(r["clients"]): round(r["qps"] / max(plain[r["clients"]], 1e-9), 2)
                for r in out[name]["levels"]
            }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
