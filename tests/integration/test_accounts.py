"""Accounts over HTTP: bcrypt + length policy, JWT access/refresh with rotation and reuse
detection, TOTP enrollment, required code, no replay, one-time recovery codes; no password in
logs."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pyotp
import pytest
from sqlmodel import Session, select

from app.db.models import User
from tests.utils.apps import make_settings, running

pytestmark = pytest.mark.integration

EMAIL, PASSWORD = "reader@example.com", "a long enough passphrase"


async def _register_login(client) -> dict:
    r = await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = await client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()


def _bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_register_login_policy_and_bcrypt(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(make_settings(tmp_path)) as client:
        r = await client.post("/auth/register", json={"email": EMAIL, "password": "short"})
        assert r.status_code == 422 and "at least 12" in r.json()["error"]["message"]
        r = await client.post("/auth/register", json={"email": EMAIL, "password": "x" * 73})
        assert r.status_code == 422
        tokens = await _register_login(client)
        r = await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
        assert r.status_code == 409
        me = await client.get("/auth/me", headers=_bearer(tokens))
        assert me.status_code == 200 and me.json()["email"] == EMAIL
        r = await client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD + "!"})
        assert r.status_code == 401
        r = await client.post(
            "/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}
        )
        assert r.status_code == 401 and r.json()["error"]["message"] == "Wrong email or password"
        with Session(client.app.state.db_engine) as db:
            user = db.exec(select(User)).one()
            assert user.password_hash.startswith("$2b$") and PASSWORD not in user.password_hash
    assert PASSWORD not in caplog.text


async def test_refresh_rotates_and_reuse_revokes_family(tmp_path: Path) -> None:
    async with running(make_settings(tmp_path)) as client:
        first = await _register_login(client)
        r = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"]
        # Replaying the spent token: rejected, and the whole family (incl. `second`) dies.
        r = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 401
        r = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert r.status_code == 401
        # An access token is not a refresh token, and vice versa.
        r = await client.post("/auth/refresh", json={"refresh_token": second["access_token"]})
        assert r.status_code == 401
        r = await client.get(
            "/auth/me", headers={"Authorization": f"Bearer {second['refresh_token']}"}
        )
        assert r.status_code == 401


async def test_jwt_with_wrong_secret_or_audience_is_rejected(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with running(settings) as client:
        tokens = await _register_login(client)
    other = make_settings(tmp_path / "b", auth={"jwt_secret": "another-secret-entirely-0123456789"})
    async with running(other) as client:
        assert (await client.get("/auth/me", headers=_bearer(tokens))).status_code == 401
    aud = make_settings(tmp_path / "c", auth={"jwt_audience": "other-api"})
    async with running(aud) as client:
        assert (await client.get("/auth/me", headers=_bearer(tokens))).status_code == 401


async def test_totp_enroll_confirm_required_no_replay_recovery(tmp_path: Path) -> None:
    many = {"auth_account_rate_limit_per_minute": 100}  # this test logs in a dozen times
    async with running(make_settings(tmp_path, api=many)) as client:
        tokens = await _register_login(client)
        r = await client.post(
            "/auth/totp/enroll", json={"password": PASSWORD}, headers=_bearer(tokens)
        )
        assert r.status_code == 200
        secret = r.json()["secret"]
        assert r.json()["otpauth_uri"].startswith("otpauth://totp/")
        totp = pyotp.TOTP(secret)
        # Not required before confirmation.
        assert (
            await client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
        ).status_code == 200
        r = await client.post(
            "/auth/totp/confirm", json={"code": "000000"}, headers=_bearer(tokens)
        )
        assert r.status_code == 401
        code = totp.at(time.time() - 30)  # previous step: allowed for clock drift
        r = await client.post("/auth/totp/confirm", json={"code": code}, headers=_bearer(tokens))
        assert r.status_code == 200
        recovery = r.json()["recovery_codes"]
        assert len(recovery) == 10

        login = {"email": EMAIL, "password": PASSWORD}
        r = await client.post("/auth/login", json=login)
        assert r.status_code == 401 and r.json()["error"]["code"] == "mfa_required"
        now_code = totp.now()
        assert (
            await client.post("/auth/login", json={**login, "totp_code": now_code})
        ).status_code == 200
        # The same code again inside its window: a replay, refused.
        assert (
            await client.post("/auth/login", json={**login, "totp_code": now_code})
        ).status_code == 401
        # The code used at confirmation (older step) cannot be replayed either.
        assert (
            await client.post("/auth/login", json={**login, "totp_code": code})
        ).status_code == 401
        # Recovery codes work once each, and are stored hashed.
        assert (
            await client.post("/auth/login", json={**login, "recovery_code": recovery[0]})
        ).status_code == 200
        assert (
            await client.post("/auth/login", json={**login, "recovery_code": recovery[0]})
        ).status_code == 401
        from app.db.models import RecoveryCode

        with Session(client.app.state.db_engine) as db:
            hashes = [c.code_hash for c in db.exec(select(RecoveryCode))]
        assert recovery[1] not in hashes and len(hashes) == 10


async def test_totp_enrollment_needs_the_password(tmp_path: Path) -> None:
    """Regression (issue 14, item 12): an access token alone enrolled TOTP, so whoever stole
    one could put their own authenticator on the account and lock its owner out."""
    async with running(make_settings(tmp_path)) as client:
        bearer = _bearer(await _register_login(client))
        r = await client.post("/auth/totp/enroll", headers=bearer)
        assert r.status_code == 422
        r = await client.post("/auth/totp/enroll", json={"password": "guess"}, headers=bearer)
        assert r.status_code == 401 and r.json()["error"]["message"] == "Wrong password"
        with Session(client.app.state.db_engine) as db:
            assert db.exec(select(User)).one().totp_secret is None
        r = await client.post("/auth/totp/enroll", json={"password": PASSWORD}, headers=bearer)
        assert r.status_code == 200


async def test_totp_secret_is_encrypted_at_rest_and_the_db_file_is_0600(tmp_path: Path) -> None:
    """Regression (issue 14, item 13): TOTP secrets were stored in clear, in a 0644 file."""
    import stat

    from app.core.security import decrypt_totp_secret, totp_data_key
    from app.db.database import sqlite_path

    settings = make_settings(tmp_path)
    async with running(settings) as client:
        bearer = _bearer(await _register_login(client))
        r = await client.post("/auth/totp/enroll", json={"password": PASSWORD}, headers=bearer)
        secret = r.json()["secret"]
        r = await client.post(
            "/auth/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=bearer
        )
        assert r.status_code == 200
        with Session(client.app.state.db_engine) as db:
            user = db.exec(select(User)).one()
        assert user.totp_secret.startswith("v1:") and secret not in user.totp_secret
        key = totp_data_key(settings.auth.pepper())
        assert decrypt_totp_secret(user.totp_secret, key=key, user_id=user.id) == secret
        # Bound to its row: the same ciphertext under another user id does not decrypt.
        from app.core.security import SecretDecryptError

        with pytest.raises(SecretDecryptError):
            decrypt_totp_secret(user.totp_secret, key=key, user_id=user.id + 1)
    db_file = sqlite_path(settings.database.url)
    assert db_file is not None and db_file.exists()
    assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
    raw = db_file.read_bytes()
    assert secret.encode() not in raw


def test_existing_world_readable_sqlite_file_is_tightened(tmp_path: Path) -> None:
    import os
    import stat

    from app.db.database import make_engine

    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("variant", "status"),
    [
        ("ｒｅａｄｅｒ@example.com", 409),  # full-width letters: NFKC folds them, same account
        ("READER@EXAMPLE.COM", 409),
        ("re\u200bader@example.com", 422),  # zero-width space
        ("reader\u00ad@example.com", 422),  # soft hyphen
        ("reader@exa\u200dmple.com", 422),  # zero-width joiner
        ("readır@example.com", 422),  # dotless ı: survives NFKC, looks like i
        ("rеader@example.com", 422),  # Cyrillic е
    ],
)
async def test_look_alike_emails_do_not_make_a_second_account(
    tmp_path: Path, variant: str, status: int
) -> None:
    """Regression (issue 14, item 15): full-width letters, a zero-width space and a dotless ı
    each registered a separate account that looks like the original."""
    async with running(make_settings(tmp_path)) as client:
        r = await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
        assert r.status_code == 201
        r = await client.post("/auth/register", json={"email": variant, "password": PASSWORD})
        assert r.status_code == status, r.text
        with Session(client.app.state.db_engine) as db:
            assert db.exec(select(User.email)).all() == [EMAIL]
        if status == 409:  # the folded spelling logs in to the one account
            r = await client.post("/auth/login", json={"email": variant, "password": PASSWORD})
            assert r.status_code == 200
