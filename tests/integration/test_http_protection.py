"""Requests and responses: CORS allow-list, security headers, body size, control characters,
HTML-escaped output, sanitised errors and logs, SQL-injection payloads."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from app.core.secrets import ensure_secrets
from app.db.models import ApiKey, User
from tests.utils.apps import ADMIN_KEY, admin, make_settings, running
from tests.utils.http import assert_error_shape

pytestmark = pytest.mark.integration

GOOD, EVIL = "https://reader.example", "https://evil.example"
LEAKS = re.compile(
    r"Traceback|File \"|/work/|/tmp/|site-packages|SELECT |INSERT |sqlite3\.|psycopg"
)


async def test_cors_only_for_allowed_origins(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path, api={"allowed_origins": [GOOD]})) as client:
        pre = {"Access-Control-Request-Method": "POST"}
        ok = await client.options("/query", headers={"Origin": GOOD, **pre})
        assert ok.headers.get("access-control-allow-origin") == GOOD
        bad = await client.options("/query", headers={"Origin": EVIL, **pre})
        assert "access-control-allow-origin" not in bad.headers
        r = await client.get("/health", headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in r.headers


async def test_security_headers_body_limit_and_control_characters(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api={"max_ingest_bytes": 1000})
    async with running(settings) as client:
        r = await client.get("/health")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        big = {"chapter": "x", "content": "a" * 200_000}
        r = await client.post("/ingest", json=big, headers=admin())
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        for body in ({"query": "bread\u0000"}, {"query": "bread\u0007 rise"}):
            r = await client.post("/query", json=body)
            assert r.status_code == 422, body
        r = await client.post(
            "/auth/register", json={"email": "a\u0000@example.com", "password": "p" * 12}
        )
        assert r.status_code == 422
        assert (await client.delete("/documents/api:a%00b", headers=admin())).status_code == 400


async def test_script_never_comes_back_executable(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path)) as client:
        payload = "<script>alert(1)</script>"
        doc = {
            "chapter": f"Hydration {payload}",
            "content": f"Hydration is water over flour. {payload} Hydration matters.",
        }
        assert (await client.post("/ingest", json=doc, headers=admin())).status_code == 200
        r = await client.post("/query", json={"query": f"What is hydration? {payload}"})
        assert r.status_code == 200
        body = r.json()
        assert r.headers["content-type"].startswith("application/json")
        assert body["sources"], "the ingested chapter should be retrieved"
        assert any("<script>" in s["text"] for s in body["sources"])  # raw field: data as stored
        for html in [body["answer_html"], *(s["text_html"] for s in body["sources"])]:
            assert "<script" not in html.lower()
        assert any("&lt;script&gt;" in s["text_html"] for s in body["sources"])


async def test_errors_and_logs_leak_no_trace_sql_path_or_secret(tmp_path: Path, caplog) -> None:
    """A broken table makes SQLAlchemy raise with SQL in the message; neither the response
    nor any log line may show it, nor a traceback, a path or a secret."""
    settings = make_settings(tmp_path)
    ensure_secrets(settings)  # its start-up line names the secrets folder, on purpose
    caplog.set_level(logging.DEBUG)
    async with running(settings) as client:
        key = (
            await client.post("/keys", json={"name": "k", "scopes": ["ingest"]}, headers=admin())
        ).json()["key"]
        with client.app.state.db_engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE api_keys"))
        responses = [
            await client.post(
                "/ingest", json={"chapter": "c", "content": "x"}, headers={"X-API-Key": key}
            ),
            await client.post("/query", json={"query": "x", "top_k": "'; DROP TABLE users; --"}),
            await client.post("/query", content=b"{not json"),
            await client.post("/auth/login", json={"email": "x@example.com", "password": "p" * 13}),
        ]
    assert (
        responses[0].status_code == 500
        and responses[0].json()["error"]["message"] == "Internal error"
    )
    secrets = [
        ADMIN_KEY,
        key,
        settings.auth.jwt_secret.get_secret_value(),
        settings.auth.key_pepper.get_secret_value(),
    ]
    for text in [r.text for r in responses] + [caplog.text]:
        assert not LEAKS.search(text), LEAKS.search(text)
        assert not any(s in text for s in secrets)
    assert "OperationalError" in caplog.text  # the log still says what failed
    # What uvicorn logs when Starlette re-raises after the 500 carries no traceback either.
    record = logging.LogRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", None, None
    )
    try:
        raise RuntimeError("SELECT secret FROM /work/x")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    logging.getLogger("uvicorn.error").filters[0].filter(record)
    assert record.exc_info is None and not LEAKS.search(logging.Formatter().format(record))


SQLI = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '" OR 1=1 --',
    "admin'--",
    "1; SELECT * FROM api_keys",
]


async def test_sql_injection_payloads_change_nothing(tmp_path: Path) -> None:
    unlimited = {"auth_rate_limit_per_minute": 10_000, "rate_limit_per_minute": 10_000}
    async with running(make_settings(tmp_path, api=unlimited)) as client:
        await client.post(
            "/auth/register", json={"email": "real@example.com", "password": "p" * 12}
        )
        await client.post("/keys", json={"name": "k", "scopes": ["query"]}, headers=admin())
        for p in SQLI:
            calls = [
                client.post("/auth/register", json={"email": p, "password": p * 3}),
                client.post(
                    "/auth/register", json={"email": f"{p}@x.example", "password": "p" * 12}
                ),
                client.post("/auth/login", json={"email": "real@example.com", "password": p}),
                client.post("/auth/login", json={"email": p, "password": "p" * 12}),
                client.post("/auth/refresh", json={"refresh_token": p}),
                client.post("/keys", json={"name": p, "scopes": [p]}, headers=admin()),
                client.post("/keys/1/rotate", json={"grace": p}, headers=admin()),
                client.post(
                    "/query", json={"query": p}, headers={"X-API-Key": f"fk_{'a' * 12}_{p}"}
                ),
                client.post("/query", json={"query": p}, headers=admin()),
                client.post(
                    "/ingest", json={"chapter": p, "content": p, "source_id": p}, headers=admin()
                ),
                client.delete(f"/documents/{p}", headers=admin()),
                client.get(f"/auth/oauth/{p}/login"),
            ]
            for call in calls:
                r = await call
                assert r.status_code < 500, (p, r.request.url, r.text)
        with Session(client.app.state.db_engine) as db:
            emails = db.exec(select(User.email)).all()
            assert "real@example.com" in emails
            assert all("'" not in e or e.endswith("@x.example") for e in emails)
            assert db.exec(select(func.count()).select_from(ApiKey)).one() == 1
        r = await client.post(
            "/auth/login", json={"email": "real@example.com", "password": "p" * 12}
        )
        assert r.status_code == 200


def _assert_headers(response) -> None:  # type: ignore[no-untyped-def]
    assert response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_huge_numbers_and_dates_are_4xx_and_rotation_is_atomic(tmp_path: Path) -> None:
    """Regression (issue 14, item 8): these answered 500, and the rotation with a huge grace
    left its successor key committed."""
    async with running(make_settings(tmp_path)) as client:
        key = (
            await client.post("/keys", json={"name": "k", "scopes": ["query"]}, headers=admin())
        ).json()
        reader = {"X-API-Key": key["key"]}
        r = await client.get("/sessions?offset=1037775042346758908674048", headers=reader)
        assert_error_shape(r, 422, "validation_error")
        _assert_headers(r)
        r = await client.get("/usage?to=9999-12-31", headers=admin())
        assert r.status_code == 200, r.text
        r = await client.get("/usage?from=0001-01-01&to=9999-12-31", headers=admin())
        assert r.status_code == 200, r.text
        for limits in (
            {"rate_limit_per_minute": 2147483648},
            {"rate_limit_per_day": 2**63},
            {"rate_limit_per_minute": 0},
        ):
            r = await client.post(
                "/keys", json={"name": "x", "scopes": ["query"], **limits}, headers=admin()
            )
            assert_error_shape(r, 422, "validation_error")
        for grace in ("99999999d", "366d", "999999999999999999999s"):
            r = await client.post(
                f"/keys/{key['id']}/rotate", json={"grace": grace}, headers=admin()
            )
            assert r.status_code == 422, (grace, r.text)
        for path in ("/keys/99999999999999999999/rotate", "/messages/2147483648/feedback"):
            r = await client.post(path, json={"grace": "1h", "rating": 1}, headers=admin())
            assert_error_shape(r, 422, "validation_error")
        with Session(client.app.state.db_engine) as db:
            keys = db.exec(select(ApiKey)).all()
            assert len(keys) == 1 and keys[0].replaced_by_id is None  # no successor left over
        r = await client.post(f"/keys/{key['id']}/rotate", json={"grace": "365d"}, headers=admin())
        assert r.status_code == 200


async def test_an_unexpected_500_keeps_headers_and_request_id(tmp_path: Path) -> None:
    """A bug anywhere still answers in the standard shape with the security headers and the
    request id (the handler for Exception ran outside every middleware)."""
    async with running(make_settings(tmp_path)) as client:

        def boom() -> None:
            raise RuntimeError("a bug")

        client.app.add_api_route("/test-boom", boom)
        r = await client.get("/test-boom")
        body = assert_error_shape(r, 500, "internal")
        _assert_headers(r)
        assert body["request_id"] == r.headers["x-request-id"]
        assert (await client.get("/health")).status_code == 200


LONE = [b"\\udfff", b"\\ud800", b"a\\ud83d"]


async def test_lone_surrogates_are_422(tmp_path: Path) -> None:
    """Regression (issue 14, item 9): `"\\udfff"` as ingest content gave 500, and as a query
    503 "backend unavailable"; every text field refuses it with 422."""
    unlimited = {"auth_rate_limit_per_minute": 10_000, "rate_limit_per_minute": 10_000}
    async with running(make_settings(tmp_path, api=unlimited)) as client:
        sid = (await client.post("/sessions")).json()["id"]
        json_headers = {"content-type": "application/json"}
        for lone in LONE:
            s = lone.decode()
            cases = [
                ("/ingest", f'{{"chapter": "c", "content": "{s}"}}', admin()),
                ("/ingest", f'{{"chapter": "{s}", "content": "text"}}', admin()),
                ("/query", f'{{"query": "{s}"}}', {}),
                ("/query/stream", f'{{"query": "{s}"}}', {}),
                (f"/sessions/{sid}/messages", f'{{"query": "{s}"}}', {}),
                (f"/sessions/{sid}/messages/stream", f'{{"query": "{s}"}}', {}),
                (
                    "/auth/register",
                    f'{{"email": "a{s}@example.com", "password": "{"p" * 12}"}}',
                    {},
                ),
                (
                    "/auth/register",
                    f'{{"email": "a@example.com", "password": "pppppppppppp{s}"}}',
                    {},
                ),
                ("/auth/login", f'{{"email": "a{s}@example.com", "password": "pppppppppppp"}}', {}),
                ("/keys", f'{{"name": "{s}", "scopes": ["query"]}}', admin()),
                ("/messages/1/feedback", f'{{"rating": 1, "comment": "{s}"}}', {}),
                ("/messages/1/feedback", f'{{"rating": 1, "session_id": "{s}"}}', {}),
            ]
            for path, body, headers in cases:
                r = await client.post(
                    path, content=body.encode(), headers={**json_headers, **headers}
                )
                assert r.status_code == 422, (path, body, r.status_code, r.text)
                assert r.json()["error"]["code"] in ("invalid_input", "validation_error")


async def test_chunked_body_over_the_limit_gets_413_like_a_sized_one(tmp_path: Path) -> None:
    """Regression (issue 14, item 10): a chunked 2.6 MB body got 400, a sized one 413."""
    from app.main import create_app
    from tests.utils.apps import mock_index
    from tests.utils.http import serve_in_thread

    settings = make_settings(tmp_path, api={"max_ingest_bytes": 1000})
    big = b'{"chapter": "x", "content": "' + b"a" * 300_000 + b'"}'
    headers = {**admin(), "content-type": "application/json"}

    async def achunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(big), 16384):
            yield big[i : i + 16384]

    async with running(settings) as client:
        sized = await client.post("/ingest", content=big, headers=headers)
        chunked = await client.post("/ingest", content=achunks(), headers=headers)
        for r in (sized, chunked):
            assert_error_shape(r, 413, "payload_too_large")
            _assert_headers(r)
        assert "transfer-encoding" in chunked.request.headers

    def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(big), 16384):
            yield big[i : i + 16384]

    import httpx

    with serve_in_thread(create_app(settings, index_factory=mock_index)) as url:  # a real server
        r = httpx.post(f"{url}/ingest", content=chunks(), headers=headers, timeout=30)
        assert_error_shape(r, 413, "payload_too_large")


def test_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    """Regression (issue 14, item 11): uvicorn trusts X-Forwarded-For from 127.0.0.1 by
    default, so 15 of 15 spoofed anonymous queries passed the 10/minute limit. `folio serve`
    now believes it only from `api.trusted_proxies` (empty by default)."""
    import httpx

    from app.cli.common import uvicorn_options
    from app.main import create_app
    from tests.utils.apps import mock_index
    from tests.utils.http import serve_in_thread

    for proxies, expected in (([], [200, 200, 200, 429]), (["127.0.0.1"], [200] * 4)):
        settings = make_settings(
            tmp_path / str(len(proxies)),
            api={"rate_limit_per_minute": 3, "trusted_proxies": proxies},
        )
        app = create_app(settings, index_factory=mock_index)
        with serve_in_thread(app, **uvicorn_options(settings)) as url:
            codes = [
                httpx.post(
                    f"{url}/query",
                    json={"query": "bread?"},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"},
                    timeout=30,
                ).status_code
                for i in range(4)
            ]
        assert codes == expected, (proxies, codes)


def test_trusted_proxies_must_be_addresses(tmp_path: Path) -> None:
    from app.core.settings import ConfigError

    for bad in (["*"], ["proxy.internal"]):
        with pytest.raises(ConfigError, match="trusted_proxies"):
            make_settings(tmp_path, api={"trusted_proxies": bad})


DISPLAY = {"answer", "text", "chapter", "section", "book", "question", "standalone_question"}
DISPLAY |= {"title", "comment"}


def _check_html_twins(obj, where: str = "$") -> int:  # type: ignore[no-untyped-def]
    """Every display-text field has an escaped `_html` twin, any string holding markup has
    one, and no `_html` field holds live markup. Returns how many twins were checked."""
    import html

    checked = 0
    if isinstance(obj, list):
        return sum(_check_html_twins(v, f"{where}[{i}]") for i, v in enumerate(obj))
    if not isinstance(obj, dict):
        return 0
    for key, value in obj.items():
        if isinstance(value, dict | list):
            checked += _check_html_twins(value, f"{where}.{key}")
        if key.endswith("_html"):
            assert value is None or "<" not in value, (where, key, value)
            continue
        if key in DISPLAY or (isinstance(value, str) and "<" in value):
            assert f"{key}_html" in obj, f"{where}.{key} has no {key}_html twin"
            assert obj[f"{key}_html"] == (None if value is None else html.escape(value))
            checked += 1
    return checked


async def test_every_display_field_has_an_escaped_twin(tmp_path: Path) -> None:
    """Regression (issue 14, item 16): `<script>` came back raw in chapter, section, SSE
    `delta` and session question/answer/title, while /query offered `*_html` fields for some
    fields only. The rule is now the same everywhere (docs/API_REFERENCE.md)."""
    from tests.utils.sse import iter_events

    payload = "<script>alert(1)</script>"
    async with running(make_settings(tmp_path)) as client:
        doc = {
            "chapter": f"Hydration {payload}",
            "content": f"# Hydration\n\n## Water {payload}\n\nHydration is water over flour. "
            f"{payload} Hydration matters for the crumb.",
        }
        assert (await client.post("/ingest", json=doc, headers=admin())).status_code == 200
        question = {"query": f"What is hydration? {payload}"}
        bodies = [(await client.post("/query", json=question)).json()]
        async with client.stream("POST", "/query/stream", json=question) as r:
            await r.aread()
            bodies += [data for _, data in iter_events(r)]
        sid = (await client.post("/sessions")).json()["id"]
        bodies.append((await client.post(f"/sessions/{sid}/messages", json=question)).json())
        async with client.stream("POST", f"/sessions/{sid}/messages/stream", json=question) as r:
            await r.aread()
            events = list(iter_events(r))
        bodies += [data for _, data in events]
        mid = events[-1][1]["message_id"]
        fb = {"rating": -1, "comment": payload, "session_id": sid}
        bodies.append((await client.post(f"/messages/{mid}/feedback", json=fb)).json())
        bodies.append((await client.get(f"/sessions/{sid}")).json())
        key = (
            await client.post("/keys", json={"name": "k", "scopes": ["query"]}, headers=admin())
        ).json()["key"]
        listed = await client.post("/sessions", headers={"X-API-Key": key})
        await client.post(
            f"/sessions/{listed.json()['id']}/messages", json=question, headers={"X-API-Key": key}
        )
        bodies.append((await client.get("/sessions", headers={"X-API-Key": key})).json())

    assert any(name == "delta" for name, _ in events)
    assert any(payload in str(b) for b in bodies)  # raw fields carry the data as stored
    checked = sum(_check_html_twins(b) for b in bodies)
    assert checked > 30
    seen = str(bodies)
    for field in ("chapter_html", "section_html", "title_html", "question_html", "comment_html"):
        assert field in seen, field
