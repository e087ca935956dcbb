"""Server secrets: no public default; generated once per storage folder with mode 0600,
kept across restarts, never logged; a token forged with the old public secret is refused."""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path

import pytest

from app.core.secrets import ensure_secrets, secrets_dir
from app.core.security import encode_jwt, make_claims
from app.core.settings import ConfigError
from tests.utils.apps import make_settings, running

pytestmark = pytest.mark.integration

EMAIL, PASSWORD = "victim@example.com", "a long enough passphrase"
OLD_PUBLIC_SECRET = "dev-only-change-me"  # shipped in config.yaml until 2026-11-29


def _forged(secret: str, user_id: int = 1) -> str:
    claims = make_claims(
        subject=str(user_id), token_type="access", issuer="folio", audience="folio-api", ttl_s=600
    )
    return encode_jwt(claims, secret=secret)


async def test_token_forged_with_the_old_public_secret_is_refused(tmp_path: Path) -> None:
    """Regression (issue 14, item 1): with the shipped config a token signed with the public
    `dev-only-change-me` got `GET /auth/me` → 200 for user 1."""
    async with running(make_settings(tmp_path)) as client:
        r = await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
        assert r.status_code == 201 and r.json()["id"] == 1
        forged = {"Authorization": f"Bearer {_forged(OLD_PUBLIC_SECRET)}"}
        r = await client.get("/auth/me", headers=forged)
        assert r.status_code == 401 and EMAIL not in r.text
        # The server's own secret does sign valid tokens (the check above is not vacuous).
        genuine = _forged(client.app.state.settings.auth.jwt_key())
        r = await client.get("/auth/me", headers={"Authorization": f"Bearer {genuine}"})
        assert r.status_code == 200 and r.json()["email"] == EMAIL


async def test_secrets_are_generated_once_0600_and_survive_restarts(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(tmp_path)
    assert settings.auth.jwt_secret is None
    async with running(settings) as client:
        await client.post("/auth/register", json={"email": EMAIL, "password": PASSWORD})
        tokens = (
            await client.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
        ).json()
    folder = secrets_dir(settings)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("jwt_secret", "key_pepper"):
        path = folder / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        value = path.read_text()
        assert len(value) >= 64
        assert f"<storage_dir>/secrets/{path.name}" in caplog.text and value not in caplog.text
    assert settings.auth.jwt_key() == (folder / "jwt_secret").read_text()
    assert settings.auth.jwt_key() != settings.auth.pepper()

    again = make_settings(tmp_path)  # a restart: same storage, same secrets, same sessions
    caplog.clear()
    async with running(again) as client:
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get("/auth/me", headers=bearer)).status_code == 200
    assert "generated" not in caplog.text

    other = make_settings(tmp_path / "elsewhere")  # another install: another secret
    async with running(other) as client:
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await client.get("/auth/me", headers=bearer)).status_code == 401


def test_environment_secrets_are_never_written(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auth={"jwt_secret": "j" * 40, "key_pepper": "p" * 40})
    ensure_secrets(settings)
    assert settings.auth.jwt_key() == "j" * 40
    assert not secrets_dir(settings).exists()


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    ensure_secrets(settings)
    path = secrets_dir(settings) / "jwt_secret"
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        ensure_secrets(make_settings(tmp_path))


RACER = """
import hashlib, sys, time
from pathlib import Path
from app.core.secrets import ensure_secrets
from app.core.settings import load_settings
settings = load_settings(sys.argv[1], environ={})
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
ensure_secrets(settings)
print(hashlib.sha256(settings.auth.pepper().encode()).hexdigest())
"""


def test_processes_racing_at_first_start_get_the_same_pepper(tmp_path: Path) -> None:
    """Issue 25, item 7: `folio db upgrade`, `folio keys create` and `folio serve` on a fresh
    copy may all generate secrets at once. Six processes released together, five times: each
    ends up with the value on disk, never one of its own."""
    import hashlib
    import subprocess
    import sys

    from tests.utils.builders import REPO

    for round_ in range(5):
        settings = make_settings(tmp_path / f"round{round_}")
        go = tmp_path / f"go{round_}"
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(settings.config_path), str(go)],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        time.sleep(1.0)  # all of them importing and waiting
        go.touch()
        results = [r.communicate(timeout=120) for r in racers]
        assert all(r.returncode == 0 for r in racers), [err for _, err in results]
        on_disk = (secrets_dir(settings) / "key_pepper").read_text()
        assert {out.strip() for out, _ in results} == {hashlib.sha256(on_disk.encode()).hexdigest()}
        assert sorted(p.name for p in secrets_dir(settings).iterdir()) == [  # no temp files
            "jwt_secret",
            "key_pepper",
        ]


def test_without_hard_links_racing_threads_still_agree(tmp_path: Path, monkeypatch) -> None:
    """Some volumes (network and container filesystems) refuse hard links: generation used to
    fail there with an OSError. It now creates the file exclusively in place, and readers wait
    for the writer, so racing threads still agree."""
    import threading

    def no_links(src, dst, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    values: list[str] = []
    barrier = threading.Barrier(8)
    base = make_settings(tmp_path)
    sites = [make_settings(tmp_path) for _ in range(8)]  # eight processes' settings, one folder

    def start(settings) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        ensure_secrets(settings)
        values.append(settings.auth.pepper())

    threads = [threading.Thread(target=start, args=(site,)) for site in sites]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    on_disk = (secrets_dir(base) / "key_pepper").read_text()
    assert values == [on_disk] * 8
    assert stat.S_IMODE((secrets_dir(base) / "key_pepper").stat().st_mode) == 0o600
