"""Conditions on the simulated patient, and the hold, stop and discontinue rules built on them.

A condition is one comparison of a state or observable with numbers, written as a clinician
would: ``"sbp < 90"``, ``"confusion >= 2"``, ``"80 <= urine_8h < 160"``. A rule set
(:class:`HoldRules`) decides each scheduled dose of one drug from them:

- ``hold``: withhold this dose (a dose is withheld, never reduced);
- ``stop_cycle``: stop the cycle at once (the label's absolute criteria);
- ``relative``: counted; ``relative_to_stop`` or more at one dose stop the cycle;
- ``holds_to_stop``: the hold that makes this many in a cycle stops the cycle;
- ``discontinue``: stop the drug for good (every later dose of every course).

The label's rules (:data:`LABEL_HOLDS`; Proleukin prescribing information, section 2.2,
and institutional practice) are one instance.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["LABEL_HOLDS", "Condition", "HoldRules", "ProtocolError"]


class ProtocolError(ValueError):
    """A protocol that cannot be followed (a malformed rule, a cap below 1, no regimen)."""


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CONDITION = re.compile(
    rf"^\s*(?:(?P<lo>{_NUMBER})\s*(?P<lop><=|<)\s*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*"
    rf"(?P<op><=|<|>=|>)\s*(?P<value>{_NUMBER})\s*$")


@dataclass(frozen=True)
class Condition:
    """``lower (<|<=) observable (<|<=) upper``, either bound optional; ``name`` is how a
    reason in the dose log reads (the condition's text by default). NaN never meets it."""

    observable: str
    lower: float = -math.inf
    lower_strict: bool = False
    upper: float = math.inf
    upper_strict: bool = False
    name: str = ""

    @classmethod
    def parse(cls, text: str, name: str | None = None) -> Condition:
        """``"sbp < 90"``, ``"heart_rate > 130"`` or ``"80 <= urine_8h < 160"``."""
        m = _CONDITION.match(text) if isinstance(text, str) else None
        if m is None:
            raise ProtocolError(f"condition {text!r}: write e.g. 'sbp < 90' or "
                                "'80 <= urine_8h < 160' (an observable compared with numbers)")
        value, op = float(m["value"]), m["op"]
        if m["lo"] is not None:
            if op not in ("<", "<="):
                raise ProtocolError(f"condition {text!r}: a range reads 'a < x < b'")
            lower = float(m["lo"])
            if not lower < value:
                raise ProtocolError(f"condition {text!r}: the range is empty")
            return cls(m["name"], lower, m["lop"] == "<", value, op == "<", name or text.strip())
        if op in ("<", "<="):
            return cls(m["name"], upper=value, upper_strict=op == "<", name=name or text.strip())
        return cls(m["name"], lower=value, lower_strict=op == ">", name=name or text.strip())

    def met(self, value: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Where ``value`` (one per patient) meets the condition."""
        with np.errstate(invalid="ignore"):
            low = value > self.lower if self.lower_strict else value >= self.lower
            high = value < self.upper if self.upper_strict else value <= self.upper
        return np.asarray(low & high, dtype=bool)

    def __call__(self, observe: Callable[[str], NDArray[np.float64]]) -> NDArray[np.bool_]:
        return self.met(observe(self.observable))


def _ordinal(k: int) -> str:
    words = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth")
    return words[k - 1] if 1 <= k <= len(words) else f"{k}th"


@dataclass(frozen=True)
class HoldRules:
    """The rules one drug's doses are decided by (see the module docstring)."""

    hold: tuple[Condition, ...] = ()
    stop_cycle: tuple[Condition, ...] = ()
    relative: tuple[Condition, ...] = ()
    relative_to_stop: int | None = None
    holds_to_stop: int | None = None
    discontinue: tuple[Condition, ...] = ()

    def __post_init__(self) -> None:
        for name in ("hold", "stop_cycle", "relative", "discontinue"):
            items = tuple(getattr(self, name))
            if not all(isinstance(c, Condition) for c in items):
                raise ProtocolError(f"hold rules {name}: give conditions")
            object.__setattr__(self, name, items)
        for name in ("relative_to_stop", "holds_to_stop"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ProtocolError(f"hold rules {name}: must be a whole number >= 1, "
                                    f"got {value!r}")
        if self.relative and self.relative_to_stop is None:
            raise ProtocolError("hold rules: relative criteria need relative_to_stop")

    @property
    def observables(self) -> tuple[str, ...]:
        """Every state or observable the rules read."""
        return tuple(dict.fromkeys(c.observable for c in self.conditions()))

    def conditions(self) -> Iterable[Condition]:
        return (*self.hold, *self.stop_cycle, *self.relative, *self.discontinue)

    def third_hold(self, k: int) -> str:
        """The suffix of the reason of the hold that stops the cycle."""
        return f" ({_ordinal(k)} hold: cycle stopped)"


def _c(text: str, name: str) -> Condition:
    return Condition.parse(text, name)


LABEL_HOLDS = HoldRules(
    hold=(_c("sbp < 90", "SBP < 90"), _c("spo2 < 90", "SpO2 < 90%"),
          _c("confusion >= 2", "moderate confusion"),
          _c("heart_rate > 130", "heart rate > 130")),
    stop_cycle=(_c("urine_8h < 80", "urine < 80 mL/8 h"),
                _c("creatinine >= 3", "creatinine >= 3")),
    relative=(_c("weight_gain_pct > 15", "weight gain > 15%"),
              _c("80 <= urine_8h < 160", "urine 80-160 mL/8 h"),
              _c("2.5 <= creatinine < 3", "creatinine 2.5-2.9"),
              _c("100 <= heart_rate <= 130", "heart rate 100-130")),
    relative_to_stop=3,
    holds_to_stop=3,
)
"""The label's rules: withhold for SBP < 90 mmHg, SpO2 < 90%, moderate confusion (score
>= 2) or a heart rate above 130/min (arrhythmia needing treatment); stop the cycle at urine
< 80 mL per 8-h shift or creatinine >= 3 mg/dL (absolute criteria), at 3 or more relative
criteria (weight gain > 15%, urine 80-160 mL per shift, creatinine 2.5-2.9 mg/dL, heart rate
100-130), or at the third hold of the cycle (Proleukin prescribing information, section 2.2)."""
