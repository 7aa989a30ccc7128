"""The result of a simulation: trajectories, observables, status per patient, dose log."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.model.spec import Model

__all__ = ["SimulationResult"]


@dataclass(frozen=True)
class SimulationResult:
    """Trajectories of N patients at common output times.

    Attributes:
        model: the simulated model.
        times: output times in ``model.time_unit``, shape ``(n_times,)``.
        states: natural state values, ``(N, n_times, n_states)``; NaN after a failure.
        observables: ``(N, n_times, n_observables)``.
        params: the parameters used, one row per patient.
        status: ``"ok"`` or ``"failed"`` per patient.
        message: the solver's message per patient (empty when ok).
        dose_log: one row per patient and dose event (time, route, amount, status).
        param_values: parameters at the output times, ``(N, n_times, n_params)``, for a
            model with events (which may set parameters); None otherwise (``params``
            holds for all times).
    """

    model: Model
    times: NDArray[np.float64]
    states: NDArray[np.float64]
    observables: NDArray[np.float64]
    params: pd.DataFrame
    status: NDArray[np.str_]
    message: tuple[str, ...]
    dose_log: pd.DataFrame
    param_values: NDArray[np.float64] | None = None

    @property
    def n_patients(self) -> int:
        return int(self.states.shape[0])

    @property
    def ok(self) -> NDArray[np.bool_]:
        return np.asarray(self.status == "ok")

    @property
    def variable_names(self) -> tuple[str, ...]:
        return self.model.state_names + self.model.observable_names

    def __getitem__(self, name: str) -> NDArray[np.float64]:
        """Trajectory of one state or observable, shape ``(N, n_times)``."""
        if name in self.model.state_names:
            return self.states[:, :, self.model.state_names.index(name)]
        if name in self.model.observable_names:
            return self.observables[:, :, self.model.observable_names.index(name)]
        raise KeyError(f"{name!r} is neither a state nor an observable of "
                       f"{self.model.name!r}; known: {', '.join(self.variable_names)}")

    def to_frame(self, *, long: bool = False) -> pd.DataFrame:
        """A tidy table: wide (patient, time, one column per variable) or long
        (patient, time, variable, value)."""
        n, nt = self.states.shape[:2]
        values = np.concatenate([self.states, self.observables], axis=2).reshape(n * nt, -1)
        frame = pd.DataFrame(values, columns=list(self.variable_names))
        frame.insert(0, "time", np.tile(self.times, n))
        frame.insert(0, "patient", np.repeat(np.arange(n), nt))
        if not long:
            return frame
        return frame.melt(id_vars=["patient", "time"], var_name="variable", value_name="value")

    def summary(self) -> pd.DataFrame:
        """Per variable: value at the start and end, minimum and maximum, over patients."""
        rows = []
        for name in self.variable_names:
            v = self[name][self.ok]
            if v.size == 0:
                continue
            rows.append({"variable": name, "start (median)": float(np.median(v[:, 0])),
                         "end (median)": float(np.median(v[:, -1])),
                         "min": float(np.nanmin(v)), "max": float(np.nanmax(v))})
        return pd.DataFrame(rows)
