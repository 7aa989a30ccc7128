"""Conditions on the simulated patient, and the hold, stop and discontinue rules built on them.

A condition is one comparison of a state or observable with numbers, written as a clinician
would: ``"sbp < 90"``, ``"confusion >= 2"``, ``"80 <= urine_8h < 160"``. Read so, it is the
value just before the dose. Wrapped in ``lowest``, ``highest`` or ``mean`` with a span, it
reads the chart of the hours before the dose instead: ``"lowest(sbp, 8 h) < 90"`` (any
systolic pressure below 90 since an 8-hourly dose), ``"mean(urine_8h, 8 h) < 80"`` (a
shift's urine, the mean rate times the shift), charted at the simulation's output times
(hourly in a virtual trial's dosing days) and just before the dose. A rule set
(:class:`HoldRules`) decides each scheduled dose of one drug from them:

- ``hold``: withhold this dose (a dose is withheld, never reduced);
- ``stop_cycle``: stop the cycle at once (the label's absolute criteria);
- ``relative``: counted; ``relative_to_stop`` or more at one dose stop the cycle; with
  ``relative_holds``, each one also withholds the dose;
- ``holds_to_stop``: the hold that makes this many in a cycle stops the cycle;
- ``discontinue``: stop the drug for good (every later dose of every course).

The label's rules (:data:`LABEL_HOLDS`; Proleukin prescribing information, section 2.2,
and institutional practice) are one instance.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from il2sim.engine.decisions import Observe

__all__ = ["LABEL_HOLDS", "SHIFT_H", "Condition", "HoldRules", "ProtocolError"]


class ProtocolError(ValueError):
    """A protocol that cannot be followed (a malformed rule, a cap below 1, no regimen)."""


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_READING = (rf"(?:(?P<reduce>lowest|highest|mean)\(\s*(?P<rname>[A-Za-z_][A-Za-z0-9_]*)\s*,"
            rf"\s*(?P<span>{_NUMBER})\s*h\s*\)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))")
_CONDITION = re.compile(
    rf"^\s*(?:(?P<lo>{_NUMBER})\s*(?P<lop><=|<)\s*)?{_READING}\s*"
    rf"(?P<op><=|<|>=|>)\s*(?P<value>{_NUMBER})\s*$")
_REDUCE: dict[str, Callable[..., NDArray[np.float64]]] = {
    "lowest": np.nanmin, "highest": np.nanmax, "mean": np.nanmean}


@dataclass(frozen=True)
class Condition:
    """``lower (<|<=) reading (<|<=) upper``, either bound optional; the reading is the
    observable just before the dose or, with ``reduce`` (``"lowest"``, ``"highest"``,
    ``"mean"``) and ``span_h`` > 0, its chart over the ``span_h`` hours before it. ``name`` is
    how a reason in the dose log reads (the condition's text by default). NaN never meets it."""

    observable: str
    lower: float = -math.inf
    lower_strict: bool = False
    upper: float = math.inf
    upper_strict: bool = False
    name: str = ""
    reduce: str = ""
    span_h: float = 0.0

    def __post_init__(self) -> None:
        if (self.reduce != "") != (self.span_h > 0) or (self.reduce and self.reduce not in _REDUCE):
            raise ProtocolError(f"condition on {self.observable!r}: a chart reading needs one of "
                                f"{', '.join(_REDUCE)} and a span over 0 h")

    @classmethod
    def parse(cls, text: str, name: str | None = None) -> Condition:
        """``"sbp < 90"``, ``"heart_rate > 130"``, ``"80 <= urine_8h < 160"`` or
        ``"lowest(sbp, 8 h) < 90"``."""
        m = _CONDITION.match(text) if isinstance(text, str) else None
        if m is None:
            raise ProtocolError(f"condition {text!r}: write e.g. 'sbp < 90', "
                                "'80 <= urine_8h < 160' or 'lowest(sbp, 8 h) < 90' (an "
                                "observable, or its chart over hours, compared with numbers)")
        value, op = float(m["value"]), m["op"]
        lower, lower_strict, upper, upper_strict = -math.inf, False, math.inf, False
        if m["lo"] is not None:
            if op not in ("<", "<="):
                raise ProtocolError(f"condition {text!r}: a range reads 'a < x < b'")
            lower, lower_strict = float(m["lo"]), m["lop"] == "<"
            if not lower < value:
                raise ProtocolError(f"condition {text!r}: the range is empty")
            upper, upper_strict = value, op == "<"
        elif op in ("<", "<="):
            upper, upper_strict = value, op == "<"
        else:
            lower, lower_strict = value, op == ">"
        return cls(m["name"] or m["rname"], lower, lower_strict, upper, upper_strict,
                   name or text.strip(), m["reduce"] or "", float(m["span"] or 0.0))

    def met(self, value: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Where ``value`` (one per patient) meets the condition."""
        with np.errstate(invalid="ignore"):
            low = value > self.lower if self.lower_strict else value >= self.lower
            high = value < self.upper if self.upper_strict else value <= self.upper
        return np.asarray(low & high, dtype=bool)

    def read(self, observe: Observe) -> NDArray[np.float64]:
        """The reading, one per patient (the chart's lowest, highest or mean value)."""
        if not self.reduce:
            return observe(self.observable)
        chart = observe.window(self.observable, self.span_h)
        with warnings.catch_warnings():  # a failed patient's chart is all NaN: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(_REDUCE[self.reduce](chart, axis=1), dtype=np.float64)

    def __call__(self, observe: Observe) -> NDArray[np.bool_]:
        return self.met(self.read(observe))


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
    relative_holds: bool = False

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
        if self.relative_holds and not self.relative:
            raise ProtocolError("hold rules: relative_holds needs relative criteria")

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


SHIFT_H = 8.0
"""Hours of chart a label decision reads: the 8-h dosing interval, one nursing shift."""

LABEL_HOLDS = HoldRules(
    hold=(_c(f"lowest(sbp, {SHIFT_H:g} h) < 90", "SBP < 90"),
          _c(f"lowest(spo2, {SHIFT_H:g} h) < 90", "SpO2 < 90%"),
          _c(f"highest(confusion, {SHIFT_H:g} h) >= 2", "moderate confusion"),
          _c(f"highest(heart_rate, {SHIFT_H:g} h) > 130", "heart rate > 130")),
    stop_cycle=(_c(f"mean(urine_8h, {SHIFT_H:g} h) < 80", "urine < 80 mL/8 h"),
                _c("creatinine >= 3", "creatinine >= 3")),
    relative=(_c("weight_gain_pct > 15", "weight gain > 15%"),
              _c(f"80 <= mean(urine_8h, {SHIFT_H:g} h) < 160", "urine 80-160 mL/8 h"),
              _c("2.5 <= creatinine < 3", "creatinine 2.5-2.9"),
              _c(f"1 <= highest(confusion, {SHIFT_H:g} h) < 2", "mild confusion")),
    relative_to_stop=3,
    holds_to_stop=3,
    relative_holds=True,
)
"""The label's rules with the institutional criteria of the centres that ran the pivotal
trials. Withhold for SBP < 90 mmHg, SpO2 < 90%, moderate confusion (score >= 2) or a heart
rate above 130/min (arrhythmia needing treatment) (Proleukin prescribing information,
section 2.2); withhold also for any one relative criterion (weight gain > 15%, urine 80-160
mL per 8-h shift, creatinine 2.5-2.9 mg/dL, mild confusion: score 1, the guideline's
"vivid dreams, mild anxiety"); stop the cycle at urine < 80 mL per shift or creatinine >= 3
mg/dL (absolute criteria), at 3 or more relative criteria at one dose, or at the third hold
of the cycle. "In the occurrence of any relative criteria the dose is held, corrective
action taken and patient re-assessed at next scheduled time. Discontinue therapy if >= 3
relative criteria occur or for any one absolute criteria" (an institution's guideline,
Springerplus 2015, doi 10.1186/s40064-015-0890-1, Table 1); the same criteria in the
NCI/Cytokine Working Group consensus (Dutcher et al. 2014, J Immunother Cancer 2:26, Table
3).

The guideline's relative criterion "sinus tachycardia 100-130/min" counts only when
"persistent at the time of dosing after correcting hypotension, fever" (Dutcher 2014, Table
3). The model's heart rate is the baroreflex's answer to the pressure alone (``leak``), the
tachycardia the criterion excludes, so the rules do not read it. [The baroreflex is checked
against paired means: after a 120-h infusion the systolic pressure fell from 128 to 100 mmHg
and the heart rate rose from 84 to 125/min (Fragasso et al. 1994, Br Heart J 71:166); the
model's ``(map0/MAP)^1.5`` gives x1.45 for that fall, against x1.49 measured.]

The vital signs are read from the chart of the shift before the dose (``SHIFT_H``), the
urine as the shift's total, creatinine and weight as the day's measurement. [assumption: a
dose is withheld when the patient was hypotensive during the interval, not only if the
pressure is low at the minute of the dose. In the model, supportive care holds a leaking
patient's systolic pressure just under 90 mmHg with fluid and vasopressor (``leak``), so a
pressure below 90 in the interval is the label's "SBP < 90 mm Hg with increasing
requirements for pressors"; read at the dose alone, after 8 h of falling plasma IL-2, it
withheld 5% of course-1 doses and left 51% of patients with all 28 (median 28; published 20
and 18, Fyfe 1995, Atkins 1999). docs/calibration.md, "Doses delivered".]"""
