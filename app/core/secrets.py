"""Server secrets: the JWT signing key and the API-key pepper.

There is no default secret anywhere: a value in the repository is public, and a login token
signed with it is forgeable. When `JWT_SECRET` / `FOLIO_KEY_PEPPER` are unset, `ensure_secrets`
generates a random value on first start and keeps it in `<storage_dir>/secrets/` (folder 0700,
files 0600), so tokens and API keys survive restarts. Replicas that do not share that folder
must be given the same values through the environment.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time
from pathlib import Path

from pydantic import SecretStr

from app.core.settings import ConfigError, Settings

log = logging.getLogger("folio.secrets")

# auth field → the environment name an operator sets instead
SECRET_ENV = {"jwt_secret": "JWT_SECRET", "key_pepper": "FOLIO_KEY_PEPPER"}
GENERATED_BYTES = 48  # token_urlsafe(48): 64 characters, 384 random bits


def secrets_dir(settings: Settings) -> Path:
    return settings.storage_dir / "secrets"


def ensure_secrets(settings: Settings) -> None:
    """Fill each unset server secret from its file in the storage folder, creating the file
    with a random value the first time. Called once per app (`create_app`) and by the CLI
    commands that need the pepper; a secret from the environment is never written to disk."""
    for name, env in SECRET_ENV.items():
        if getattr(settings.auth, name) is not None:
            continue
        path = secrets_dir(settings) / name
        value = _read_settled(path) if path.exists() else _create(path, settings=settings, env=env)
        setattr(settings.auth, name, SecretStr(value))


def configured_secret(settings: Settings, name: str) -> str | None:
    """A secret as set (environment, config) or as kept in its file, never generated: restore
    must not invent a pepper that the archive's data was not made with."""
    value = getattr(settings.auth, name)
    if value is not None:
        return str(value.get_secret_value())
    path = secrets_dir(settings) / name
    return _read_settled(path) if path.exists() else None


def secret_locations(settings: Settings) -> list[str]:
    """Where each server secret lives, for the operator who must keep it apart from backups:
    its environment name when set there, else its file in the storage folder."""
    places = []
    for name, env in SECRET_ENV.items():
        if getattr(settings.auth, name) is not None:
            places.append(f"{env} (environment)")
        else:
            places.append(f"{secrets_dir(settings) / name} (or set {env})")
    return places


def _create(path: Path, *, settings: Settings, env: str) -> str:
    """Write a new random secret (0600) unless another process got there first, then read the
    file back: every process racing at first start (`folio db upgrade`, `folio keys create`,
    `folio serve`, replicas on one volume) ends up with the value on disk, never its own.

    The value is written and synced under a temporary name and linked into place, so the
    file appears whole or not at all. Where the filesystem has no hard links (some network
    and container volume drivers) it is created exclusively in place instead, and a reader
    that finds it still empty waits for the writer (`_read_settled`)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    value = secrets.token_urlsafe(GENERATED_BYTES)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    _write_synced(tmp, value)
    try:
        os.link(tmp, path)
        created = True
    except FileExistsError:
        created = False
    except OSError:  # no hard links here: create in place, exclusively
        created = _create_in_place(path, value)
    finally:
        tmp.unlink()
    _sync_folder(path.parent)
    stored = _read_settled(path)
    if created:
        _log_generated(path, settings=settings, env=env)
    return stored


def _write_synced(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
        fh.flush()
        os.fsync(fh.fileno())  # a crash must not leave an empty secret behind


def _create_in_place(path: Path, value: str) -> bool:
    try:
        _write_synced(path, value)
    except FileExistsError:
        return False
    return True


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SETTLE_S = 5.0  # how long a reader waits for an in-place writer to finish


def _read_settled(path: Path) -> str:
    """`_read`, waiting a little while the file is still empty (an in-place writer between
    its exclusive create and its write)."""
    deadline = time.monotonic() + SETTLE_S
    while path.stat().st_size == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    return _read(path)


def _log_generated(path: Path, *, settings: Settings, env: str) -> None:
    level = logging.WARNING if settings.environment == "production" else logging.INFO
    log.log(
        level,
        # the path relative to the storage folder: logs never carry absolute paths
        "generated a random %s in <storage_dir>/secrets/%s (mode 0600); set %s to choose it "
        "yourself%s",
        path.name,
        path.name,
        env,
        " (replicas that do not share this folder need the same value)"
        if settings.environment == "production"
        else "",
    )


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path}: readable by other users (mode {mode:o}); run chmod 600 {path}")
    value = path.read_text().strip()
    if len(value.encode()) < 32:
        raise ConfigError(f"{path}: shorter than 32 bytes; delete it to generate a new one")
    return value
