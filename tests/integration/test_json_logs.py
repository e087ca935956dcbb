"""JSON logs of a real `folio serve` in production mode: every line is one JSON object with the
standard fields, access lines carry route/status/latency/identity kind and the request id, and
no line of a full scenario (register, login, TOTP, refresh, keys, ingest, query, chat,
feedback, errors) holds a password, token, API key, TOTP secret or code, or recovery code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.utils.builders import REPO, write_config
from tests.utils.http import free_port

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple 42"
ADMIN_KEY = "bootstrap-admin-key-for-log-test-0123456789"
JWT_SECRET = "jwt-secret-for-the-log-test-0123456789abcdef"
PEPPER = "key-pepper-for-the-log-test-0123456789abcdef"
STANDARD = {"timestamp", "level", "logger", "message"}
ACCESS = {"request_id", "method", "route", "status", "latency_ms", "identity"}


def _start(tmp_path: Path) -> tuple[subprocess.Popen, str, Path]:
    book = tmp_path / "book"
    book.mkdir()
    config = write_config(
        tmp_path,
        book,
        environment="production",
        embedding={"provider": "mock", "dimensions": 8},
        retrieval={"similarity_cutoff": 0.0},
        auth={"bcrypt_rounds": 4},
        api={"rate_limit_per_minute": 4},
    )
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "JWT_SECRET": JWT_SECRET,
        "FOLIO_KEY_PEPPER": PEPPER,
        "FOLIO_ADMIN_API_KEY": ADMIN_KEY,
        "LOG_LEVEL": "DEBUG",  # the most verbose level must not leak either
    }
    log_path = tmp_path / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url, log_path
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.3)


def _scenario(url: str) -> tuple[list[str], list[str]]:
    """Drive every credential-handling path; return (secrets, totp codes) that were used."""
    secrets: list[str] = [PASSWORD, ADMIN_KEY, JWT_SECRET, PEPPER]
    codes: list[str] = []
    email = "logged@example.com"
    with httpx.Client(base_url=url, timeout=60) as c:
        assert (
            c.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
        )
        tokens = c.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
        secrets += [tokens["access_token"], tokens["refresh_token"]]
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        # TOTP: enroll, a wrong code, confirm, then log in with a code and a recovery code
        enroll = {"password": PASSWORD}
        enrolled = c.post("/auth/totp/enroll", json=enroll, headers=bearer).json()
        secrets += [enrolled["secret"], enrolled["otpauth_uri"]]
        totp = pyotp.TOTP(enrolled["secret"])
        assert (
            c.post("/auth/totp/confirm", json={"code": "000001"}, headers=bearer).status_code == 401
        )
        code = totp.at(time.time() - 30)
        codes.append(code)
        recovery = c.post("/auth/totp/confirm", json={"code": code}, headers=bearer).json()
        secrets += recovery["recovery_codes"]
        login = {"email": email, "password": PASSWORD}
        assert c.post("/auth/login", json=login).status_code == 401  # mfa_required
        now = totp.now()
        codes.append(now)
        second = c.post("/auth/login", json={**login, "totp_code": now}).json()
        secrets += [second["access_token"], second["refresh_token"]]
        assert c.post("/auth/login", json={**login, "totp_code": now}).status_code == 401  # replay
        third = c.post(
            "/auth/login", json={**login, "recovery_code": recovery["recovery_codes"][0]}
        )
        assert third.status_code == 200
        secrets += [third.json()["access_token"], third.json()["refresh_token"]]
        refreshed = c.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
        secrets += [refreshed["access_token"], refreshed["refresh_token"]]
        wrong = c.post("/auth/login", json={"email": email, "password": PASSWORD + "x"})
        assert wrong.status_code == 401
        secrets.append(PASSWORD + "x")
        # API keys: the bootstrap key creates one; it is used by header and as a bearer
        admin = {"X-API-Key": ADMIN_KEY}
        created = c.post(
            "/keys", json={"name": "ingester", "scopes": ["ingest", "query"]}, headers=admin
        )
        assert created.status_code == 201, created.text
        key = created.json()["key"]
        secrets.append(key)
        rotated = c.post(
            f"/keys/{created.json()['id']}/rotate", json={"grace": "1h"}, headers=admin
        )
        secrets.append(rotated.json()["key"])
        ingest = c.post(
            "/ingest",
            json={"chapter": "Logs", "content": "Autolyse rests flour and water before salt."},
            headers={"X-API-Key": key},
        )
        assert ingest.status_code == 200, ingest.text
        r = c.post(
            "/query",
            json={"query": "What is autolyse?"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200
        # reader: anonymous query, a session with a message and feedback, a caller's request id
        r = c.post(
            "/query", json={"query": "Why rest the dough?"}, headers={"X-Request-ID": "lb-7f3a"}
        )
        assert r.status_code == 200 and r.headers["x-request-id"] == "lb-7f3a"
        session = c.post("/sessions").json()
        secrets.append(session["id"])  # an anonymous reader's only credential
        msg = c.post(f"/sessions/{session['id']}/messages", json={"query": "And salt?"}).json()
        rate = {"rating": 1, "session_id": session["id"]}
        fb = c.post(f"/messages/{msg['id']}/feedback", json=rate).json()
        assert fb["rating"] == 1
        # errors: bad key, bad bearer, validation, unknown route, rate limit
        bad_key = "fk_AAAAAAAAAAAA_not-a-real-key-but-shaped-like-one"
        secrets.append(bad_key)
        assert c.post("/ingest", json={}, headers={"X-API-Key": bad_key}).status_code == 401
        assert (
            c.get(
                "/auth/me", headers={"Authorization": "Bearer eyJhbGciOi.eyJzdWIi.sig"}
            ).status_code
            == 401
        )
        assert c.post("/query", json={"query": ""}).status_code == 422
        assert c.get("/nowhere").status_code == 404
        statuses = [c.post("/query", json={"query": "Salt?"}).status_code for _ in range(5)]
        assert 429 in statuses
        c.get("/metrics")
    return secrets, codes


def test_every_log_line_is_json_with_fields_and_no_secrets(tmp_path: Path) -> None:
    proc, url, log_path = _start(tmp_path)
    try:
        secrets, codes = _scenario(url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    assert len(lines) > 20
    events = []
    for line in lines:
        event = json.loads(line)  # every line is one JSON object: no stray text, no traceback
        assert STANDARD <= set(event), line
        events.append(event)
    access = [e for e in events if e["logger"] == "folio.access"]
    for event in access:
        assert ACCESS <= set(event), event
        assert re.fullmatch(r"[A-Za-z0-9._:\-]+", event["request_id"])
    kinds = {e["identity"] for e in access}
    assert {"user", "api_key", "bootstrap", "anonymous"} <= kinds
    routes = {(e["route"], e["status"]) for e in access}
    assert ("/auth/login", 200) in routes and ("/query", 429) in routes
    assert ("/sessions/{session_id}/messages", 200) in routes  # the template, not the id
    assert any(e["request_id"] == "lb-7f3a" and e["route"] == "/query" for e in access)
    assert any(e["logger"].startswith("uvicorn") for e in events)  # uvicorn's lines too
    text = "\n".join(lines)
    for secret in secrets:
        assert secret not in text, f"secret leaked into the logs: {secret[:12]}…"
    for event in events:  # 6-digit codes: the timestamp's microseconds may match by chance
        rest = json.dumps({k: v for k, v in event.items() if k != "timestamp"})
        for code in codes:
            assert not re.search(rf"(?<!\d){code}(?!\d)", rest), f"TOTP code in {rest}"


async def test_incoming_request_id_is_kept_when_plain_and_replaced_when_not(tmp_path: Path):
    from tests.utils.apps import make_settings, running

    async with running(make_settings(tmp_path)) as client:
        kept = await client.get("/nowhere", headers={"X-Request-ID": "edge-42.a"})
        assert kept.headers["x-request-id"] == "edge-42.a"
        assert kept.json()["error"]["request_id"] == "edge-42.a"
        odd = await client.get("/nowhere", headers={"X-Request-ID": "a b\tc"})
        assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"])
        assert odd.json()["error"]["request_id"] == odd.headers["x-request-id"]
        big = await client.post("/ingest", content=b"x" * 3_000_000, headers={"X-Request-ID": "r1"})
        assert big.status_code == 413 and big.json()["error"]["request_id"] == "r1"
