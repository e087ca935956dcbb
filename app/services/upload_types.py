"""What an uploaded file is, decided by its bytes: a zip renamed `.pdf` is not a PDF.

The name and the Content-Type only choose between the text readers (HTML, Markdown, plain
text) and refuse kinds Folio does not read (`.docx`, `image/png`); they never make binary data
acceptable. The result names a reader of `indexes/readers.py`, the one config sources use.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import filetype

from app.core.errors import UnsupportedMediaType

READERS = ("pdf", "html", "markdown", "text")
SUPPORTED = "PDF, HTML, Markdown or plain text"
EXTENSIONS = {
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}
MEDIA_TYPES = {
    "application/pdf": "pdf",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
}
# What clients send when they do not know: says nothing either way.
UNKNOWN_MEDIA_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
PDF_MAGIC = b"%PDF-"
PDF_HEADER_WINDOW = 1024  # the PDF header may follow up to 1 KiB of junk (PDF 1.7, annex H)
SAMPLE_BYTES = 8192
MAX_CONTROL_SHARE = 0.01  # text has tabs and newlines, not other C0 controls
TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
HTML_STARTS = ("<!doctype html", "<html", "<head", "<body", "<?xml")


def declared_reader(filename: str, content_type: str | None) -> str | None:
    """The reader the client's file name (else Content-Type) asks for; None when it says
    nothing. A kind Folio does not read is refused here (415)."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix:
        if suffix not in EXTENSIONS:
            raise UnsupportedMediaType(f"{filename}: {suffix} files are not supported; {_upload()}")
        return EXTENSIONS[suffix]
    media = (content_type or "").split(";")[0].strip().lower()
    if media in UNKNOWN_MEDIA_TYPES:
        return None
    if media not in MEDIA_TYPES:
        raise UnsupportedMediaType(f"{filename}: {media} is not supported; {_upload()}")
    return MEDIA_TYPES[media]


def sniff_reader(data: bytes, *, filename: str, content_type: str | None) -> str:
    """The reader for `data`: `pdf` when the bytes are a PDF, a text reader when they are text,
    else UnsupportedMediaType naming what the bytes are."""
    declared = declared_reader(filename, content_type)
    if PDF_MAGIC in data[:PDF_HEADER_WINDOW]:
        return "pdf"
    found = _binary_kind(data)
    if declared == "pdf":
        raise UnsupportedMediaType(f"{filename}: not a PDF (the content is {found or 'text'})")
    if found is not None:
        raise UnsupportedMediaType(f"{filename}: the content is {found}; {_upload()}")
    if declared is not None:
        return declared
    head = _decoded_sample(data).lstrip().lower()
    return "html" if head.startswith(HTML_STARTS) else "text"


def _binary_kind(data: bytes) -> str | None:
    """A name for binary content (`application/zip`, `binary data`), or None for text."""
    kind = filetype.guess(data[:SAMPLE_BYTES])
    if kind is not None:
        return kind.mime
    return None if looks_like_text(data[:SAMPLE_BYTES]) else "binary data"


def looks_like_text(sample: bytes) -> bool:
    """No NUL byte and hardly any other control character: text in UTF-8 or a legacy
    single-byte encoding (read as Windows-1252). Binary data, compressed or not, has a C0
    control in about one byte of eight."""
    if not sample or sample.startswith(UTF16_BOMS):
        return True
    if b"\x00" in sample:
        return False
    controls = sum(1 for byte in sample if byte < 32 and byte not in TEXT_CONTROLS) + sample.count(
        127
    )
    return controls <= MAX_CONTROL_SHARE * len(sample)


def _decoded_sample(data: bytes) -> str:
    sample = data[:SAMPLE_BYTES]
    if sample.startswith(UTF16_BOMS):
        return sample.decode("utf-16", errors="replace")
    # A multi-byte character cut at the sample's end is not an error.
    return sample.decode("utf-8", errors="replace").removesuffix("\ufffd")


def _upload() -> str:
    return f"upload {SUPPORTED}"
