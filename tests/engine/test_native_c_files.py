"""The native integrator's C lives in ``engine/rodas_c/*.c``: shipped as package data, read
as a resource, and part of the key that names a compiled library (a change to the C builds
a new library instead of loading a stale one)."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import pytest

import il2sim.engine.native_rodas as rodas
from il2sim import get_model
from il2sim.engine.native_backend import _library_key

ROOT = Path(__file__).resolve().parents[2]
C_FILES = ("helpers.c", "solve.c", "batch.c")


def test_every_c_file_is_package_data() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["il2sim"]
    folder = resources.files("il2sim.engine") / "rodas_c"
    shipped = sorted(p.name for p in folder.iterdir() if p.name.endswith(".c"))
    assert shipped == sorted(C_FILES)
    for name in shipped:
        assert any(fnmatch(f"engine/rodas_c/{name}", g) for g in globs), name


def test_the_generated_source_holds_each_file_without_its_leading_comment() -> None:
    source = rodas.integrator_c("Rodas4")
    assert "This comment is dropped" not in source
    for name in ("helpers.c", "batch.c"):  # appended verbatim
        assert rodas._c_file(name).strip() in source
    # solve.c is a template: its placeholders are filled, none is left
    for placeholder in ("IL2_STAGE_ARRAYS", "IL2_STAGES", "IL2_ERROR_STAGE", "IL2_ERR_ROOT",
                        "IL2_DENSE_COEFFS", "IL2_DENSE_VALUE", "IL2_RHS_PER_STEP"):
        assert placeholder in rodas._c_file("solve.c")
        assert placeholder not in source


def test_a_change_to_the_c_changes_the_library_key(monkeypatch: pytest.MonkeyPatch) -> None:
    model = get_model("kp1998")
    before = _library_key(model, "Rodas5P")
    original = rodas._c_file

    def edited(name: str) -> str:
        text = original(name)
        return text + "/* edited */\n" if name == "helpers.c" else text

    monkeypatch.setattr(rodas, "_c_file", edited)
    assert _library_key(model, "Rodas5P") != before
