"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's shared reference data (BioModels files, SBML test suite).

    It lives beside the repository (``../shared/data``) or where ``IL2SIM_SHARED`` points.
    Missing data skips the test on a developer's machine and fails it in CI.
    """
    root = Path(os.environ.get("IL2SIM_SHARED", REPO.parent / "shared"))
    data = root / "data"
    if not data.is_dir():
        message = f"shared reference data not found at {data} (set IL2SIM_SHARED)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return data
