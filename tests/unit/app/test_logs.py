"""Log lines: JSON fields, no tracebacks, credentials masked, request ids validated."""

from __future__ import annotations

import json
import logging

import pytest

from app.core.logs import configure_logging, mask_secrets, valid_request_id

API_KEY = "fk_AbCdEf012345_" + "s3cr3t-" * 6
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyOjEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_mask_secrets_keeps_the_key_prefix_and_drops_secrets() -> None:
    text = mask_secrets(
        f"key {API_KEY} jwt {JWT} header Bearer abcdefghijklmnop password=hunter2hunter2"
    )
    assert "s3cr3t" not in text and JWT not in text and "abcdefghijklmnop" not in text
    assert "hunter2" not in text
    assert "fk_AbCdEf012345_[masked]" in text  # the public prefix still finds the key


@pytest.mark.parametrize("value", ["lb-7f3a", "0f" * 16, "trace.id:01-abc_x"])
def test_plain_request_ids_are_honoured(value: str) -> None:
    assert valid_request_id(value)


@pytest.mark.parametrize("value", ["", "a b", "x\ninjected", "a" * 129, "-leading", "é"])
def test_odd_request_ids_are_replaced(value: str) -> None:
    assert not valid_request_id(value)


def _render(record_args: dict, capsys) -> dict:
    configure_logging(level="INFO", fmt="json")
    logging.getLogger("folio.test").info(*record_args["args"], **record_args.get("kw", {}))
    line = capsys.readouterr().err.strip().splitlines()[-1]
    return json.loads(line)


def test_a_stdlib_record_becomes_one_json_line_with_standard_fields(capsys) -> None:
    event = _render({"args": ("created key %s for %s", API_KEY, "ops")}, capsys)
    assert list(event)[:4] == ["timestamp", "level", "logger", "message"]
    assert event["level"] == "info" and event["logger"] == "folio.test"
    assert event["message"] == "created key fk_AbCdEf012345_[masked] for ops"


def test_tracebacks_are_never_written(capsys) -> None:
    try:
        raise ValueError("SELECT * FROM users WHERE password='x'")
    except ValueError:
        event = _render({"args": ("failed",), "kw": {"exc_info": True}}, capsys)
    assert event["exc_type"] == "ValueError"
    assert "SELECT" not in json.dumps(event) and "Traceback" not in json.dumps(event)


def test_console_format_is_one_line_too(capsys) -> None:
    configure_logging(level="INFO", fmt="console")
    logging.getLogger("folio.test").warning("disk %s full", "almost")
    out = capsys.readouterr().err.strip().splitlines()
    assert len(out) == 1 and "disk almost full" in out[0] and "folio.test" in out[0]
