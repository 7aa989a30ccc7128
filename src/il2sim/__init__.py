"""il2sim: interleukin-2 immunotherapy in silico.

Import the public names from here::

    from il2sim import get_model, simulate, presets
"""

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
from il2sim.engine import EngineError, SimulationError, SimulationResult, simulate
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

__all__ = [
    "PRESETS", "Administration", "Bolus", "Depot", "DoseError", "DoseRoute", "EngineError",
    "Event", "Infusion", "Input", "Intermediate", "Intratumoral", "Model", "ModelError",
    "Observable", "Param", "Regimen", "Schedule", "SimulationError", "SimulationResult", "State",
    "UnitError", "compile_model", "get_model", "list_models", "presets", "simulate", "ureg",
]
