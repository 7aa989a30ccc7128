"""Validation against published trials: the trials atlas, their endpoints, the scoring and the
report (``il2sim validate``)."""

from il2sim.validation.atlas import Arm, Observed, Outcome, PublishedTrial, atlas
from il2sim.validation.endpoints import ENDPOINTS, Endpoint, NotSimulated, SimulatedArm
from il2sim.validation.run import Validation, compatible, prediction_interval, validate

__all__ = ["ENDPOINTS", "Arm", "Endpoint", "NotSimulated", "Observed", "Outcome",
           "PublishedTrial", "SimulatedArm", "Validation", "atlas", "compatible",
           "prediction_interval", "validate"]
