#!/usr/bin/env bash
# Set up (if needed, with the optional JAX backend) and run the checks: ruff, mypy (strict),
# then the pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh jax
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
