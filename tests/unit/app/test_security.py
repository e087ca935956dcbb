"""Security primitives, no I/O: passwords, API key hashing, JWT rejection cases, TOTP steps."""

from __future__ import annotations

import base64
import json
import time

import pyotp
import pytest

from app.core import security as s

SECRET = "unit-test-secret-0123456789abcdef"
OPTS = {"secret": SECRET, "issuer": "folio", "audience": "folio-api", "token_type": "access"}


def _token(ttl: float = 60, **overrides) -> str:
    claims = s.make_claims(
        subject="1", token_type="access", issuer="folio", audience="folio-api", ttl_s=ttl
    )
    return s.encode_jwt({**claims, **overrides}, secret=SECRET)


def test_password_hash_is_bcrypt_and_verifies() -> None:
    hashed = s.hash_password("correct horse battery", rounds=4)
    assert hashed.startswith("$2b$04$") and "correct horse" not in hashed
    assert s.verify_password("correct horse battery", hashed)
    assert not s.verify_password("wrong horse battery", hashed)
    assert not s.verify_password("correct horse battery", None)


def test_api_key_digest_needs_pepper_and_prefix_parses() -> None:
    new = s.generate_api_key(pepper="p1")
    assert s.api_key_prefix(new.plaintext) == new.prefix
    assert new.plaintext not in new.digest
    assert s.hmac_digest(new.plaintext, pepper="p1") == new.digest
    assert s.hmac_digest(new.plaintext, pepper="p2") != new.digest
    assert s.api_key_prefix("eyJhbGciOi.x.y") is None


def test_valid_jwt_decodes() -> None:
    assert s.decode_jwt(_token(), **OPTS)["sub"] == "1"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda: _b64({"alg": "none", "typ": "JWT"}) + "." + _token().split(".")[1] + ".",
            id="alg-none",
        ),
        pytest.param(
            lambda: s.encode_jwt(s.decode_jwt(_token(), **OPTS), secret="x" * 32),
            id="wrong-signature",
        ),
        pytest.param(lambda: _token(aud="someone-else"), id="wrong-audience"),
        pytest.param(lambda: _token(iss="evil"), id="wrong-issuer"),
        pytest.param(lambda: _token(ttl=-10), id="expired"),
        pytest.param(lambda: _token(typ="refresh"), id="refresh-used-as-access"),
        pytest.param(lambda: "not.a.jwt", id="garbage"),
    ],
)
def test_bad_jwts_are_rejected(make) -> None:
    with pytest.raises(s.TokenError):
        s.decode_jwt(make(), **OPTS)


def test_totp_matches_current_and_adjacent_steps_only() -> None:
    secret = s.new_totp_secret()
    now = time.time()
    step = int(now // 30)
    totp = pyotp.TOTP(secret)
    assert s.match_totp_step(secret, totp.at(now), now=now) == step
    assert s.match_totp_step(secret, totp.at(now - 30), now=now) == step - 1
    assert s.match_totp_step(secret, totp.at(now - 300), now=now) is None
    assert s.match_totp_step(secret, "12345x", now=now) is None
    uri = s.totp_uri(secret, account="a@b.example", issuer="Folio")
    assert uri.startswith("otpauth://totp/") and secret in uri
