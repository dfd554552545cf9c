#!/usr/bin/env bash
# Set up (first time only), lint, and run the whole test suite, slow end-to-end tests included.
# Extra arguments go to pytest, e.g. -m "not slow" for the quick unit tests only.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/bootstrap.sh"
cd "$repo"
.venv/bin/ruff check etl tests scripts
.venv/bin/ruff format --check etl tests scripts
exec .venv/bin/python -m pytest "$@"
