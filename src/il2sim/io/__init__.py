"""Input and output at the boundary: scenario files (TOML) and result files."""

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

__all__ = ["ConfigError", "Scenario", "load_scenario", "override", "parse_assignment",
           "plot_result", "read_toml", "regimen_from_toml", "scenario_from_dict",
           "write_outputs"]
