"""Virtual clinical trials: protocol, response criteria, endpoints, runner."""

from il2sim.trial.endpoints import MortalityModel
from il2sim.trial.protocol import HoldCriteria, LabelProtocol, label_courses
from il2sim.trial.response import RECIST, WHO, best_response, classify_scans
from il2sim.trial.runner import TrialResult, TrialSpec, run_trial

__all__ = ["RECIST", "WHO", "HoldCriteria", "LabelProtocol", "MortalityModel", "TrialResult",
           "TrialSpec", "best_response", "classify_scans", "label_courses", "run_trial"]
