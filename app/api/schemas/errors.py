"""The one error body, as OpenAPI documents it for every route (`responses=ERROR_RESPONSES`).
The body itself is built by `app.core.errors.error_body`."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str


class ErrorResponse(BaseModel):
    """The JSON body of every 4xx/5xx response."""

    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 413, 422, 429, 503)
}
