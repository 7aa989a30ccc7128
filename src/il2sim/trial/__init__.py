"""Virtual clinical trials: response criteria, endpoints, runner (protocols:
:mod:`il2sim.protocol`)."""

from il2sim.trial.endpoints import MortalityModel
from il2sim.trial.response import RECIST, WHO, best_response, classify_scans
from il2sim.trial.runner import TrialResult, TrialSpec, run_trial

__all__ = ["RECIST", "WHO", "MortalityModel", "TrialResult", "TrialSpec", "best_response",
           "classify_scans", "run_trial"]
