"""Operator tools, apart from the services that answer requests: backup and restore, the
`folio index` handoff to a running server, re-indexing from the config, upgrading a legacy
index layout.

Layer: beside `app/services/`. These modules may import `app.core`, `app.db` and
`app.services`; the API (`app.api`) and the CLI (`app.cli`) import them, never the reverse.
"""
