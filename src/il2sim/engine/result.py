"""The result of a simulation: trajectories, observables, status per patient, dose log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.model.spec import Model
from il2sim.units import header

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
        rtol: the solver's relative tolerance: below ``rtol`` times a series' largest
            magnitude a value is rounding noise (:meth:`noise_floor`).
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
    rtol: float = 1e-6

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

    @property
    def units(self) -> dict[str, str]:
        """The unit of each state and observable, by name."""
        return {**{s.name: s.unit for s in self.model.states},
                **{o.name: o.unit for o in self.model.observables}}

    @property
    def time_header(self) -> str:
        """The time column's header, with the model's time unit: ``"time (min)"``."""
        return header("time", self.model.time_unit)

    def to_frame(self, *, long: bool = False) -> pd.DataFrame:
        """A tidy table: wide (patient, time, one column per variable) or long
        (patient, time, variable, unit, value). Headers carry units
        (:func:`il2sim.units.header`): ``"time (min)"``, ``"C_plasma (IU/mL)"``."""
        n, nt = self.states.shape[:2]
        values = np.concatenate([self.states, self.observables], axis=2).reshape(n * nt, -1)
        frame = pd.DataFrame(values, columns=list(self.variable_names))
        frame.insert(0, self.time_header, np.tile(self.times, n))
        frame.insert(0, "patient", np.repeat(np.arange(n), nt))
        if not long:
            units = self.units
            return frame.rename(columns={v: header(v, units[v]) for v in self.variable_names})
        long_frame = frame.melt(id_vars=["patient", self.time_header], var_name="variable",
                                value_name="value")
        long_frame.insert(3, "unit", long_frame["variable"].map(self.units))
        return long_frame

    def noise_floor(self, name: str) -> float:
        """Magnitudes below this are rounding noise in ``name``'s trajectory:
        ``rtol * max |x|`` over the patients that finished (0 for an all-zero series).
        A value such as -1.98e-14 IU/mL against a peak of 650 IU/mL is below the accuracy
        the solver was asked for, so it is shown as 0."""
        v = self[name][self.ok]
        finite = np.abs(v[np.isfinite(v)])
        return float(self.rtol * finite.max()) if finite.size else 0.0

    def summary(self) -> pd.DataFrame:
        """Per variable: value at the start and end, minimum and maximum, over patients;
        values below the :meth:`noise_floor` are shown as 0."""
        rows = []
        for name in self.variable_names:
            v = self[name][self.ok]
            if v.size == 0:
                continue
            v = np.where(np.abs(v) < self.noise_floor(name), 0.0, v)
            rows.append({"variable": name, "start (median)": float(np.median(v[:, 0])),
                         "end (median)": float(np.median(v[:, -1])),
                         "min": float(np.nanmin(v)), "max": float(np.nanmax(v))})
        return pd.DataFrame(rows)

    def plot(self, path: str | Path | None = None, *, title: str = "") -> Figure:
        """A figure of every state and observable (:func:`il2sim.engine.output.result_figure`),
        saved as PNG to ``path`` when given."""
        from il2sim.engine.output import result_figure, save_figure  # matplotlib on first use

        figure = result_figure(self, title=title)
        if path is not None:
            save_figure(figure, path)
        return figure
