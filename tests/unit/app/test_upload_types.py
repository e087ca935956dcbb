"""What an upload is, by its bytes (app/services/upload_types.py): the name and Content-Type
only pick between text readers; binary content is never accepted as text."""

from __future__ import annotations

import pytest

from app.core.errors import UnsupportedMediaType
from app.services.upload_types import declared_reader, looks_like_text, sniff_reader
from tests.utils.pdfs import make_pdf, zip_bytes

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
GZIP = b"\x1f\x8b\x08\x00" + bytes(64)


@pytest.mark.parametrize(
    ("name", "media", "data", "reader"),
    [
        ("a.pdf", "application/pdf", make_pdf(["x"]), "pdf"),
        ("a.md", "text/markdown", make_pdf(["x"]), "pdf"),  # content decides: it is a PDF
        ("upload", None, make_pdf(["x"]), "pdf"),
        ("junk-then.pdf", None, b"garbage line\n" + make_pdf(["x"]), "pdf"),  # header in 1 KiB
        ("a.md", None, b"# Title\n\nText", "markdown"),
        ("a.markdown", None, b"Text", "markdown"),
        ("a.txt", None, b"Plain text", "text"),
        ("a.html", None, b"<p>Hi</p>", "html"),
        ("a.htm", None, b"<p>Hi</p>", "html"),
        ("a.txt", None, b"<!doctype html><p>Hi</p>", "text"),  # the name says text: kept as is
        ("upload", "text/html; charset=utf-8", b"Hi", "html"),
        ("upload", "text/plain", b"Hi", "text"),
        ("upload", None, b"  <!DOCTYPE html><html><p>Hi</p>", "html"),  # sniffed
        ("upload", "application/octet-stream", b"Just words.", "text"),
        ("utf16.txt", None, "Grüße".encode("utf-16"), "text"),
        ("latin1.txt", None, "Crème brûlée au café".encode("latin-1"), "text"),
        ("empty.md", None, b"", "markdown"),
    ],
)
def test_supported_content_gets_its_reader(name, media, data, reader):
    assert sniff_reader(data, filename=name, content_type=media) == reader


@pytest.mark.parametrize(
    ("name", "media", "data", "says"),
    [
        ("report.pdf", None, zip_bytes(), "application/zip"),  # a zip renamed .pdf
        ("report.pdf", None, b"plain text", "not a PDF"),
        ("photo.md", None, PNG, "image/png"),
        ("archive.txt", None, GZIP, "application/gzip"),
        ("noise.txt", None, bytes(range(256)) * 4, "binary data"),
        ("noise", None, bytes(range(1, 32)) * 40, "binary data"),  # controls, no NUL
        ("letter.docx", None, zip_bytes(), ".docx files are not supported"),
        ("table.csv", "text/csv", b"a,b", ".csv files are not supported"),
        ("upload", "image/png", b"words", "image/png is not supported"),
    ],
)
def test_unsupported_content_is_refused_with_what_it_is(name, media, data, says):
    with pytest.raises(UnsupportedMediaType) as caught:
        sniff_reader(data, filename=name, content_type=media)
    assert says in caught.value.message and name in caught.value.message
    assert caught.value.status == 415


def test_declared_reader_prefers_the_extension():
    assert declared_reader("a.PDF", "text/plain") == "pdf"
    assert declared_reader("noext", "application/octet-stream") is None


def test_text_detection():
    assert looks_like_text(("é" * 100).encode()[:-1])  # a character cut at the sample's end
    assert looks_like_text("Crème brûlée".encode("latin-1"))
    assert looks_like_text(b"tabs\tand\r\nnewlines\f")
    assert not looks_like_text(b"text\x00with a NUL")
    assert not looks_like_text(b"escape\x01codes\x02everywhere\x03" * 3)
