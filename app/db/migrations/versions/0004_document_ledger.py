"""document ledger: indexed documents (hash, chunk ids, owner, state) and the index version

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 17:00:00

The tables are those of `indexes/ledger.py`. A notebook or eval may have created them already
(`SqlLedger.create_schema`) in the same SQLite file, so each is created only when missing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "documents" not in existing:
        op.create_table(
            "documents",
            sa.Column("id", sa.String(length=512), nullable=False),
            sa.Column("origin", sa.String(length=16), nullable=False),
            sa.Column("content_hash", sa.String(length=128), nullable=True),
            sa.Column("chunk_ids", sa.Text(), nullable=False),
            sa.Column("chunk_count", sa.Integer(), nullable=False),
            sa.Column("book", sa.String(length=300), nullable=True),
            sa.Column("chapter", sa.String(length=300), nullable=True),
            sa.Column("owner", sa.String(length=128), nullable=True),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("indexed_at", TS, nullable=True),
            sa.Column("updated_at", TS, nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_documents_origin", "documents", ["origin"], unique=False)
    if "index_state" not in existing:
        op.create_table(
            "index_state",
            sa.Column("name", sa.String(length=32), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("name"),
        )


def downgrade() -> None:
    op.drop_table("index_state")
    op.drop_index("ix_documents_origin", table_name="documents")
    op.drop_table("documents")
