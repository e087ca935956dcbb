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
        value = _read(path) if path.exists() else _create(path, settings=settings, env=env)
        setattr(settings.auth, name, SecretStr(value))


def _create(path: Path, *, settings: Settings, env: str) -> str:
    """Write a new random secret with mode 0600. Two processes starting at once: the file is
    linked into place atomically, so the loser reads the winner's value."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    value = secrets.token_urlsafe(GENERATED_BYTES)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _read(path)
    finally:
        tmp.unlink()
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
    return value


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path}: readable by other users (mode {mode:o}); run chmod 600 {path}")
    value = path.read_text().strip()
    if len(value.encode()) < 32:
        raise ConfigError(f"{path}: shorter than 32 bytes; delete it to generate a new one")
    return value
