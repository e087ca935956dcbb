"""Relational storage: SQLModel tables, the engine, Alembic migrations."""
