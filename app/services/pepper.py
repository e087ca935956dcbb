"""The key pepper's fingerprint in the database: data and pepper must belong together.

API keys and recovery codes are HMAC digests under `FOLIO_KEY_PEPPER`, and TOTP secrets are
encrypted under a key derived from it. Started with another pepper (a new host after a
restore, a replica missing the variable, a regenerated secrets file), every API key used to be
refused with a bare 401 and every TOTP code failed, with nothing saying why. Now the database
records the pepper's fingerprint (an HMAC of a fixed label, never the pepper) on first start,
an existing database adopts the pepper it is first started with after the upgrade, and every
later start (and `folio restore`, and the key/user commands) refuses another pepper with a
message that says what to do.
"""

from __future__ import annotations

import hmac
import logging
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from app.core.errors import FolioError
from app.core.security import pepper_fingerprint
from app.db.models import SecretFingerprint, utcnow

log = logging.getLogger("folio.secrets")

NAME = "key_pepper"
SHOWN = 12  # hex characters of a fingerprint in messages: enough to tell two apart

Outcome = Literal["matches", "recorded", "unchecked"]


class PepperMismatch(FolioError):
    """The configured pepper is not the one the stored secrets were made with."""

    code, status = "pepper_mismatch", 409


RESET = "`folio db reset-pepper --yes`"


def mismatch_message(
    recorded: str, current: str, *, what: str = "this database", reset: str = RESET
) -> str:
    """What is wrong and what to do, in one paragraph (shown by start-up, CLI and restore)."""
    return (
        f"FOLIO_KEY_PEPPER is not the pepper {what}'s API keys, recovery codes and TOTP "
        f"secrets were made with (fingerprint {recorded[:SHOWN]}…; this pepper's is "
        f"{current[:SHOWN]}…): every API key would be refused and no TOTP code would verify. "
        "Set FOLIO_KEY_PEPPER to the original value (or put the original "
        f"<storage_dir>/secrets/key_pepper back). If it is lost for good, {reset} accepts "
        "this one, and every API key, recovery code and TOTP secret must be issued again."
    )


def recorded_fingerprint(engine: Engine) -> str | None:
    """The fingerprint stored in the database, or None (none yet, or no table yet)."""
    if not sa.inspect(engine).has_table(SecretFingerprint.__tablename__):
        return None
    with Session(engine) as db:
        row = db.get(SecretFingerprint, NAME)
        return row.fingerprint if row is not None else None


def check_pepper(*, engine: Engine, pepper: str) -> Outcome:
    """Compare `pepper` with the database's record; record it when there is none (a fresh
    database, or one from before the record existed). PepperMismatch when they differ.
    `unchecked` when the database is not migrated this far (auto_migrate off)."""
    if not sa.inspect(engine).has_table(SecretFingerprint.__tablename__):
        log.warning("the database has no secret_fingerprints table: run `folio db upgrade`")
        return "unchecked"
    current = pepper_fingerprint(pepper)
    recorded = recorded_fingerprint(engine)
    if recorded is None:
        try:
            with Session(engine) as db:
                db.add(SecretFingerprint(name=NAME, fingerprint=current))
                db.commit()
        except IntegrityError:  # another process (a replica, the CLI) recorded one first
            recorded = recorded_fingerprint(engine)
        else:
            log.info("recorded the key pepper's fingerprint %s…", current[:SHOWN])
            return "recorded"
    assert recorded is not None
    if not hmac.compare_digest(recorded.encode(), current.encode()):
        raise PepperMismatch(mismatch_message(recorded, current))
    return "matches"


def check_pepper_at_start(engine: Engine, pepper: str) -> Outcome:
    """`check_pepper` for a starting server: PepperMismatch stops the start; a database that
    does not answer yet is left to /ready and the 503 handler (the check is skipped, with a
    warning), as a server must start while its database is away."""
    try:
        return check_pepper(engine=engine, pepper=pepper)
    except DBAPIError as exc:
        log.warning(
            "could not compare the key pepper with the database's record (%s); run `folio db "
            "upgrade` or restart once the database answers",
            type(exc.orig or exc).__name__,
        )
        return "unchecked"


def reset_pepper(*, engine: Engine, pepper: str) -> str | None:
    """Record `pepper` as the one the data belongs to; returns the fingerprint replaced."""
    with Session(engine) as db:
        row = db.get(SecretFingerprint, NAME)
        previous = row.fingerprint if row is not None else None
        row = row or SecretFingerprint(name=NAME, fingerprint="")
        row.fingerprint = pepper_fingerprint(pepper)
        row.recorded_at = utcnow()
        db.add(row)
        db.commit()
    log.warning("the key pepper's fingerprint was reset; earlier API keys and TOTP secrets fail")
    return previous
