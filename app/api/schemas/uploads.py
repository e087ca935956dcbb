"""`POST /documents`: the multipart form (fields beside the file, and its OpenAPI schema:
the route parses the form itself, after authentication, so FastAPI cannot describe it)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.api.schemas.base import StrictInput

SOURCE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-/]*$"
MAX_FORM_FIELDS = 8


class UploadFields(StrictInput):
    """The form fields beside the file."""

    book: str | None = Field(default=None, max_length=300)
    chapter: str | None = Field(default=None, max_length=300)
    source_id: str | None = Field(default=None, max_length=200, pattern=SOURCE_ID_PATTERN)


UPLOAD_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "Markdown, text, HTML or PDF (decided by content)",
                        },
                        "book": {"type": "string", "maxLength": 300},
                        "chapter": {
                            "type": "string",
                            "maxLength": 300,
                            "description": "default: the first heading, else the file name",
                        },
                        "source_id": {
                            "type": "string",
                            "maxLength": 200,
                            "pattern": SOURCE_ID_PATTERN,
                            "description": "default: the file name; the same id replaces",
                        },
                    },
                }
            }
        },
    }
}
