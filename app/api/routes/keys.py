"""API keys (scope `admin`)."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.api.deps import AdminScope, DbDep, IdPath, SettingsDep
from app.api.schemas.errors import ERROR_RESPONSES
from app.api.schemas.keys import KeyCreate, KeyCreated, KeyPublic, KeyRotate, KeysPublic
from app.services import keys as key_service

router = APIRouter(tags=["admin"], responses=ERROR_RESPONSES, dependencies=[AdminScope])


@router.post("/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreate, db: DbDep, settings: SettingsDep) -> KeyCreated:
    """Create a key; the plaintext `key` is in this response only (the server keeps a hash)."""
    key, plaintext = key_service.create_key(
        db=db,
        settings=settings,
        name=body.name,
        scopes=body.scopes,
        rate_limit_per_minute=body.rate_limit_per_minute,
        rate_limit_per_day=body.rate_limit_per_day,
    )
    return KeyCreated(key=plaintext, **KeyPublic.of(key).model_dump())


@router.get("/keys", response_model=KeysPublic)
def list_keys(db: DbDep) -> KeysPublic:
    """All keys with prefix, scopes and state; never the key itself."""
    return KeysPublic(data=[KeyPublic.of(k) for k in key_service.list_keys(db=db)])


@router.post("/keys/{key_id}/rotate", response_model=KeyCreated)
def rotate_key(key_id: IdPath, body: KeyRotate, db: DbDep, settings: SettingsDep) -> KeyCreated:
    """Issue a successor key; the old one keeps working until the grace period ends."""
    new, plaintext = key_service.rotate_key(
        db=db, settings=settings, key_id=key_id, grace=key_service.parse_duration(body.grace)
    )
    return KeyCreated(key=plaintext, **KeyPublic.of(new).model_dump())


@router.delete("/keys/{key_id}", response_model=KeyPublic)
def revoke_key(key_id: IdPath, db: DbDep) -> KeyPublic:
    """Revoke at once."""
    return KeyPublic.of(key_service.revoke_key(db=db, key_id=key_id))
