"""What the schema modules share: the HTML-escaped twin of a text field, strings without
control characters, and the base of request bodies (unknown fields refused)."""

from __future__ import annotations

import html
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from app.core.textcheck import text_problem


def escaped(text: str | None) -> str | None:
    """The HTML-escaped twin of a text field (None stays None)."""
    return None if text is None else html.escape(text)


def _no_controls(value: str) -> str:
    if (problem := text_problem(value)) is not None:
        raise ValueError(problem)
    return value


SafeStr = Annotated[str, AfterValidator(_no_controls)]
"""A string that refuses control characters and lone surrogates (422)."""


class StrictInput(BaseModel):
    """A request body: an unknown field is a 422, not silently ignored."""

    model_config = ConfigDict(extra="forbid")
