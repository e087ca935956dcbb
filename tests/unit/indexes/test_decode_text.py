"""Bytes to text for config sources and uploads alike (indexes/readers.py `decode_text`)."""

from __future__ import annotations

from indexes.readers import decode_text, read_bytes


def test_utf8_with_or_without_a_byte_order_mark():
    assert decode_text("Grüße".encode()) == "Grüße"
    assert decode_text(b"\xef\xbb\xbf" + "Grüße".encode()) == "Grüße"
    assert decode_text("Grüße\r\nzwei\rdrei".encode("utf-16")) == "Grüße\nzwei\ndrei"


def test_a_legacy_single_byte_file_is_read_as_windows_1252():
    assert decode_text("Crème brûlée – 20 °C".encode("cp1252")) == "Crème brûlée – 20 °C"


def test_a_stray_byte_in_a_utf8_file_does_not_turn_it_into_mojibake():
    assert decode_text("Grüße ".encode() + b"\x80") == "Grüße \ufffd"


def test_newlines_as_text_mode_reading_gives_them():
    """Config files were read in text mode: CRLF became LF. Reading bytes must agree, or every
    CRLF file would be re-embedded once for a different hash."""
    assert read_bytes(b"# T\r\n\r\nLine one.\r\nLine two.\r", "markdown") == (
        "# T\n\nLine one.\nLine two.\n"
    )
