"""Candidate regimens: two-week cycles of IL-2 doses, optionally with interferon-alpha.

A :class:`Candidate` is an IL-2 regimen of two-week cycles: ``doses_per_cycle`` doses of
``dose_iu_per_kg`` every ``interval_h`` within days 1-5 of each cycle, by one route (IV
infusion over ``infusion_min`` minutes, IV bolus, SC depot or intratumoral injection),
optionally combined with interferon-alpha (``ifn_miu`` MIU SC three times a week for the
cycles' weeks; the flagship model ``il2_qsp`` has the ``ifn_sc`` route).

Protocol (:meth:`Candidate.protocol`): by default every scheduled dose is given
(``holds=False``: the intrinsic therapeutic index of the schedule). With ``holds=True`` the
label's withhold and cycle-stop rules (:data:`~il2sim.protocol.LABEL_HOLDS`: SBP < 90, SpO2
< 90%, confusion, tachycardia, relative and absolute criteria, three holds stop the cycle)
are applied to the IL-2 doses of every candidate, so "doses withheld" is a real constraint;
interferon doses are given as scheduled. The label regimen with holds is exactly the label
trial arm with one course (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from il2sim.analysis.errors import AnalysisError
from il2sim.dosing.doses import Bolus, Depot, Infusion, Intratumoral
from il2sim.dosing.regimen import Administration, Regimen
from il2sim.dosing.schedule import Schedule
from il2sim.protocol import LABEL_HOLDS, Drug, Protocol

__all__ = ["LABEL", "ROUTES", "Candidate", "max_doses_per_cycle"]

DOSE_RANGE = (1.0e3, 2.0e6)
"""Allowed IL-2 dose per administration, IU/kg (the label dose is 600,000 IU/kg)."""
INTERVAL_RANGE = (1.0, 48.0)
"""Allowed dosing interval, h."""
IFN_RANGE = (0.0, 50.0)
"""Allowed interferon-alpha dose per SC injection, MIU (0: no interferon)."""
IFN_WEEKDAYS = (1, 3, 5)
"""Interferon-alpha days of each week (three times a week: Negrier et al. 1998, N Engl J Med
338:1272)."""
IFN_TIME = "8 h"
"""Time of day of the interferon injections."""
CYCLE_WINDOW_H = 120.0
"""Doses of one cycle start within days 1-5 of the cycle (before 120 h)."""
CYCLE_PERIOD_DAYS = 14
"""Cycle ``k`` starts on day ``1 + 14 (k - 1)``: cycle 2 on day 15, as on the label."""
MAX_CYCLES = 6
ROUTES = ("iv", "sc", "it")
"""IL-2 routes of the flagship model: IV (infusion, or bolus with ``infusion_min=0``),
SC depot, intratumoral injection."""
PARTNER_LABEL = "interferon"
"""The administration label of the combination partner's doses."""
PARTNER_DRUG = "IFN-alpha"
"""The drug name of the combination partner's doses (the dose log's ``drug``)."""


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not math.isfinite(float(value)):
        raise AnalysisError(f"candidate {name}: must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Candidate:
    """An IL-2 regimen: ``doses_per_cycle`` doses every ``interval_h`` in each of ``cycles``.

    Cycle ``k`` (``k = 1..cycles``) starts on day ``1 + 14 (k - 1)`` at 00:00; its doses
    are at ``start + i * interval_h`` for ``i < doses_per_cycle``, all within the cycle's
    days 1-5. Each dose is ``dose_iu_per_kg`` IU/kg by ``route``: ``"iv"`` infused over
    ``infusion_min`` minutes (``0``: an IV bolus), ``"sc"`` (depot, the model's
    bioavailability applies) or ``"it"`` (into the tumour), the last two with
    ``infusion_min = 0``. With ``ifn_miu > 0`` interferon-alpha is added: ``ifn_miu`` MIU
    SC on days 1, 3 and 5 of every week from day 1 through the last cycle's two weeks.
    The label regimen is :data:`LABEL`, ``Candidate(600000, 8, 14, 15)`` (Proleukin label,
    section 2.1).

    Raises:
        ValueError: a value out of range, doses that do not fit in days 1-5, an
            infusion longer than the interval or shorter than 1 min, an infusion by a
            route other than IV, or an unknown route.
    """

    dose_iu_per_kg: float
    interval_h: float
    doses_per_cycle: int
    infusion_min: float
    cycles: int = 2
    route: str = "iv"
    ifn_miu: float = 0.0

    def __post_init__(self) -> None:
        for name in ("dose_iu_per_kg", "interval_h", "infusion_min", "ifn_miu"):
            object.__setattr__(self, name, _number(name, getattr(self, name)))
        for name in ("doses_per_cycle", "cycles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise AnalysisError(f"candidate {name}: must be a positive whole number, "
                                    f"got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.cycles > MAX_CYCLES:
            raise AnalysisError(f"candidate cycles: at most {MAX_CYCLES}, got {self.cycles}")
        lo, hi = DOSE_RANGE
        if not lo <= self.dose_iu_per_kg <= hi:
            raise AnalysisError(f"candidate dose_iu_per_kg: {self.dose_iu_per_kg:g} IU/kg is "
                                f"outside {lo:g}-{hi:g} IU/kg")
        lo, hi = INTERVAL_RANGE
        if not lo <= self.interval_h <= hi:
            raise AnalysisError(f"candidate interval_h: {self.interval_h:g} h is outside "
                                f"{lo:g}-{hi:g} h")
        if self.route not in ROUTES:
            raise AnalysisError(f"candidate route: {self.route!r} is not one of "
                                f"{', '.join(ROUTES)}")
        if self.route != "iv" and self.infusion_min != 0.0:
            raise AnalysisError(f"candidate infusion_min: a {self.route.upper()} dose is an "
                                f"injection, give infusion_min=0 (got {self.infusion_min:g})")
        if 0.0 < self.infusion_min < 1.0 or self.infusion_min < 0.0:
            raise AnalysisError(f"candidate infusion_min: {self.infusion_min:g} min is shorter "
                                "than 1 min (use at least 1 min, or 0 for an IV bolus)")
        if self.infusion_min > 60.0 * self.interval_h:
            raise AnalysisError(f"candidate infusion_min: a {self.infusion_min:g}-min infusion "
                                f"does not end before the next dose {self.interval_h:g} h later")
        if self.doses_per_cycle > max_doses_per_cycle(self.interval_h):
            raise AnalysisError(f"candidate doses_per_cycle: {self.doses_per_cycle} doses every "
                                f"{self.interval_h:g} h do not fit in days 1-5 (at most "
                                f"{max_doses_per_cycle(self.interval_h)})")
        lo, hi = IFN_RANGE
        if not lo <= self.ifn_miu <= hi:
            raise AnalysisError(f"candidate ifn_miu: {self.ifn_miu:g} MIU is outside "
                                f"{lo:g}-{hi:g} MIU")

    @property
    def name(self) -> str:
        """A short label, e.g. ``"600k IU/kg q8h x14, 15 min"`` or
        ``"150k IU/kg SC q24h x5 + IFN 6 MIU tiw"``."""
        if self.route == "iv":
            how = f"{self.infusion_min:g} min" if self.infusion_min else "IV bolus"
            text = (f"{self.dose_iu_per_kg / 1e3:g}k IU/kg q{self.interval_h:g}h "
                    f"x{self.doses_per_cycle}, {how}")
        else:
            text = (f"{self.dose_iu_per_kg / 1e3:g}k IU/kg {self.route.upper()} "
                    f"q{self.interval_h:g}h x{self.doses_per_cycle}")
        if self.cycles != 2:
            text += f", {self.cycles} cycles"
        if self.ifn_miu:
            text += f" + IFN {self.ifn_miu:g} MIU tiw"
        return text

    @property
    def total_dose_iu_per_kg(self) -> float:
        """Total scheduled IL-2 dose over all cycles, IU/kg."""
        return self.dose_iu_per_kg * self.doses_per_cycle * self.cycles

    def times_h(self) -> NDArray[np.float64]:
        """Scheduled IL-2 dose times, hours from the start of treatment."""
        one = self.interval_h * np.arange(self.doses_per_cycle)
        starts = 24.0 * CYCLE_PERIOD_DAYS * np.arange(self.cycles)
        return np.asarray((starts[:, None] + one[None, :]).ravel(), dtype=np.float64)

    def regimen(self) -> Regimen:
        """The il2sim :class:`~il2sim.dosing.Regimen`: one administration per cycle
        (labelled ``"cycle k"``), and the interferon doses (labelled ``"interferon"``)."""
        amount = f"{self.dose_iu_per_kg:.17g} IU/kg"
        drug: Infusion | Bolus | Depot | Intratumoral
        if self.route == "iv" and self.infusion_min > 0:
            drug = Infusion(amount=amount, duration=f"{self.infusion_min:.17g} min",
                            route="iv")
        elif self.route == "iv":
            drug = Bolus(amount=amount, route="iv")
        elif self.route == "sc":
            drug = Depot(amount=amount, route="sc")
        else:
            drug = Intratumoral(amount=amount, route="it")
        items = [Administration(drug, Schedule(
            every=f"{self.interval_h:.17g} h", count=self.doses_per_cycle,
            start=f"{24.0 * CYCLE_PERIOD_DAYS * k:.17g} h"), f"cycle {k + 1}", drug="IL-2",
            cycle=k + 1) for k in range(self.cycles)]
        if self.ifn_miu > 0:
            weeks = self.cycles * CYCLE_PERIOD_DAYS // 7
            items.append(Administration(
                Depot(amount=f"{self.ifn_miu:.17g} MIU", route="ifn_sc"),
                Schedule(weekdays=IFN_WEEKDAYS, weeks=weeks, times=(IFN_TIME,)),
                PARTNER_LABEL, drug=PARTNER_DRUG))
        return Regimen(tuple(items), name=self.name)

    def protocol(self, holds: bool) -> Protocol:
        """One course of :meth:`regimen`: the IL-2 doses under the label's hold rules
        (``holds``) or all given, the interferon doses as scheduled."""
        regimen = self.regimen()
        drugs = []
        for name, rules in (("IL-2", LABEL_HOLDS if holds else None), (PARTNER_DRUG, None)):
            mine = tuple(a for a in regimen.administrations if a.drug == name)
            if mine:
                drugs.append(Drug.of(name, Regimen(mine, name=self.name), holds=rules))
        return Protocol(tuple(drugs), name=self.name)

    def as_dict(self) -> dict[str, object]:
        return {"dose_iu_per_kg": self.dose_iu_per_kg, "interval_h": self.interval_h,
                "doses_per_cycle": self.doses_per_cycle, "infusion_min": self.infusion_min,
                "cycles": self.cycles, "route": self.route, "ifn_miu": self.ifn_miu}


def max_doses_per_cycle(interval_h: float) -> int:
    """The most doses ``interval_h`` apart that start within days 1-5 (before 120 h)."""
    return int(math.ceil(CYCLE_WINDOW_H / interval_h - 1e-9))


LABEL = Candidate(600000.0, 8.0, 14, 15.0)
"""The label regimen: 600,000 IU/kg over 15 min every 8 h, at most 14 doses, days 1-5 and
15-19 (Proleukin label, section 2.1)."""
