"""il2sim: interleukin-2 immunotherapy in silico.

Import the public names from here::

    from il2sim import get_model, simulate, presets

The names are imported on first use (PEP 562 module ``__getattr__``), so that ``import
il2sim`` and the command line's ``--version`` and ``--help`` do not load NumPy, pint,
SciPy and the model library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from il2sim.lazy import LazyExports

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

__all__ = [
    "PRESETS", "Administration", "Bolus", "Depot", "DoseError", "DoseRoute", "EngineError",
    "Event", "Infusion", "Input", "Intermediate", "Intratumoral", "Model", "ModelError",
    "Observable", "Param", "Regimen", "Schedule", "SimulationError", "SimulationResult", "State",
    "UnitError", "compile_model", "get_model", "list_models", "presets", "simulate", "ureg",
]


_EXPORTS = LazyExports(__name__, _HOMES, __all__)
__getattr__ = _EXPORTS.getattr
__dir__ = _EXPORTS.dir
