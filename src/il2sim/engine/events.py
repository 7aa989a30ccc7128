"""Resolve a regimen's event table for one model and a batch of patients.

Amounts are converted to each route's unit per patient (per kg and per m2
doses use the patient's weight and body surface area), times to the model's
time unit, and each dose is turned into *actions* on a common time grid:
a jump of a state (bolus, depot, intratumoral) or the start and end of an
infusion rate. All patients share the schedule; amounts may differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.dosing.regimen import Regimen
from il2sim.model.compile import CompiledModel
from il2sim.model.spec import ModelError
from il2sim.units import UnitError, parse_quantity, resolve_amount, to_magnitude

__all__ = ["DoseActions", "EngineError", "event_times", "resolve_events"]


class EngineError(ValueError):
    """Bad input to the engine (times, parameters, covariates, doses)."""


@dataclass(frozen=True)
class DoseActions:
    """Numeric dose events for a batch.

    Attributes:
        table: the regimen's event table with ``time`` in model units added.
        time: event times, model units, shape ``(n_events,)``.
        end: end of each infusion (== time for instantaneous doses).
        infusion: True for infusions.
        state: index of the receiving state (jumps).
        input: index of the driven input (infusions).
        amount: amount per event and patient in the route's unit, ``(n_events, N)``,
            bioavailability already applied.
        unit: the route's amount unit, per event.
    """

    table: pd.DataFrame
    time: NDArray[np.float64]
    end: NDArray[np.float64]
    infusion: NDArray[np.bool_]
    state: NDArray[np.int64]
    input: NDArray[np.int64]
    amount: NDArray[np.float64]
    unit: tuple[str, ...]

    @property
    def n_events(self) -> int:
        return len(self.time)

    def breakpoints(self, t_end: float) -> NDArray[np.float64]:
        """Times in (0, t_end] where the right-hand side or the state changes."""
        t = np.concatenate([self.time, self.end[self.infusion]])
        return np.unique(t[(t > 0) & (t <= t_end)])


def event_times(table: pd.DataFrame, time_unit: str
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Start and end (the start, for an instantaneous dose) of each row of a regimen's event
    table (:meth:`~il2sim.dosing.regimen.Regimen.events`), in ``time_unit``."""
    try:
        hours_per_unit = to_magnitude(parse_quantity(f"1 {time_unit}", what="time unit"),
                                      "h", what="model time unit")
    except UnitError as exc:
        raise EngineError(str(exc)) from None
    times = table["time_h"].to_numpy(dtype=float) / hours_per_unit
    return times, times + table["duration_h"].to_numpy(dtype=float) / hours_per_unit


def resolve_events(
    compiled: CompiledModel,
    regimen: Regimen,
    params: NDArray[np.float64],
    covariates: pd.DataFrame,
) -> DoseActions:
    """Turn ``regimen`` into numeric actions for ``compiled`` and N patients."""
    model = compiled.model
    n = params.shape[0]
    table = regimen.events()
    times, ends = event_times(table, model.time_unit)
    infusion = (table["kind"] == "infusion").to_numpy()
    state = np.zeros(len(table), dtype=np.int64)
    input_ = np.zeros(len(table), dtype=np.int64)
    amount = np.zeros((len(table), n))
    units: list[str] = []
    weight = covariates["weight"].to_numpy(dtype=float) if "weight" in covariates else None
    bsa = covariates["bsa"].to_numpy(dtype=float) if "bsa" in covariates else None
    resolved: dict[tuple[float, str, str], NDArray[np.float64]] = {}
    for k, row in enumerate(table.itertuples(index=False)):
        try:
            route = model.route(str(row.route))
        except ModelError as exc:
            raise EngineError(str(exc)) from None
        state[k] = model.state_names.index(route.state)
        input_[k] = compiled.route_input[route.name]
        units.append(route.unit)
        key = (float(row.amount), str(row.amount_unit), route.unit)
        if key not in resolved:
            q = parse_quantity(f"{row.amount} {row.amount_unit}", what="dose amount")
            try:
                value = resolve_amount(q, route.unit, weight_kg=weight, bsa_m2=bsa)
            except UnitError as exc:
                raise EngineError(f"dose {k} on route {route.name!r}: {exc}") from None
            resolved[key] = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
        amount[k] = resolved[key]
        if route.fraction is not None:
            amount[k] *= params[:, model.param_names.index(route.fraction)]
    table = table.assign(time=times)
    return DoseActions(table, times, ends, infusion, state, input_, amount,
                       tuple(units))
