#!/usr/bin/env bash
# Create .venv and install il2sim with its locked dependencies. Idempotent: a second run
# only checks a stamp (the hash of requirements.lock and pyproject.toml) and returns.
# "bash scripts/setup.sh jax" also installs the optional JAX backend (requirements-jax.lock).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.il2sim-setup-stamp
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing locked dependencies (first run takes a minute or two)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
    # setuptools is pinned in the lock, so the editable install needs no build isolation
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
        --no-build-isolation -e .
    echo "$want" > "$stamp"
fi
if [ "${1:-}" = "jax" ]; then
    jax_stamp=.venv/.il2sim-jax-stamp
    jax_want=$(sha256sum requirements-jax.lock | cut -d' ' -f1)
    if [ ! -f "$jax_stamp" ] || [ "$(cat "$jax_stamp")" != "$jax_want" ]; then
        echo "setup: installing the optional JAX backend (requirements-jax.lock)"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check \
            -r requirements-jax.lock
        echo "$jax_want" > "$jax_stamp"
    fi
fi
