"""Rate limits on /query: the 11th query in a minute gets 429 with Retry-After and
X-RateLimit-*; per-identity buckets; per-key overrides; Redis shared by replicas, exact under
concurrency."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from tests.utils.apps import admin, make_settings, running
from tests.utils.services import redis_url_or_skip

pytestmark = pytest.mark.integration

Q = {"query": "How long does the dough rise?"}


async def test_eleventh_query_in_a_minute_is_429(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path)) as client:
        for i in range(10):
            r = await client.post("/query", json=Q)
            assert r.status_code == 200, r.text
            assert r.headers["X-RateLimit-Limit"] == "10"
            assert r.headers["X-RateLimit-Remaining"] == str(9 - i)
        r = await client.post("/query", json=Q)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert r.headers["X-RateLimit-Remaining"] == "0" and "X-RateLimit-Reset" in r.headers
        # Another identity (a logged-in user) has its own bucket.
        await client.post("/auth/register", json={"email": "u@example.com", "password": "p" * 12})
        login = await client.post(
            "/auth/login", json={"email": "u@example.com", "password": "p" * 12}
        )
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert (await client.post("/query", json=Q, headers=bearer)).status_code == 200


async def test_limits_from_config_and_per_key_override(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api={"rate_limit_per_minute": 2})
    async with running(settings) as client:
        r = await client.post(
            "/keys",
            json={"name": "big", "scopes": ["query"], "rate_limit_per_minute": 5},
            headers=admin(),
        )
        key = {"X-API-Key": r.json()["key"]}
        codes = [(await client.post("/query", json=Q)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        codes = [(await client.post("/query", json=Q, headers=key)).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]


@pytest.mark.parametrize("environment", ["development", "production"])
async def test_development_429_says_how_to_raise_the_limit(tmp_path: Path, environment) -> None:
    """Regression: a newcomer hit 10/minute in the first minute with no hint why. Development
    says which setting raises it; production keeps the plain message and the same limit."""
    secrets = {"jwt_secret": "j" * 40, "key_pepper": "p" * 40}
    settings = make_settings(
        tmp_path, environment=environment, api={"rate_limit_per_minute": 2}, auth=secrets
    )
    async with running(settings) as client:
        codes = [(await client.post("/query", json=Q)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        message = (await client.post("/query", json=Q)).json()["error"]["message"]
    assert message.startswith("Rate limit of 2 per minute exceeded")
    hinted = "api.rate_limit_per_minute" in message and "RATE_LIMIT_QUERIES_PER_MINUTE" in message
    assert hinted is (environment == "development")


def test_env_names_set_the_limits(tmp_path: Path) -> None:
    from app.core.settings import load_settings

    make_settings(tmp_path)
    env = {
        "RATE_LIMIT_QUERIES_PER_MINUTE": "3",
        "RATE_LIMIT_QUERIES_PER_DAY": "7",
        "REDIS_URL": "redis://h:6379/1",
    }
    s = load_settings(tmp_path / "config.yaml", environ=env)
    assert (s.api.rate_limit_per_minute, s.api.rate_limit_per_day, s.api.redis_url) == (
        3,
        7,
        "redis://h:6379/1",
    )


async def test_redis_50_concurrent_across_two_replicas_exactly_10_succeed(tmp_path: Path) -> None:
    url = redis_url_or_skip()
    prefix = f"folio-test-{uuid.uuid4().hex[:8]}"
    api = {"redis_url": url, "rate_limit_key_prefix": prefix}
    try:
        async with (
            running(make_settings(tmp_path / "a", api=api)) as one,
            running(make_settings(tmp_path / "b", api=api)) as two,
        ):
            requests = [(one if i % 2 else two).post("/query", json=Q) for i in range(50)]
            responses = await asyncio.gather(*requests)
            codes = [r.status_code for r in responses]
            assert codes.count(200) == 10 and codes.count(429) == 40
    finally:
        import redis

        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)


def _client_from(app, ip: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    """Another client of the same app, whose requests come from `ip`."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://folio.test")


async def test_own_token_does_not_open_a_fresh_auth_bucket(tmp_path: Path) -> None:
    """Regression (issue 14, item 3): the auth limit was keyed on the caller's identity, so
    sending one's own access token gave password guessing a fresh 20/minute bucket."""
    api = {"auth_rate_limit_per_minute": 4, "auth_account_rate_limit_per_minute": 100}
    async with running(make_settings(tmp_path, api=api)) as client:
        creds = {"email": "me@example.com", "password": "p" * 12}
        await client.post("/auth/register", json=creds)
        tokens = (await client.post("/auth/login", json=creds)).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        guess = {"email": "victim@example.com", "password": "guess-guess-1"}
        codes = [(await client.post("/auth/login", json=guess)).status_code for _ in range(2)]
        assert codes == [401, 401]  # register, login, 2 guesses: the IP's 4 are used up
        r = await client.post("/auth/login", json=guess, headers=bearer)
        assert r.status_code == 429 and "Retry-After" in r.headers
        r = await client.post("/auth/login", json=guess, headers={"X-API-Key": "fk_x_y"})
        assert r.status_code == 429


async def test_password_guesses_per_account_are_limited_across_ips(tmp_path: Path) -> None:
    """Guesses spread over many addresses still meet the per-account limit."""
    api = {"auth_rate_limit_per_minute": 100, "auth_account_rate_limit_per_minute": 3}
    async with running(make_settings(tmp_path, api=api)) as client:
        creds = {"email": "victim@example.com", "password": "p" * 12}
        await client.post("/auth/register", json=creds)
        guess = {**creds, "password": "wrong-password-0"}
        codes = []
        for i in range(5):
            async with _client_from(client.app, f"198.51.100.{i + 1}") as attacker:
                codes.append((await attacker.post("/auth/login", json=guess)).status_code)
        assert codes == [401, 401, 401, 429, 429]
        # Spelling the address differently does not open another bucket either.
        async with _client_from(client.app, "198.51.100.99") as attacker:
            r = await attacker.post("/auth/login", json={**guess, "email": "VICTIM@example.com"})
            assert r.status_code == 429
        # Another account is unaffected.
        r = await client.post("/auth/login", json={**guess, "email": "other@example.com"})
        assert r.status_code == 401


async def test_sessions_feedback_and_logout_are_rate_limited(tmp_path: Path) -> None:
    """Regression (issue 14, item 14): 300 of 300 `POST /sessions` were accepted; feedback
    and logout had no limit either."""
    api = {"write_rate_limit_per_minute": 3, "auth_rate_limit_per_minute": 3}
    async with running(make_settings(tmp_path, api=api)) as client:
        codes = [(await client.post("/sessions")).status_code for _ in range(4)]
        assert codes == [201, 201, 201, 429]
        async with _client_from(client.app, "203.0.113.7") as other:  # per caller
            sid = (await other.post("/sessions")).json()["id"]
            mid = (await other.post(f"/sessions/{sid}/messages", json=Q)).json()["id"]
            body = {"rating": 1, "session_id": sid}
            codes = [
                (await other.post(f"/messages/{mid}/feedback", json=body)).status_code
                for _ in range(3)
            ]
            assert codes == [200, 200, 429]
        codes = [
            (await client.post("/auth/logout", json={"refresh_token": "x"})).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
