"""secret fingerprints: which FOLIO_KEY_PEPPER the data was made with

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 12:00:00

API keys, recovery codes (HMAC digests) and TOTP secrets (AES-GCM under a key derived from it)
only verify with the pepper they were made with. The table holds an HMAC of a fixed label
under the pepper, never the pepper: start-up and restore compare it with the pepper they have
(app/services/pepper.py). The row is written on the first start after this migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "secret_fingerprints",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("secret_fingerprints")
