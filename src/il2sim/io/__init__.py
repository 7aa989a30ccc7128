"""Deprecated: the old home of input files (now :mod:`il2sim.config`), SBML
(:mod:`il2sim.sbml`), the result store (:mod:`il2sim.store`) and result files
(:mod:`il2sim.engine.output`); its names and submodules are re-exported so that old imports work.

The names are imported on first use (PEP 562 module ``__getattr__``), so importing this
package loads neither matplotlib nor libsbml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from il2sim.lazy import LazyExports

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

__all__ = ["ConfigError", "ResultStore", "SbmlError", "Scenario", "StoreError", "export_sbml",
           "import_sbml", "load_scenario", "override", "parse_assignment", "plot_result",
           "read_sbml", "read_toml", "regimen_from_toml", "scenario_from_dict",
           "write_outputs"]


_EXPORTS = LazyExports(__name__, _HOMES, __all__)
_HOME = _EXPORTS.home
"""The module each public name lives in."""
__getattr__ = _EXPORTS.getattr
__dir__ = _EXPORTS.dir
