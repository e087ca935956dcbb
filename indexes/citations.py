"""Citation markers: find `[n]` / `[n, m]` in generated text and drop those that point nowhere."""

from __future__ import annotations

import re

_MARKER = re.compile(r"\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")


def cited_numbers(text: str) -> list[int]:
    """Every citation number in order of appearance (repeats kept)."""
    numbers: list[int] = []
    for match in _MARKER.finditer(text):
        numbers.extend(int(n) for n in re.split(r"[,;]", match.group(1)))
    return numbers


def check_citations(text: str, n_sources: int) -> tuple[str, list[int]]:
    """Remove markers outside 1..n_sources; return the cleaned text and the invalid numbers."""
    invalid: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"[,;]", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= n_sources]
        invalid.extend(n for n in numbers if not 1 <= n <= n_sources)
        return "".join(f"[{n}]" for n in valid)

    cleaned = _MARKER.sub(fix, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return cleaned, sorted(set(invalid))
