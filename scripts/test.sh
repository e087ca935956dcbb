#!/usr/bin/env bash
# Runs the whole test suite (installing first if needed). Postgres/Redis tests run when
# FOLIO_TEST_POSTGRES_URL / FOLIO_TEST_REDIS_URL are set (as .ci/run does) and skip otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
