"""The simulation engine: one entry point, pluggable backends."""

from il2sim.engine.events import EngineError
from il2sim.engine.result import SimulationResult
from il2sim.engine.simulate import BACKENDS, SimulationError, output_times, simulate

__all__ = ["BACKENDS", "EngineError", "SimulationError", "SimulationResult", "output_times",
           "simulate"]
