"""Runs the `folio` CLI in a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.utils.builders import REPO


def run_folio(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`folio ARGS` with offline model loading and a wide terminal (tables stay on one line)."""
    env = env or {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
