"""Regimens: immutable combinations of doses and schedules that expand to an event table.

A :class:`Regimen` is a tuple of :class:`Administration` (one dose on one
schedule, with a label such as "cycle 1", and as data the drug, the course and the cycle
it belongs to). Regimens combine with ``+``.
:meth:`Regimen.events` expands to a table with one row per dose event, sorted
by time; amounts stay symbolic (e.g. per kg) until the engine resolves them for
each patient.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from il2sim.dosing.doses import Bolus, Depot, Dose, DoseError, Infusion, Intratumoral
from il2sim.dosing.schedule import Schedule

__all__ = ["Administration", "Regimen", "EVENT_COLUMNS"]

EVENT_COLUMNS = ["dose_id", "time_h", "label", "kind", "route", "amount", "amount_unit",
                 "duration_h", "drug", "course", "cycle"]


@dataclass(frozen=True)
class Administration:
    """One dose given on one schedule; ``drug``, ``course`` and ``cycle`` say what part of a
    protocol it is (a hold rule counts per drug, course and cycle)."""

    dose: Dose
    schedule: Schedule
    label: str = ""
    drug: str = ""
    course: int = 1
    cycle: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.dose, (Bolus, Depot, Intratumoral, Infusion)):
            raise DoseError(f"administration: {self.dose!r} is not a dose")
        if not isinstance(self.schedule, Schedule):
            raise DoseError(f"administration: {self.schedule!r} is not a schedule")
        for name in ("course", "cycle"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DoseError(f"administration {name}: must be a positive whole number, "
                                f"got {value!r}")


@dataclass(frozen=True)
class Regimen:
    """A treatment regimen: any number of administrations, possibly on several routes."""

    administrations: tuple[Administration, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "administrations", tuple(self.administrations))
        for item in self.administrations:
            if not isinstance(item, Administration):
                raise DoseError(f"regimen: {item!r} is not an Administration")

    @staticmethod
    def none() -> Regimen:
        """No treatment."""
        return Regimen((), name="untreated")

    @staticmethod
    def of(dose: Dose, schedule: Schedule, *, label: str = "", name: str = "") -> Regimen:
        """A regimen of one dose on one schedule."""
        return Regimen((Administration(dose, schedule, label),), name=name)

    def __add__(self, other: Regimen) -> Regimen:
        if not isinstance(other, Regimen):
            return NotImplemented
        name = " + ".join(n for n in (self.name, other.name) if n)
        return Regimen(self.administrations + other.administrations, name=name)

    def shifted(self, hours: float) -> Regimen:
        """The same regimen started ``hours`` later (e.g. a second course)."""
        items = []
        for a in self.administrations:
            times = a.schedule.times_h() + hours
            schedule = Schedule(at=[f"{float(t)!r} h" for t in times])
            items.append(dataclasses.replace(a, schedule=schedule))
        return Regimen(tuple(items), name=self.name)

    @property
    def routes(self) -> tuple[str, ...]:
        return tuple(sorted({a.dose.route for a in self.administrations}))

    def events(self) -> pd.DataFrame:
        """One row per dose event, sorted by time (then by administration order)."""
        rows: list[dict[str, object]] = []
        for a in self.administrations:
            for t in a.schedule.times_h():
                rows.append({
                    "time_h": float(t),
                    "label": a.label,
                    "kind": a.dose.kind,
                    "route": a.dose.route,
                    "amount": float(a.dose.quantity.magnitude),
                    "amount_unit": f"{a.dose.quantity.units}",
                    "duration_h": a.dose.duration_h,
                    "drug": a.drug,
                    "course": a.course,
                    "cycle": a.cycle,
                })
        frame = pd.DataFrame(rows, columns=EVENT_COLUMNS[1:])
        frame = frame.sort_values("time_h", kind="stable").reset_index(drop=True)
        frame.insert(0, "dose_id", range(len(frame)))
        return frame

    def describe(self) -> str:
        lines = [self.name or "regimen"]
        for a in self.administrations:
            times = a.schedule.times_h()
            lines.append(f"  {a.label or '-'}: {a.dose.describe()} x{len(times)} "
                         f"from {times[0]:g} h to {times[-1]:g} h")
        return "\n".join(lines)

