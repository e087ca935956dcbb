"""OIDC login end to end against fake_oidc, a provider this test serves itself (uvicorn thread):
code + PKCE S256, state bound to the browser cookie, nonce checked in the ID token."""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.utils.apps import make_settings, running

pytestmark = pytest.mark.integration


def fake_oidc_app(issuer: str) -> FastAPI:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    codes: dict[str, dict] = {}
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    def meta() -> dict:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
        }

    @app.get("/jwks")
    def jwks() -> dict:
        return {"keys": [key.as_dict(private=False)]}

    @app.get("/authorize")
    def authorize(request: Request) -> RedirectResponse:
        q = request.query_params
        assert q["code_challenge_method"] == "S256" and q["response_type"] == "code"
        code = secrets.token_urlsafe(16)
        codes[code] = {
            "challenge": q["code_challenge"],
            "nonce": q["nonce"],
            "client": q["client_id"],
        }
        return RedirectResponse(f"{q['redirect_uri']}?code={code}&state={q['state']}")

    @app.post("/token")
    async def token(request: Request) -> dict:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        code, code_verifier = form.get("code", ""), form.get("code_verifier", "")
        if code not in codes:
            return {"error": "invalid_grant"}
        grant = codes.pop(code)
        digest = hashlib.sha256(code_verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return {"error": "invalid_grant"}
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": grant["client"],
            "sub": "alice-1",
            "email": "alice@example.com",
            "email_verified": True,
            "nonce": grant["nonce"],
            "iat": now,
            "exp": now + 300,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        return {
            "access_token": "at",
            "token_type": "Bearer",
            "id_token": id_token,
            "expires_in": 300,
        }

    return app


@pytest.fixture
def fake_oidc():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    issuer = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(fake_oidc_app(issuer), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield issuer
    server.should_exit = True
    thread.join(5)


async def test_oidc_login_end_to_end(tmp_path: Path, fake_oidc: str) -> None:
    providers = {
        "fake": {
            "client_id": "folio-client",
            "server_metadata_url": f"{fake_oidc}/.well-known/openid-configuration",
        }
    }
    async with running(make_settings(tmp_path, auth={"oauth_providers": providers})) as client:
        start = await client.get("/auth/oauth/fake/login")
        assert start.status_code == 302
        location = start.headers["location"]
        assert "code_challenge=" in location and "nonce=" in location and "state=" in location
        back = httpx.get(location, follow_redirects=False)  # the browser at the provider
        callback = urlparse(back.headers["location"])
        params = parse_qs(callback.query)
        code, state = params["code"][0], params["state"][0]

        # A callback without the browser's flow cookie (CSRF) or with another state fails.
        cookie = client.cookies.get("folio_oauth")
        client.cookies.clear()
        r = await client.get("/auth/oauth/fake/callback", params={"code": code, "state": state})
        assert r.status_code == 401
        client.cookies.set("folio_oauth", cookie)
        r = await client.get("/auth/oauth/fake/callback", params={"code": code, "state": "forged"})
        assert r.status_code == 401

        r = await client.get("/auth/oauth/fake/callback", params={"code": code, "state": state})
        assert r.status_code == 200, r.text
        me = await client.get(
            "/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
        )
        assert me.json()["email"] == "alice@example.com"
        # The code is single-use at the provider: replaying the callback fails.
        r = await client.get("/auth/oauth/fake/callback", params={"code": code, "state": state})
        assert r.status_code == 401


def _at_provider(location: str) -> dict[str, str]:
    """The browser at the provider: it redirects back with code and state."""
    back = httpx.get(location, follow_redirects=False)
    params = parse_qs(urlparse(back.headers["location"]).query)
    return {"code": params["code"][0], "state": params["state"][0]}


async def test_oidc_never_links_by_email_and_totp_still_applies(
    tmp_path: Path, fake_oidc: str
) -> None:
    """Regression (issue 14, item 2): OIDC linked itself to an existing password account by
    verified email, and a TOTP-enabled account got tokens through OIDC with no code."""
    import pyotp
    from sqlmodel import Session, func, select

    from app.db.models import OAuthIdentity

    providers = {
        "fake": {
            "client_id": "folio-client",
            "server_metadata_url": f"{fake_oidc}/.well-known/openid-configuration",
        }
    }
    settings = make_settings(tmp_path, auth={"oauth_providers": providers})
    password = "alice's long passphrase"
    async with running(settings) as client:
        creds = {"email": "alice@example.com", "password": password}
        assert (await client.post("/auth/register", json=creds)).status_code == 201
        tokens = (await client.post("/auth/login", json=creds)).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        r = await client.post("/auth/totp/enroll", json={"password": password}, headers=bearer)
        totp = pyotp.TOTP(r.json()["secret"])
        code = totp.at(time.time() - 30)
        r = await client.post("/auth/totp/confirm", json={"code": code}, headers=bearer)
        assert r.status_code == 200

        # 1. The provider vouches for alice@example.com: no tokens, no silent link.
        start = await client.get("/auth/oauth/fake/login")
        r = await client.get(
            "/auth/oauth/fake/callback", params=_at_provider(start.headers["location"])
        )
        assert r.status_code == 409 and "access_token" not in r.text
        assert "/auth/oauth/fake/link" in r.json()["error"]["message"]
        with Session(client.app.state.db_engine) as db:
            assert db.exec(select(func.count()).select_from(OAuthIdentity)).one() == 0

        # 2. Linking is explicit: logged in, and the password again.
        r = await client.post("/auth/oauth/fake/link", json={"password": "wrong"}, headers=bearer)
        assert r.status_code == 401
        r = await client.post("/auth/oauth/fake/link", json={"password": password})
        assert r.status_code == 401  # not logged in
        r = await client.post("/auth/oauth/fake/link", json={"password": password}, headers=bearer)
        assert r.status_code == 200
        back = _at_provider(r.json()["authorization_url"])
        r = await client.get("/auth/oauth/fake/callback", params=back)
        assert r.status_code == 200 and "access_token" in r.json()

        # 3. Logging in through the provider now asks for the second factor.
        start = await client.get("/auth/oauth/fake/login")
        r = await client.get(
            "/auth/oauth/fake/callback", params=_at_provider(start.headers["location"])
        )
        assert r.status_code == 200, r.text
        challenge = r.json()
        assert challenge["mfa_required"] is True and "access_token" not in challenge
        mfa_token = challenge["mfa_token"]
        as_access = {"Authorization": f"Bearer {mfa_token}"}
        assert (await client.get("/auth/me", headers=as_access)).status_code == 401
        r = await client.post("/auth/mfa", json={"mfa_token": mfa_token})
        assert r.status_code == 401 and r.json()["error"]["code"] == "mfa_required"
        r = await client.post("/auth/mfa", json={"mfa_token": mfa_token, "totp_code": "000000"})
        assert r.status_code == 401
        r = await client.post("/auth/mfa", json={"mfa_token": mfa_token, "totp_code": totp.now()})
        assert r.status_code == 200, r.text
        me = await client.get(
            "/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
        )
        assert me.json()["email"] == "alice@example.com"


async def test_redirect_uri_comes_from_public_url_never_the_host_header(
    tmp_path: Path, fake_oidc: str
) -> None:
    """Regression (issue 25, item 5): `Host: evil.example` made the redirect_uri sent to the
    provider `http://evil.example/auth/oauth/fake/callback`. It now comes from
    `api.public_url`, and production refuses OIDC login without one."""
    providers = {
        "fake": {
            "client_id": "folio-client",
            "server_metadata_url": f"{fake_oidc}/.well-known/openid-configuration",
        }
    }
    evil = {"Host": "evil.example"}

    def redirect_uri(location: str) -> str:
        return parse_qs(urlparse(location).query)["redirect_uri"][0]

    settings = make_settings(
        tmp_path / "public",
        auth={"oauth_providers": providers},
        api={"public_url": "http://folio.example/"},
    )
    async with running(settings) as client:
        start = await client.get("/auth/oauth/fake/login", headers=evil)
        assert start.status_code == 302
        assert redirect_uri(start.headers["location"]) == (
            "http://folio.example/auth/oauth/fake/callback"
        )
        # The whole flow still works with that callback (the provider echoes it back).
        back = _at_provider(start.headers["location"])
        r = await client.get("/auth/oauth/fake/callback", params=back, headers=evil)
        assert r.status_code == 200 and "access_token" in r.json()

    production = make_settings(
        tmp_path / "prod",
        environment="production",
        auth={
            "oauth_providers": providers,
            "jwt_secret": "j" * 40,
            "key_pepper": "p" * 40,
            "admin_api_key": "a" * 40,
        },
    )
    async with running(production) as client:
        refused = await client.get("/auth/oauth/fake/login", headers=evil)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "oauth_not_configured"
        assert "api.public_url" in refused.json()["error"]["message"]
        assert "evil.example" not in refused.text
