"""Shared test fixtures."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

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


@pytest.fixture(scope="session")
def load_script() -> Callable[[str], ModuleType]:
    """A loader of a script of ``scripts/`` as a module (registered under its name, so that
    its dataclasses resolve)."""
    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    return load
