"""The running server's half of `folio backup` on the local store (which only one process may
open): export the vectors into a folder under storage/ for the CLI on the same machine."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from app.api.deps import IndexDep
from app.core.errors import Unauthorized
from app.ops.backup import export_vectors_in_storage
from app.ops.handoff import HANDOFF_HEADER

router = APIRouter(tags=["admin"])


def require_handoff(
    request: Request, token: Annotated[str | None, Header(alias=HANDOFF_HEADER)] = None
) -> None:
    """Only the local CLI, holding the token from storage/server.json (mode 0600)."""
    expected = getattr(request.app.state, "handoff_token", None)
    if not token or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("Only the local `folio backup` may ask for an export")


@router.post(
    "/admin/export-vectors", include_in_schema=False, dependencies=[Depends(require_handoff)]
)
def export_vectors(index: IndexDep) -> dict[str, Any]:
    """Export vectors and retrieval state under storage/; answers the folder's name."""
    return export_vectors_in_storage(index=index)
