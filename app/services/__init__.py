"""Request services: the logic behind the routes (answering, sessions, ingest, identity, keys,
users, tokens, OAuth, usage, feedback, health, rate limits, the FAQ cache). They take
keyword-only arguments, return domain objects and raise FolioErrors; no FastAPI here.
Operator tools (backup, restore, re-index, handoff) are in app/ops/."""
