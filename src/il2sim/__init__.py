"""il2sim: interleukin-2 immunotherapy in silico.

Import the public names from here::

    from il2sim import get_model, simulate, presets

The names are imported on first use (PEP 562 module ``__getattr__``), so that ``import
il2sim`` and the command line's ``--version`` and ``--help`` do not load NumPy, pint,
SciPy and the model library.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from il2sim.dosing import (
        PRESETS,
        Administration,
        Bolus,
        Depot,
        DoseError,
        Infusion,
        Intratumoral,
        Regimen,
        Schedule,
        presets,
    )
    from il2sim.engine import EngineError, SimulationError, SimulationResult
    from il2sim.engine.simulate import simulate
    from il2sim.model import (
        DoseRoute,
        Event,
        Input,
        Intermediate,
        Model,
        ModelError,
        Observable,
        Param,
        State,
        compile_model,
        get_model,
        list_models,
    )
    from il2sim.units import UnitError, ureg

__version__ = "0.1.0"

_HOMES = {
    "il2sim.dosing": ("PRESETS", "Administration", "Bolus", "Depot", "DoseError", "Infusion",
                      "Intratumoral", "Regimen", "Schedule", "presets"),
    "il2sim.engine": ("EngineError", "SimulationError", "SimulationResult", "simulate"),
    "il2sim.model": ("DoseRoute", "Event", "Input", "Intermediate", "Model", "ModelError",
                     "Observable", "Param", "State", "compile_model", "get_model",
                     "list_models"),
    "il2sim.units": ("UnitError", "ureg"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
"""The module each public name lives in."""

__all__ = [
    "PRESETS", "Administration", "Bolus", "Depot", "DoseError", "DoseRoute", "EngineError",
    "Event", "Infusion", "Input", "Intermediate", "Intratumoral", "Model", "ModelError",
    "Observable", "Param", "Regimen", "Schedule", "SimulationError", "SimulationResult", "State",
    "UnitError", "compile_model", "get_model", "list_models", "presets", "simulate", "ureg",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (then cached here)."""
    module = _HOME.get(name)
    if module is None:  # a submodule, as when everything was imported eagerly
        if importlib.util.find_spec(f"il2sim.{name}") is None:
            raise AttributeError(f"module 'il2sim' has no attribute {name!r}")
        return importlib.import_module(f"il2sim.{name}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
