"""Checks for user-supplied text: not empty, not too long, no control characters."""

from __future__ import annotations

import unicodedata

from app.core.errors import InvalidInput, PayloadTooLarge

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


def has_control_chars(text: str) -> bool:
    """True for NUL and other C0/C1 controls (newlines and tabs are fine)."""
    return any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text)


def clean_text(
    text: str, *, field: str, max_chars: int | None = None, max_bytes: int | None = None
) -> str:
    """Return `text` stripped, or raise a 4xx FolioError naming the field."""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f"{field}: must not be empty")
    if has_control_chars(stripped):
        raise InvalidInput(f"{field}: contains control characters")
    if max_chars is not None and len(stripped) > max_chars:
        raise InvalidInput(f"{field}: at most {max_chars} characters")
    if max_bytes is not None and len(stripped.encode("utf-8")) > max_bytes:
        raise PayloadTooLarge(f"{field}: at most {max_bytes} bytes")
    return stripped
