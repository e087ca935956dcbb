"""Read a Server-Sent Events response into (event, data) pairs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx


def iter_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event name, parsed JSON data) per event, as they arrive; pings are skipped."""
    name, data = "message", []
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if data:
        yield name, json.loads("\n".join(data))
