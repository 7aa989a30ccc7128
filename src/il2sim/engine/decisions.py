"""Per-patient dose decisions taken at each scheduled dose time.

The event loop asks a :class:`DoseDecider`, at every time where doses are
scheduled, which of them each patient receives. The decider sees the simulated
patients just before the dose (states and observables such as systolic blood
pressure), so hold and stop rules react to the simulated patient, and the values at
earlier output times (a scheduled scan's tumour size). Every decision is logged with its
reason. The rules themselves are :mod:`il2sim.protocol`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["Decision", "DoseDecider", "GiveAll", "Observe"]


class Observe(Protocol):
    """What a decider may look at: every patient's states and observables."""

    def __call__(self, name: str) -> NDArray[np.float64]:
        """The value of a state or observable for every patient just before the dose."""
        ...

    def past(self, name: str, times: NDArray[np.float64]) -> NDArray[np.float64]:
        """Its values ``(N, len(times))`` at earlier output times of the simulation (each
        of ``times`` must be an output time before the dose; NaN for a failed patient)."""
        ...

    def window(self, name: str, hours: float) -> NDArray[np.float64]:
        """The chart of the last ``hours``: its values ``(N, k)`` at the output times in
        (t - hours, t) and, last column, just before the dose (the bedside chart is as dense
        as the output grid: hourly in a virtual trial's dosing days)."""
        ...


@dataclass(frozen=True)
class Decision:
    """For k scheduled doses and N patients: given or not, and why."""

    given: NDArray[np.bool_]      # (k, N)
    reason: NDArray[np.object_]   # (k, N) strings: "" when given as scheduled


class DoseDecider(Protocol):
    """Decides, at one time, which scheduled doses each patient gets."""

    def start(self, n_patients: int) -> None:
        """Called once before the simulation; reset any per-patient memory."""
        ...

    def decide(self, t: float, doses: pd.DataFrame, observe: Observe) -> Decision:
        """``doses``: the event-table rows scheduled at ``t``; ``observe(name)``: the
        value of a state or observable for every patient just before ``t``."""
        ...


class GiveAll:
    """Every scheduled dose is given."""

    def __init__(self) -> None:
        self._n = 0

    def start(self, n_patients: int) -> None:
        self._n = n_patients

    def decide(self, t: float, doses: pd.DataFrame, observe: Observe) -> Decision:
        shape = (len(doses), self._n)
        return Decision(np.ones(shape, dtype=bool), np.full(shape, "", dtype=object))
