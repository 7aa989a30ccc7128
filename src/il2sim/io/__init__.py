"""Deprecated: the old home of input files (now :mod:`il2sim.config`), SBML
(:mod:`il2sim.sbml`), the result store (:mod:`il2sim.store`) and result files
(:mod:`il2sim.engine.output`); its names and submodules are re-exported so that old imports work.

The names are imported on first use (PEP 562 module ``__getattr__``), so importing this
package loads neither matplotlib nor libsbml.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from il2sim.config.errors import ConfigError
    from il2sim.config.scenario import (
        Scenario,
        load_scenario,
        override,
        parse_assignment,
        read_toml,
        regimen_from_toml,
        scenario_from_dict,
    )
    from il2sim.engine.output import plot_result, write_outputs
    from il2sim.sbml import SbmlError, export_sbml, import_sbml, read_sbml
    from il2sim.store import ResultStore, StoreError

_HOMES = {
    "il2sim.config.errors": ("ConfigError",),
    "il2sim.config.scenario": ("Scenario", "load_scenario", "override", "parse_assignment",
                               "read_toml", "regimen_from_toml", "scenario_from_dict"),
    "il2sim.engine.output": ("plot_result", "write_outputs"),
    "il2sim.sbml": ("SbmlError", "export_sbml", "import_sbml", "read_sbml"),
    "il2sim.store": ("ResultStore", "StoreError"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
"""The module each public name lives in."""

__all__ = ["ConfigError", "ResultStore", "SbmlError", "Scenario", "StoreError", "export_sbml",
           "import_sbml", "load_scenario", "override", "parse_assignment", "plot_result",
           "read_sbml", "read_toml", "regimen_from_toml", "scenario_from_dict",
           "write_outputs"]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (then cached here)."""
    module = _HOME.get(name)
    if module is None:  # a submodule, as when everything was imported eagerly
        if importlib.util.find_spec(f"il2sim.io.{name}") is None:
            raise AttributeError(f"module 'il2sim.io' has no attribute {name!r}")
        return importlib.import_module(f"il2sim.io.{name}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
