#!/usr/bin/env bash
# Creates .venv and installs Folio with its dev extras, offline-model ready. Idempotent: a second
# run with an unchanged pyproject.toml returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.folio-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first: 2.13.0 is a CPU build on this machine's disk; anything else would pull CUDA wheels.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"
# MiniLM exported to ONNX once, inside the venv: serving never loads torch.
HF_HUB_OFFLINE=1 .venv/bin/folio models export -c config.yaml >/dev/null
echo "$want" > "$stamp"
