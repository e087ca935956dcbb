"""Citation markers: find `[n]` / `[n, m]` in generated text and drop those that point nowhere.

`CitationFilter` does it over a stream of text pieces (an LLM's tokens), holding back only what
the next piece may still change: a marker that has not closed yet (`[12`) and trailing
whitespace. `check_citations` runs the same filter over a whole text, so a streamed answer and
the final answer are the same text by construction.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")
# What a marker can look like before its closing bracket arrives: "[", "[1", "[1, 2", "[1;".
_OPEN_MARKER = re.compile(r"\[\s*(?:\d+\s*(?:[,;]\s*(?:\d+\s*)?)*)?")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t]+([.,;:!?])")  # "flour [7]." leaves "flour ."
_SPACE_RUN = re.compile(r"[ \t]{2,}")


def cited_numbers(text: str) -> list[int]:
    """Every citation number in order of appearance (repeats kept)."""
    numbers: list[int] = []
    for match in _MARKER.finditer(text):
        numbers.extend(int(n) for n in re.split(r"[,;]", match.group(1)))
    return numbers


class CitationFilter:
    """Cleans a text that arrives in pieces: markers outside 1..n_sources are removed (their
    numbers listed in `invalid`), `[1, 2]` becomes `[1][2]`, spaces left before punctuation go,
    runs of spaces become one, and the text is stripped.

    `feed` returns what can be shown now; `close` returns the rest once the text is complete.
    The pieces returned, joined, are exactly `check_citations` of the whole text, however the
    text was cut.
    """

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self._invalid: set[int] = set()
        self._open = ""  # from the last "[" on, while it may still become a marker
        self._space = ""  # trailing whitespace: dropped before punctuation and at the end
        self._started = False  # leading whitespace is dropped

    @property
    def invalid(self) -> list[int]:
        """Cited numbers that point at no source, sorted, each once."""
        return sorted(self._invalid)

    def feed(self, piece: str) -> str:
        """The part of the text so far that no later piece can change, cleaned."""
        text = self._open + piece
        cut = _open_marker_start(text)
        self._open = text[cut:]
        return self._tidy(_MARKER.sub(self._fix, text[:cut]))

    def close(self) -> str:
        """The rest of the text: a marker left open is plain text; trailing space is dropped."""
        rest, self._open = self._open, ""
        out = self._tidy(_MARKER.sub(self._fix, rest))
        self._space = ""
        return out

    def _fix(self, match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"[,;]", match.group(1))]
        self._invalid.update(n for n in numbers if not 1 <= n <= self.n_sources)
        return "".join(f"[{n}]" for n in numbers if 1 <= n <= self.n_sources)

    def _tidy(self, text: str) -> str:
        """Whitespace rules up to the last non-space character; the space after it waits for
        the next piece (a "." after it removes it, the end of the text drops it)."""
        text = self._space + text
        body = text.rstrip()
        self._space = text[len(body) :]
        if not self._started:
            body = body.lstrip()
            self._started = bool(body)
        return _SPACE_RUN.sub(" ", _SPACE_BEFORE_PUNCTUATION.sub(r"\1", body))


def _open_marker_start(text: str) -> int:
    """Where a marker that may still close begins in `text`, else len(text). Only the last "["
    can start one: an open marker holds no other "["."""
    start = text.rfind("[")
    if start >= 0 and _OPEN_MARKER.fullmatch(text, start):
        return start
    return len(text)


def check_citations(text: str, n_sources: int) -> tuple[str, list[int]]:
    """Remove markers outside 1..n_sources; return the cleaned text and the invalid numbers."""
    citations = CitationFilter(n_sources)
    cleaned = citations.feed(text) + citations.close()
    return cleaned, citations.invalid
