#!/usr/bin/env bash
# Set up (if needed) and run the checks: ruff, mypy (strict), then the pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
