"""Relational storage: SQLModel tables, the database engine and `session_scope`, Alembic
migrations, dumps for backups."""
