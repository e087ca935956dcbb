#!/usr/bin/env bash
# Creates .venv and installs Folio with every extra (dev, export, evals) from the lock file
# requirements/dev.txt (exact versions, hash-checked), then exports MiniLM to ONNX once.
# Idempotent: a second run with an unchanged pyproject.toml and lock returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.folio-installed
want=$(cat pyproject.toml requirements/dev.txt | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade "pip>=25,<27"
# The lock pins torch==2.13.0+cpu with the hash of the CPU wheel on this machine's disk (pip's
# find-links). PyPI has no +cpu build, so a machine without that wheel fails here instead of
# pulling CUDA wheels; install torch first from PyTorch's CPU index there (as the GitHub workflow
# does) and this step finds it installed.
.venv/bin/python -m pip install -q --require-hashes -r requirements/dev.txt
# Folio itself, editable, without resolving anything more (setuptools comes from the lock).
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
# MiniLM exported to ONNX once, inside the venv: serving never loads torch.
HF_HUB_OFFLINE=1 .venv/bin/folio models export -c config.yaml >/dev/null
echo "$want" > "$stamp"
