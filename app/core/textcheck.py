"""Checks for user-supplied text: not empty, not too long, no control characters, and valid
Unicode (JSON's `\\ud800` escapes decode to lone surrogates, which no UTF-8 encoder, database
driver or tokenizer accepts: left in, they surfaced as a 500 or a 503 deep in the stack)."""

from __future__ import annotations

import unicodedata

from ftfy.fixes import fix_c1_controls

from app.core.errors import InvalidInput, PayloadTooLarge

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


def has_control_chars(text: str) -> bool:
    """True for NUL and other C0/C1 controls (newlines and tabs are fine)."""
    return any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text)


def has_surrogates(text: str) -> bool:
    """True when `text` holds a lone surrogate (U+D800–U+DFFF), i.e. is not valid Unicode."""
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def text_problem(text: str) -> str | None:
    """Why `text` cannot be accepted as text, or None."""
    if has_surrogates(text):
        return "is not valid Unicode (lone surrogate)"
    if has_control_chars(text):
        return "contains control characters"
    return None


def clean_document_text(text: str, *, field: str, **limits: int | None) -> str:
    """`clean_text` for documents: C1 controls (U+0080–U+009F) are first read as the
    Windows-1252 characters they almost always are (mojibake: U+0096 is an en dash; SciFact has
    two such abstracts), so real-world text is not refused; NUL and C0 controls still are."""
    return clean_text(fix_c1_controls(text), field=field, **limits)


def clean_text(
    text: str, *, field: str, max_chars: int | None = None, max_bytes: int | None = None
) -> str:
    """Return `text` stripped, or raise a 4xx FolioError naming the field."""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput(f"{field}: must not be empty")
    if (problem := text_problem(stripped)) is not None:
        raise InvalidInput(f"{field}: {problem}")
    if max_chars is not None and len(stripped) > max_chars:
        raise InvalidInput(f"{field}: at most {max_chars} characters")
    if max_bytes is not None and len(stripped.encode("utf-8")) > max_bytes:
        raise PayloadTooLarge(f"{field}: at most {max_bytes} bytes")
    return stripped
