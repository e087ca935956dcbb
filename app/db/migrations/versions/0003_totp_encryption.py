"""TOTP secrets encrypted at rest: wider column, existing rows encrypted

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:00:00

The key is derived from FOLIO_KEY_PEPPER exactly as `app.core.security.totp_data_key` does;
the cipher is copied here (not imported) so this migration keeps its meaning when the app's
code changes. `folio db upgrade` and the server hand the pepper over in
`config.attributes["key_pepper"]`; plain `alembic` resolves it from the settings (env.py).
"""

import base64
import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = "v1:"
users = sa.table("users", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String))


def _key() -> bytes:
    pepper = op.get_context().config.attributes.get("key_pepper")
    if not pepper:
        raise RuntimeError(
            "TOTP secrets need FOLIO_KEY_PEPPER to be encrypted: run `folio db upgrade`"
        )
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"folio totp-secret v1"
    ).derive(pepper.encode())


def _rows(encrypted: bool) -> list[tuple[int, str]]:
    rows = op.get_bind().execute(
        sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None))
    )
    return [(i, s) for i, s in rows if s.startswith(PREFIX) == encrypted]


def upgrade() -> None:
    plain = _rows(encrypted=False)
    aead = AESGCM(_key()) if plain else None  # no key for rows to encrypt: stop before DDL
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "totp_secret",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=True,
        )
    for user_id, secret in plain:
        assert aead is not None
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, secret.encode(), f"user:{user_id}".encode())
        value = PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()
        op.get_bind().execute(users.update().where(users.c.id == user_id).values(totp_secret=value))


def downgrade() -> None:
    sealed_rows = _rows(encrypted=True)
    if sealed_rows:
        aead = AESGCM(_key())
        for user_id, value in sealed_rows:
            raw = base64.urlsafe_b64decode(value.removeprefix(PREFIX))
            secret = aead.decrypt(raw[:12], raw[12:], f"user:{user_id}".encode()).decode()
            op.get_bind().execute(
                users.update().where(users.c.id == user_id).values(totp_secret=secret)
            )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "totp_secret",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
