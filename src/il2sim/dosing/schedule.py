"""When doses are given: explicit times, fixed intervals, days of a cycle, weekdays.

Time zero is the start of treatment (day 1, 00:00); "day d" starts at
``(d - 1) * 24 h``. A schedule is one of four patterns, chosen by which fields
are set (setting fields of two patterns is an error):

- ``at``: explicit times;
- ``every`` + ``count`` (+ ``start``): a fixed interval, e.g. every 8 h x 14;
- ``days`` + ``times``: on the listed days at the listed times of day,
  at most ``max_doses`` in all (the label regimen: days 1-5 every 8 h, at
  most 14 doses);
- ``weekdays`` + ``weeks`` + ``times``: on days 1-7 of each treatment week,
  e.g. 5 days a week twice a day for 6 weeks.

Any pattern can be repeated: ``repeat_every`` (e.g. "8 week") x ``repeats``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from il2sim.dosing.doses import DoseError
from il2sim.units import UnitError, parse_quantity

__all__ = ["Schedule"]


def _hours(value: object, what: str, *, allow_zero: bool = True) -> float:
    try:
        q = parse_quantity(value, what=what)
    except UnitError as exc:
        raise DoseError(str(exc)) from None
    if not q.check("[time]"):
        raise DoseError(f"{what}: {value!r} is not a time")
    hours = float(q.to("h").magnitude)
    if hours < 0 or (hours == 0 and not allow_zero):
        raise DoseError(f"{what}: must be {'non-negative' if allow_zero else 'positive'}, "
                        f"got {value!r}")
    return hours


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DoseError(f"{what}: must be a positive whole number, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Schedule:
    """Dose times of one administration, in hours from the start of treatment."""

    at: Sequence[object] | None = None
    every: object | None = None
    count: int | None = None
    start: object | None = None
    days: Sequence[int] | None = None
    weekdays: Sequence[int] | None = None
    weeks: int | None = None
    times: Sequence[object] | None = None
    max_doses: int | None = None
    repeat_every: object | None = None
    repeats: int | None = None

    def __post_init__(self) -> None:
        for name in ("at", "days", "weekdays", "times"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise DoseError(f"schedule {name!r}: give a list, e.g. {name} = [...]")
            object.__setattr__(self, name, tuple(value))
        patterns = {
            "at": self.at is not None,
            "every": self.every is not None or self.count is not None,
            "days": self.days is not None,
            "weekdays": self.weekdays is not None or self.weeks is not None,
        }
        chosen = [k for k, v in patterns.items() if v]
        if not chosen:
            raise DoseError("schedule: give one of 'at', 'every'+'count', 'days' or "
                            "'weekdays'+'weeks'")
        if len(chosen) > 1:
            raise DoseError(f"schedule: conflicting fields {chosen[0]!r} and {chosen[1]!r}; "
                            "use one pattern per schedule")
        kind = chosen[0]
        if kind == "at" and self.start is not None:
            raise DoseError("schedule: 'start' does not apply to explicit times 'at'")
        if kind in ("at", "every") and self.times is not None:
            raise DoseError(f"schedule: 'times' (times of day) does not apply to {kind!r}")
        if kind == "every" and (self.every is None or self.count is None):
            raise DoseError("schedule: 'every' needs 'count' (and 'count' needs 'every')")
        if kind == "weekdays" and (self.weekdays is None or self.weeks is None):
            raise DoseError("schedule: 'weekdays' needs 'weeks'")
        if (self.repeat_every is None) != (self.repeats is None):
            raise DoseError("schedule: 'repeat_every' and 'repeats' go together")
        if self.days is not None:
            for d in self.days:
                _positive_int(d, "schedule day")
            if len(set(self.days)) != len(self.days):
                raise DoseError("schedule: a day appears twice in 'days'")
        if self.weekdays is not None:
            for d in self.weekdays:
                if _positive_int(d, "schedule weekday") > 7:
                    raise DoseError(f"schedule weekday: {d} is not in 1..7")
        if self.times is not None:
            for t in self.times:
                if _hours(t, "time of day") >= 24:
                    raise DoseError(f"time of day: {t!r} is not within a day")
        if self.count is not None:
            _positive_int(self.count, "schedule count")
        if self.weeks is not None:
            _positive_int(self.weeks, "schedule weeks")
        if self.max_doses is not None:
            _positive_int(self.max_doses, "schedule max_doses")
        if self.repeats is not None:
            _positive_int(self.repeats, "schedule repeats")
        # Expanding validates every remaining value and catches overlaps.
        times = self.times_h()
        if len(times) == 0:
            raise DoseError("schedule: no dose times")

    def times_h(self) -> np.ndarray:
        """Sorted dose times in hours from the start of treatment."""
        if self.at is not None:
            base = np.array([_hours(t, "dose time") for t in self.at])
        elif self.every is not None:
            interval = _hours(self.every, "schedule interval", allow_zero=False)
            start = _hours(self.start, "schedule start") if self.start is not None else 0.0
            assert self.count is not None
            base = start + interval * np.arange(self.count)
        else:
            tod = [_hours(t, "time of day") for t in (self.times or ["0 h"])]
            if self.days is not None:
                days = np.array(sorted(set(int(d) for d in self.days)))
            else:
                assert self.weekdays is not None and self.weeks is not None
                wd = np.array(sorted(set(int(d) for d in self.weekdays)))
                days = (wd[None, :] + 7 * np.arange(self.weeks)[:, None]).ravel()
            offset = _hours(self.start, "schedule start") if self.start is not None else 0.0
            base = offset + ((days[:, None] - 1) * 24.0 + np.array(sorted(tod))[None, :]).ravel()
        base = np.sort(base)
        if len(base) == 0:
            raise DoseError("schedule: no dose times")
        if self.max_doses is not None:
            base = base[: self.max_doses]
        if self.repeat_every is not None:
            assert self.repeats is not None
            period = _hours(self.repeat_every, "repeat_every", allow_zero=False)
            if period <= base[-1] - base[0]:
                raise DoseError(f"schedule: repeat_every {self.repeat_every!r} is shorter than "
                                "one repetition of the schedule")
            base = (base[None, :] + period * np.arange(self.repeats)[:, None]).ravel()
        if len(np.unique(base)) != len(base):
            raise DoseError("schedule: the same dose time appears twice")
        return base
