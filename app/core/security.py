"""Primitives: bcrypt passwords, HMAC-hashed API keys, JWTs (joserfc), TOTP (pyotp), and
AES-GCM encryption of TOTP secrets at rest (cryptography).

No I/O and no database here; services combine these with storage.

Why HMAC-SHA-256 and not bcrypt for API keys: a key carries 256 bits from `secrets`, so there is
nothing to brute-force and a slow hash buys no safety; it would only make every request pay
~250 ms. The server-side pepper means a leaked database alone cannot even test guesses.
Passwords are low-entropy and chosen by people, so they get bcrypt.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

import bcrypt
import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry

KEY_PREFIX = "fk"
JWT_ALG = "HS256"
TOTP_STEP = 30

# --- passwords -------------------------------------------------------------------------------

BCRYPT_MAX_BYTES = 72  # bcrypt ignores (bcrypt>=5: rejects) anything longer


def hash_password(password: str, *, rounds: int = 12) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def verify_password(password: str, hashed: str | None) -> bool:
    """Constant-ish time whether or not the account exists (a dummy hash is checked then)."""
    if len(password.encode()) > BCRYPT_MAX_BYTES:
        return False
    target = hashed or _dummy_hash(12)
    return bcrypt.checkpw(password.encode(), target.encode()) and hashed is not None


@functools.cache
def _dummy_hash(rounds: int) -> str:
    return hash_password("not-a-real-password", rounds=rounds)


# --- API keys and other high-entropy secrets -------------------------------------------------


def hmac_digest(secret: str, *, pepper: str) -> str:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


PEPPER_LABEL = "folio key-pepper fingerprint v1"


def pepper_fingerprint(pepper: str) -> str:
    """Names a pepper without revealing it: HMAC-SHA-256 of a fixed label under the pepper (a
    one-way function of a 384-bit secret; nothing to guess from)."""
    return hmac_digest(PEPPER_LABEL, pepper=pepper)


def digests_equal(a: str, b: str) -> bool:
    # compare_digest: the time taken must not reveal how many leading characters matched.
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class NewApiKey:
    plaintext: str  # shown once
    prefix: str  # stored, public, used to find the row
    digest: str  # stored


def generate_api_key(*, pepper: str) -> NewApiKey:
    prefix = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewApiKey(
        plaintext=plaintext, prefix=prefix, digest=hmac_digest(plaintext, pepper=pepper)
    )


def api_key_prefix(raw: str) -> str | None:
    """The public prefix of a well-formed key, else None (so JWTs and junk are told apart)."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


# --- JWT --------------------------------------------------------------------------------------


class TokenError(Exception):
    """Invalid, expired, or of the wrong type/audience; the message is safe to show."""


def encode_jwt(claims: dict[str, Any], *, secret: str) -> str:
    return jwt.encode({"alg": JWT_ALG, "typ": "JWT"}, claims, OctKey.import_key(secret.encode()))


def decode_jwt(
    token: str, *, secret: str, issuer: str, audience: str, token_type: str
) -> dict[str, Any]:
    """Verify signature (HS256 only: `alg: none` and algorithm swaps fail), iss, aud, exp, typ."""
    try:
        decoded = jwt.decode(token, OctKey.import_key(secret.encode()), algorithms=[JWT_ALG])
        JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
            typ={"essential": True, "value": token_type},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise TokenError("Invalid or expired token") from exc
    return decoded.claims


def make_claims(
    *, subject: str, token_type: str, issuer: str, audience: str, ttl_s: float, **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "typ": token_type,
        "iat": now,
        "exp": now + int(ttl_s),
        "jti": secrets.token_hex(16),
        **extra,
    }


# --- TOTP -------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def match_totp_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    """The 30 s step (current or ±1 for clock drift) whose code equals `code`, else None.

    Callers store the step and refuse any step <= the last accepted one: that is what stops a
    code from being replayed inside its validity window.
    """
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // TOTP_STEP)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None


def new_recovery_codes(n: int = 10) -> list[str]:
    return [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(n)]


# --- TOTP secrets at rest -------------------------------------------------------------------
# A TOTP secret must be readable to check codes, so it cannot be hashed like a password. It is
# encrypted with AES-256-GCM under a key derived (HKDF-SHA-256) from the key pepper, with the
# user id as associated data: a copied database alone yields no secret, and a ciphertext moved
# to another user's row does not decrypt. The pepper, not JWT_SECRET, is the root: rotating the
# JWT secret (to end every login) must not wipe everyone's second factor.

TOTP_CIPHER_PREFIX = "v1:"


class SecretDecryptError(Exception):
    """The stored TOTP secret does not decrypt with this server's key (pepper changed?)."""


def totp_data_key(pepper: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"folio totp-secret v1"
    ).derive(pepper.encode())


def encrypt_totp_secret(secret: str, *, key: bytes, user_id: int) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), f"user:{user_id}".encode())
    return TOTP_CIPHER_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt_totp_secret(stored: str, *, key: bytes, user_id: int) -> str:
    if not stored.startswith(TOTP_CIPHER_PREFIX):
        raise SecretDecryptError("not an encrypted TOTP secret")
    try:
        raw = base64.urlsafe_b64decode(stored.removeprefix(TOTP_CIPHER_PREFIX))
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], f"user:{user_id}".encode())
    except (InvalidTag, ValueError) as exc:
        raise SecretDecryptError("TOTP secret does not decrypt with this key") from exc
    return plain.decode()
