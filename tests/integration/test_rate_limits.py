"""Rate limits on /query: the 11th query in a minute gets 429 with Retry-After and
X-RateLimit-*; per-identity buckets; per-key overrides; Redis shared by replicas, exact under
concurrency."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

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
