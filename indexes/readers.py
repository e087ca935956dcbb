"""Readers: turn configured source files into LlamaIndex Documents with stable ids.

A document id is `<source name>:<path relative to the source folder>`, so it survives restarts
and moves of the checkout, and re-indexing can tell added, changed and removed files apart.
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

from llama_index.core import Document

from indexes.config import SourceConfig

ORIGIN_CONFIG = "config"
ORIGIN_API = "api"

_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def document_id(source: SourceConfig, file: Path) -> str:
    """Stable id of a file of a source."""
    return f"{source.name}:{file.relative_to(source.path).as_posix()}"


def list_source_files(source: SourceConfig) -> list[Path]:
    """Files matched by a source's globs, sorted for a deterministic order."""
    files: set[Path] = set()
    for pattern in source.globs:
        files.update(p for p in source.path.glob(pattern) if p.is_file())
    return sorted(files)


def read_source(source: SourceConfig) -> list[Document]:
    """All documents of one configured source."""
    return [read_file(source, f) for f in list_source_files(source)]


def read_file(source: SourceConfig, file: Path) -> Document:
    """One file → one Document carrying book/chapter/source metadata."""
    text = _read_text(file, source.reader)
    chapter = chapter_title(text, file) if source.chapter_from == "heading" else _title(file)
    return make_document(
        doc_id=document_id(source, file),
        text=text,
        book=source.book,
        chapter=chapter,
        origin=ORIGIN_CONFIG,
    )


def make_document(*, doc_id: str, text: str, book: str, chapter: str, origin: str) -> Document:
    """A Document whose hash depends only on its text and metadata (not on file times)."""
    return Document(
        id_=doc_id,
        text=text,
        metadata={"book": book, "chapter": chapter, "source_id": doc_id, "origin": origin},
        excluded_embed_metadata_keys=["book", "chapter", "source_id", "origin"],
        excluded_llm_metadata_keys=["book", "source_id", "origin"],
    )


def chapter_title(text: str, file: Path) -> str:
    """First H1 heading, else a title made from the file name."""
    match = _H1.search(text)
    return match.group(1).strip() if match else _title(file)


def _title(file: Path) -> str:
    stem = re.sub(r"^[\d\-_.]+", "", file.stem) or file.stem
    return stem.replace("-", " ").replace("_", " ").strip().capitalize()


def _read_text(file: Path, reader: str) -> str:
    return read_bytes(file.read_bytes(), reader)


def read_bytes(data: bytes, reader: str) -> str:
    """The text of a file's bytes, by reader: config sources and uploads (POST /documents)
    go through this one function."""
    match reader:
        case "markdown" | "text":
            return decode_text(data)
        case "html":
            return html_to_text(decode_text(data))
        case "pdf":
            from pypdf import PdfReader

            pages = PdfReader(io.BytesIO(data)).pages
            return "\n\n".join(page.extract_text() or "" for page in pages)
    raise ValueError(f"unknown reader {reader!r}")


def decode_text(data: bytes) -> str:
    """UTF-8 (a byte-order mark dropped; UTF-16 when its mark says so). Bytes that are not
    UTF-8 are replaced, unless no character in the file is UTF-8 beyond ASCII: then it is a
    legacy single-byte file and read as Windows-1252 (`Crème`, not `Cr\ufffdme`). Newlines
    become `\\n` as text-mode reading does (a document's hash does not depend on how it came)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        text = data.decode("utf-8-sig", errors="replace")
        if "\ufffd" in text and all(ord(ch) < 128 or ch == "\ufffd" for ch in text):
            text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page; headings become Markdown headings so sections survive."""

    _skip = {"script", "style", "head", "noscript"}
    _blocks = {"p", "div", "li", "br", "tr", "section", "article", "pre"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._skip:
            self._skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self._blocks:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._skip and self._skipping:
            self._skipping -= 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Strip tags, scripts and styles; keep headings as Markdown."""
    parser = _TextExtractor()
    parser.feed(html)
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
