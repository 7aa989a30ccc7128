"""A treatment protocol: drugs with their courses, cycles, caps and rules, and retreatment.

A :class:`Protocol` is one or more :class:`Drug` s given together in courses (or none: a
control arm without a study drug, :func:`no_drug_protocol`):

- a drug's course is a list of cycles, each a regimen timed from the start of the course
  (``maintenance``: the cycles of courses 2 and later, when they differ from course 1);
- course 1 starts at 0, course 2 at ``first_retreatment_days`` (default
  ``course_every_days``), each later course ``course_every_days`` after the one before, up
  to ``courses``;
- each scheduled dose is decided by the drug's :class:`~il2sim.protocol.rules.HoldRules`
  (none: every dose given), at most ``max_doses_per_cycle`` given doses per cycle;
- an infusion longer than ``segment_h`` is given as consecutive segments of that length,
  each decided at its start, so a continuous infusion can be interrupted and resumed;
- course k >= 2 is given to a patient who received course k - 1 when ``retreat_if``
  holds at the course's first dose (:mod:`il2sim.protocol.decider`): on the measured
  tumour at the scheduled scans (``"shrinkage"``, ``"response"``,
  ``"response_or_stable"``; never after documented progression), ``"always"``, or a
  condition on the patient then (``"cd4 < 500"``).

:meth:`Protocol.regimen` expands all this to one :class:`~il2sim.dosing.regimen.Regimen`
whose administrations carry their drug, course and cycle as data. The label protocol
(:func:`label_protocol`) is one instance.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from il2sim.dosing.doses import Infusion
from il2sim.dosing.presets import label_high_dose
from il2sim.dosing.regimen import Administration, Regimen
from il2sim.dosing.schedule import Schedule
from il2sim.protocol.rules import LABEL_HOLDS, Condition, HoldRules, ProtocolError

__all__ = ["RETREATMENT", "Drug", "Protocol", "label_protocol", "no_drug_protocol",
           "regimen_protocol"]

RETREATMENT = ("shrinkage", "response", "response_or_stable", "always")
"""Retreatment rules on the measured tumour (RECIST 1.1 at the scheduled scans):
``shrinkage``: the last scan's sum of diameters below baseline; ``response``: the last scan
a CR or PR; ``response_or_stable``: a CR, PR or SD; none of them after a PD at any scan
(Eisenhauer et al. 2009, Eur J Cancer 45:228). ``always``: every patient treated in the
course before."""

TUMOUR_RULES = ("shrinkage", "response", "response_or_stable")


def _positive(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ProtocolError(f"{what}: must be a whole number >= 1, got {value!r}")


@dataclass(frozen=True)
class Drug:
    """One drug of a protocol (see the module docstring)."""

    name: str
    cycles: tuple[Regimen, ...]
    maintenance: tuple[Regimen, ...] = ()
    holds: HoldRules | None = LABEL_HOLDS
    max_doses_per_cycle: int | None = None
    segment_h: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cycles", tuple(self.cycles))
        object.__setattr__(self, "maintenance", tuple(self.maintenance))
        if not self.name:
            raise ProtocolError("drug: give its name")
        if not self.cycles or not any(r.administrations for r in self.cycles):
            raise ProtocolError(f"drug {self.name!r}: give its regimen (no doses)")
        for r in (*self.cycles, *self.maintenance):
            if not isinstance(r, Regimen):
                raise ProtocolError(f"drug {self.name!r}: a cycle must be a Regimen")
        if self.max_doses_per_cycle is not None:
            _positive(self.max_doses_per_cycle, f"drug {self.name!r}: max_doses_per_cycle")
        if self.segment_h is not None and not (math.isfinite(self.segment_h)
                                               and self.segment_h > 0):
            raise ProtocolError(f"drug {self.name!r}: the infusion segment must be a "
                                "positive time")
        if self.holds is not None and not isinstance(self.holds, HoldRules):
            raise ProtocolError(f"drug {self.name!r}: holds must be HoldRules or None")

    @staticmethod
    def of(name: str, regimen: Regimen, **options: object) -> Drug:
        """A drug whose course is ``regimen``, each administration in its own ``cycle``."""
        cycles = sorted({a.cycle for a in regimen.administrations})
        return Drug(name, tuple(Regimen(tuple(a for a in regimen.administrations
                                              if a.cycle == c), name=regimen.name)
                                for c in cycles), **options)  # type: ignore[arg-type]

    def course(self, k: int) -> tuple[Regimen, ...]:
        """The cycles of course ``k`` (from 1), timed from the course's start."""
        return self.maintenance if k > 1 and self.maintenance else self.cycles


@dataclass(frozen=True)
class Protocol:
    """Drugs, courses and the retreatment rule (see the module docstring)."""

    drugs: tuple[Drug, ...]
    courses: int = 1
    course_every_days: float = 84.0
    first_retreatment_days: float | None = None
    retreat_if: str = "shrinkage"
    name: str = ""
    tumour: str = "tumour_volume"

    def __post_init__(self) -> None:
        object.__setattr__(self, "drugs", tuple(self.drugs))
        if not self.drugs and self.courses != 1:
            raise ProtocolError("protocol: without a drug (no study drug) there is one course "
                                f"of nothing, not {self.courses}")
        names = [d.name for d in self.drugs]
        if len(set(names)) != len(names):
            raise ProtocolError(f"protocol: drug names must differ, got {names}")
        _positive(self.courses, "protocol courses")
        for what, value in (("course interval", self.course_every_days),
                            ("first retreatment", self.first_retreatment_days)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ProtocolError(f"protocol {what}: must be a positive time")
        if self.retreat_if not in RETREATMENT:
            try:
                Condition.parse(self.retreat_if)
            except ProtocolError:
                raise ProtocolError(f"protocol retreat_if {self.retreat_if!r}: one of "
                                    f"{', '.join(RETREATMENT)} or a condition such as "
                                    "'cd4 < 500'") from None
        if self.courses > 1:
            gap = (self.first_retreatment_days or self.course_every_days,
                   self.course_every_days)
            for k in range(1, self.courses):
                length = max(_span_days(d.course(k)) for d in self.drugs)
                if length >= gap[min(k - 1, 1)]:
                    raise ProtocolError(f"protocol: course {k} lasts {length:g} days, longer "
                                        f"than the {gap[min(k - 1, 1)]:g} days before the next")

    def course_start_days(self, k: int) -> float:
        """Start of course ``k`` (from 1), in days from the start of treatment."""
        if k == 1:
            return 0.0
        first = self.first_retreatment_days or self.course_every_days
        return first + (k - 2) * self.course_every_days

    @property
    def retreat_condition(self) -> Condition | None:
        """``retreat_if`` as a condition on the patient, when it is one."""
        return None if self.retreat_if in RETREATMENT else Condition.parse(self.retreat_if)

    @property
    def observables(self) -> tuple[str, ...]:
        """Every state or observable the protocol reads (to check against a model)."""
        names: list[str] = []
        for d in self.drugs:
            names += list(d.holds.observables) if d.holds is not None else []
        if self.courses > 1 and self.retreat_if in TUMOUR_RULES:
            names.append(self.tumour)
        condition = self.retreat_condition
        if self.courses > 1 and condition is not None:
            names.append(condition.observable)
        return tuple(dict.fromkeys(names))

    def regimen(self) -> Regimen:
        """Every dose of every course, as data: drug, course and cycle on each administration,
        infusions cut into segments where the drug says so."""
        items: list[Administration] = []
        for k in range(1, self.courses + 1):
            shift = 24.0 * self.course_start_days(k)
            for drug in self.drugs:
                for c, cycle in enumerate(drug.course(k), start=1):
                    for a in cycle.shifted(shift).administrations:
                        label = " ".join(x for x in (f"course {k}", drug.name if len(
                            self.drugs) > 1 else "", a.label or f"cycle {c}") if x)
                        a = dataclasses.replace(a, label=label, drug=drug.name, course=k,
                                                cycle=c)
                        items.extend(_segments(a, drug.segment_h))
        return Regimen(tuple(items), name=self.name)

    def describe(self) -> dict[str, object]:
        """A JSON-able description (stored with a trial's run)."""
        return {
            "name": self.name, "courses": self.courses,
            "course_every_days": self.course_every_days,
            "first_retreatment_days": self.first_retreatment_days,
            "retreat_if": self.retreat_if,
            "drugs": [{
                "name": d.name,
                "cycles": [r.describe() for r in d.cycles],
                "maintenance": [r.describe() for r in d.maintenance],
                "holds": None if d.holds is None else {
                    f.name: ([c.name for c in getattr(d.holds, f.name)]
                             if isinstance(getattr(d.holds, f.name), tuple)
                             else getattr(d.holds, f.name))
                    for f in dataclasses.fields(d.holds)},
                "max_doses_per_cycle": d.max_doses_per_cycle,
                "segment_h": d.segment_h,
            } for d in self.drugs],
        }


def _span_days(cycles: Sequence[Regimen]) -> float:
    end = 0.0
    for r in cycles:
        ev = r.events()
        if len(ev):
            end = max(end, float((ev["time_h"] + ev["duration_h"]).max()))
    return end / 24.0


def _segments(a: Administration, segment_h: float | None) -> list[Administration]:
    """``a`` itself, or, for an infusion longer than ``segment_h``, its consecutive segments
    (the same rate; the last one shorter when the duration is not a multiple)."""
    dose = a.dose
    if segment_h is None or not isinstance(dose, Infusion) or dose.duration_h <= segment_h \
            * (1 + 1e-12):
        return [a]
    n = math.ceil(dose.duration_h / segment_h - 1e-9)
    starts = a.schedule.times_h()
    out = []
    for j in range(n):
        length = min(segment_h, dose.duration_h - j * segment_h)
        part = Infusion(amount=dose.quantity * (length / dose.duration_h),
                        duration=f"{length!r} h", route=dose.route)
        times = np.asarray(starts, dtype=float) + j * segment_h
        out.append(dataclasses.replace(a, dose=part,
                                       schedule=Schedule(at=[f"{float(t)!r} h" for t in times])))
    return out


def label_protocol(dose: str = "600000 IU/kg", courses: int = 5,
                   course_every_days: float = 84.0, *,
                   retreat_if: str = "shrinkage") -> Protocol:
    """The label: ``dose`` every 8 h over 15 min, days 1-5 and 15-19, at most 14 doses a
    cycle, the label's hold and stop rules (:data:`~il2sim.protocol.rules.LABEL_HOLDS`), and
    another course, up to ``courses``, every ``course_every_days`` for patients whose tumour
    has shrunk at the last scan (Proleukin prescribing information, sections 2.1-2.2: response
    is evaluated about 4 weeks after a course; another course only after some tumour
    shrinkage, at least 7 weeks after discharge).

    The default interval lets a course start at least 7 weeks after discharge (day 19)."""
    drug = Drug.of("IL-2", label_high_dose(dose), holds=LABEL_HOLDS, max_doses_per_cycle=14)
    return Protocol((drug,), courses=courses, course_every_days=course_every_days,
                    retreat_if=retreat_if, name=f"label high-dose x{courses}")


def regimen_protocol(regimen: Regimen, *, holds: HoldRules | None = None,
                     name: str = "") -> Protocol:
    """One course of ``regimen`` (its administrations' cycles kept), decided by ``holds``
    (``None``: every dose given)."""
    return Protocol((Drug.of(name or regimen.name or "drug", regimen, holds=holds),),
                    name=regimen.name)


def no_drug_protocol(name: str = "no study drug") -> Protocol:
    """No study drug: a control arm on background therapy alone (an empty regimen)."""
    return Protocol((), name=name)
