"""Ground truth from the sample book's files: which chapter and section hold a sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.utils.builders import SAMPLE_BOOK


@dataclass(frozen=True)
class Section:
    chapter: str  # the "# " heading
    path: tuple[str, ...]  # headings below the chapter, outermost first
    text: str


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def sections() -> list[Section]:
    out = []
    for file in sorted(SAMPLE_BOOK.glob("*.md")):
        chapter, path, lines = "", [], []
        for line in [*file.read_text().splitlines(), "# end"]:
            heading = re.match(r"^(#+)\s+(.*)$", line)
            if not heading:
                lines.append(line)
                continue
            text, lines = _squash("\n".join(lines)), []
            if text:
                out.append(Section(chapter, tuple(path), text))
            level, title = len(heading.group(1)), heading.group(2).strip()
            if level == 1:
                chapter, path = title, []
            else:
                path = [*path[: level - 2], title]
    return out


def section_of(sentence: str) -> Section:
    """The one section whose text contains `sentence` (whitespace aside)."""
    wanted = _squash(sentence)
    found = [s for s in sections() if wanted in s.text]
    assert len(found) == 1, f"{len(found)} sections contain {wanted!r}"
    return found[0]
