"""Single dose administrations: bolus, infusion, subcutaneous depot, intratumoral.

Each dose is an immutable value that names its route (a route the model
declares, see :class:`~il2sim.model.spec.DoseRoute`). Amounts are pint
quantities in IU, MIU, mg of aldesleukin, cells or the model's own amount
unit, optionally per kg of body weight or per m2 of body surface area; they are
resolved per patient when a regimen is simulated.

Semantics in the engine (exact, never approximated):
- ``Bolus``, ``Depot``, ``Intratumoral``: the route's state jumps by
  ``amount * F`` at the dose time (``F`` the route's bioavailability, if any).
- ``Infusion``: the route's rate input rises by ``F * amount / duration`` at
  the start and falls back at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal, cast

from il2sim.units import Quantity, UnitError, parse_dose, parse_quantity

__all__ = ["Bolus", "Depot", "Dose", "DoseError", "Infusion", "Intratumoral"]

DoseKind = Literal["bolus", "infusion"]


class DoseError(ValueError):
    """A dose or schedule is malformed or self-contradictory."""


def _amount(value: object, what: str, *, per_time: int = 0) -> Quantity:
    """Parse a positive amount (``per_time=0``) or rate (``per_time=-1``); what a dose's unit
    may be is :func:`il2sim.units.parse_dose`'s rule."""
    try:
        q = parse_dose(value, what=what, rate=per_time == -1)
    except UnitError as exc:
        raise DoseError(str(exc)) from None
    if not math.isfinite(float(q.magnitude)) or float(q.magnitude) <= 0:
        raise DoseError(f"{what}: must be positive, got {value!r}")
    return q


def _duration(value: object, what: str) -> Quantity:
    try:
        q = parse_quantity(value, what=what)
    except UnitError as exc:
        raise DoseError(str(exc)) from None
    if not q.check("[time]"):
        raise DoseError(f"{what}: {value!r} is not a time")
    if float(q.magnitude) <= 0:
        raise DoseError(f"{what}: must be positive, got {value!r}")
    return q


@dataclass(frozen=True)
class _Instant:
    """A dose that enters its route's state at one instant."""

    amount: Quantity | str
    route: str = "iv"
    kind: ClassVar[DoseKind] = "bolus"
    label: ClassVar[str] = "bolus"

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _amount(self.amount, f"{self.label} amount"))
        if not isinstance(self.route, str) or not self.route:
            raise DoseError(f"{self.label}: route must be a route name")

    @property
    def duration_h(self) -> float:
        return 0.0

    @property
    def quantity(self) -> Quantity:
        """The amount as a pint quantity (validated at construction)."""
        return cast(Quantity, self.amount)

    def describe(self) -> str:
        return f"{self.label} {self.quantity:~P} ({self.route})"


@dataclass(frozen=True)
class Bolus(_Instant):
    """An IV push: the route's state jumps by the amount."""

    route: str = "iv"
    label: ClassVar[str] = "bolus"


@dataclass(frozen=True)
class Depot(_Instant):
    """A subcutaneous (or intramuscular) injection into an absorption depot.

    The model's depot route carries the bioavailability ``F`` and the depot
    state is absorbed at first order (Bateman kinetics).
    """

    route: str = "sc"
    label: ClassVar[str] = "depot"


@dataclass(frozen=True)
class Intratumoral(_Instant):
    """An injection into a tumour lesion (the model's tumour-site compartment)."""

    route: str = "it"
    label: ClassVar[str] = "intratumoral"


@dataclass(frozen=True)
class Infusion:
    """A zero-order infusion: give ``amount`` over ``duration``, or ``rate`` for ``duration``.

    Exactly two of ``amount``, ``rate`` and ``duration`` are given; ``duration``
    is always needed. Giving ``amount`` and ``rate`` together is a conflict.
    """

    amount: Quantity | str | None = None
    duration: Quantity | str | None = None
    rate: Quantity | str | None = None
    route: str = "iv"
    kind: ClassVar[DoseKind] = "infusion"
    label: ClassVar[str] = "infusion"

    def __post_init__(self) -> None:
        if self.duration is None:
            raise DoseError("infusion: give its duration (e.g. '15 min')")
        duration = _duration(self.duration, "infusion duration")
        object.__setattr__(self, "duration", duration)
        if self.amount is not None and self.rate is not None:
            raise DoseError("infusion: give either amount or rate, not both "
                            "(amount = rate * duration)")
        if self.amount is None and self.rate is None:
            raise DoseError("infusion: give its amount (e.g. '600000 IU/kg') or its rate")
        if self.rate is not None:
            rate = _amount(self.rate, "infusion rate", per_time=-1)
            amount = (rate * duration).to_reduced_units()
            object.__setattr__(self, "rate", rate)
            object.__setattr__(self, "amount", amount)
        else:
            object.__setattr__(self, "amount", _amount(self.amount, "infusion amount"))
        if not isinstance(self.route, str) or not self.route:
            raise DoseError("infusion: route must be a route name")

    @property
    def duration_h(self) -> float:
        return float(cast(Quantity, self.duration).to("h").magnitude)

    @property
    def quantity(self) -> Quantity:
        """The total amount as a pint quantity (validated at construction)."""
        return cast(Quantity, self.amount)

    def describe(self) -> str:
        return f"infusion {self.quantity:~P} over {self.duration:~P} ({self.route})"


Dose = Bolus | Depot | Intratumoral | Infusion
