"""``il2sim.io`` is deprecated but keeps its old import paths: every old name is the moved
object itself (not a copy), so ``isinstance`` and ``except`` keep working."""

from __future__ import annotations

import importlib

import pytest

MOVED = {
    "il2sim.io.base": "il2sim.config.errors",
    "il2sim.io.config": "il2sim.config.scenario",
    "il2sim.io.protocol_config": "il2sim.config.protocol",
    "il2sim.io.trial_config": "il2sim.config.trial",
    "il2sim.io.store": "il2sim.store",
    "il2sim.io.sbml": "il2sim.sbml",
    "il2sim.io.output": "il2sim.engine.output",
}


@pytest.mark.parametrize(("old", "new"), MOVED.items())
def test_an_old_module_re_exports_every_moved_name(old: str, new: str) -> None:
    before, after = importlib.import_module(old), importlib.import_module(new)
    assert sorted(before.__all__) == sorted(after.__all__)
    assert all(getattr(before, name) is getattr(after, name) for name in after.__all__)


def test_the_old_package_names_are_the_moved_objects() -> None:
    import il2sim.io as io
    from il2sim.config.errors import ConfigError
    from il2sim.sbml import import_sbml
    from il2sim.store import ResultStore

    assert (io.ConfigError, io.import_sbml, io.ResultStore) == (ConfigError, import_sbml,
                                                                ResultStore)
    for name in io.__all__:
        home = importlib.import_module(io._HOME[name])
        assert getattr(io, name) is getattr(home, name), name
    assert io.store is importlib.import_module("il2sim.io.store")  # submodules as attributes
    with pytest.raises(AttributeError, match="no attribute 'sbml_import'"):
        io.sbml_import  # noqa: B018  # an internal module, moved without an alias
