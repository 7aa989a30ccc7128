"""Input and output at the boundary: scenario and trial files (TOML), SBML, result files
and the DuckDB result store."""

from il2sim.io.config import (
    ConfigError,
    Scenario,
    load_scenario,
    override,
    parse_assignment,
    read_toml,
    regimen_from_toml,
    scenario_from_dict,
)
from il2sim.io.output import plot_result, write_outputs
from il2sim.io.sbml import SbmlError, export_sbml, import_sbml, read_sbml
from il2sim.io.store import ResultStore, StoreError

__all__ = ["ConfigError", "ResultStore", "SbmlError", "Scenario", "StoreError", "export_sbml",
           "import_sbml", "load_scenario", "override", "parse_assignment", "plot_result",
           "read_sbml", "read_toml", "regimen_from_toml", "scenario_from_dict",
           "write_outputs"]
