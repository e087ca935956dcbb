"""Accounts, for admins (scope `admin`): list them, block one."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import AdminScope, DbDep, IdPath
from app.api.schemas.errors import ERROR_RESPONSES
from app.api.schemas.users import UserPublic
from app.services import users as user_service

router = APIRouter(tags=["admin"], responses=ERROR_RESPONSES, dependencies=[AdminScope])


@router.get("/users", response_model=list[UserPublic])
def list_users(db: DbDep) -> list[UserPublic]:
    """All accounts."""
    return [
        UserPublic.model_validate(u, from_attributes=True) for u in user_service.list_users(db=db)
    ]


@router.post("/users/{user_id}/deactivate", response_model=UserPublic)
def deactivate_user(user_id: IdPath, db: DbDep) -> UserPublic:
    """Block an account from logging in and using its tokens."""
    user = user_service.set_user_active(db=db, user_id=user_id, active=False)
    return UserPublic.model_validate(user, from_attributes=True)
