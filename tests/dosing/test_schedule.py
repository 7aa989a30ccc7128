"""Tests for il2sim.dosing.schedule: each pattern expands to the exact expected times."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from il2sim.dosing import DoseError, Schedule
from il2sim.units import Q_

# --------------------------------------------------------------------------- patterns


def test_at_explicit_times_sorted_and_converted() -> None:
    s = Schedule(at=["8 h", "0 h", "1 day", "90 min", Q_(2, "day")])
    np.testing.assert_array_equal(s.times_h(), [0.0, 1.5, 8.0, 24.0, 48.0])


def test_every_count() -> None:
    np.testing.assert_array_equal(Schedule(every="8 h", count=4).times_h(), [0, 8, 16, 24])


def test_every_count_start() -> None:
    s = Schedule(every="12 h", count=3, start="2 day")
    np.testing.assert_array_equal(s.times_h(), [48.0, 60.0, 72.0])
    s2 = Schedule(every="30 min", count=3, start="2 h")
    np.testing.assert_array_equal(s2.times_h(), [2.0, 2.5, 3.0])


def test_days_times() -> None:
    # day d starts at (d - 1) * 24 h
    s = Schedule(days=[3, 1], times=["20 h", "8 h"])
    np.testing.assert_array_equal(s.times_h(), [8.0, 20.0, 56.0, 68.0])


def test_days_default_time_is_midnight() -> None:
    np.testing.assert_array_equal(Schedule(days=[1, 2, 5]).times_h(), [0.0, 24.0, 96.0])


def test_days_times_max_doses() -> None:
    # the label cycle: days 1-5 every 8 h holds 15 slots, at most 14 doses
    s = Schedule(days=range(1, 6), times=["0 h", "8 h", "16 h"], max_doses=14)
    np.testing.assert_array_equal(s.times_h(), np.arange(14) * 8.0)
    s2 = Schedule(days=[1, 3], times=["8 h", "20 h"], max_doses=3)
    np.testing.assert_array_equal(s2.times_h(), [8.0, 20.0, 56.0])


def test_days_with_start_offset() -> None:
    s = Schedule(days=[1, 2], times=["6 h"], start="1 h")
    np.testing.assert_array_equal(s.times_h(), [7.0, 31.0])


def test_weekdays_weeks_times() -> None:
    # Mon/Wed/Fri (days 1, 3, 5 of each week) at 08:00 for 2 weeks
    s = Schedule(weekdays=(5, 1, 3), weeks=2, times=("8 h",))
    np.testing.assert_array_equal(s.times_h(), [8, 56, 104, 176, 224, 272])


def test_weekdays_twice_daily() -> None:
    s = Schedule(weekdays=range(1, 6), weeks=3, times=("8 h", "20 h"))
    t = s.times_h()
    assert len(t) == 30  # 5 days x 2 x 3 weeks
    expected = [(w * 7 + d) * 24.0 + h for w in range(3) for d in range(5) for h in (8, 20)]
    np.testing.assert_array_equal(t, expected)


def test_repeat_every_repeats() -> None:
    s = Schedule(every="1 day", count=2, repeat_every="1 week", repeats=3)
    np.testing.assert_array_equal(s.times_h(), [0, 24, 168, 192, 336, 360])


def test_repeat_days_pattern() -> None:
    s = Schedule(days=[1, 2], times=["8 h"], repeat_every="14 day", repeats=2)
    np.testing.assert_array_equal(s.times_h(), [8.0, 32.0, 344.0, 368.0])


def test_repeat_after_max_doses() -> None:
    s = Schedule(days=range(1, 6), times=["0 h", "8 h", "16 h"], max_doses=14,
                 repeat_every="14 day", repeats=2)
    t = s.times_h()
    np.testing.assert_array_equal(t, np.concatenate([np.arange(14) * 8.0,
                                                     336.0 + np.arange(14) * 8.0]))


def test_repeat_period_just_longer_than_pattern() -> None:
    s = Schedule(at=["0 h", "10 h"], repeat_every="11 h", repeats=3)
    np.testing.assert_array_equal(s.times_h(), [0, 10, 11, 21, 22, 32])


def test_single_dose_repeated() -> None:
    s = Schedule(at=["5 h"], repeat_every="1 h", repeats=3)
    np.testing.assert_array_equal(s.times_h(), [5.0, 6.0, 7.0])


# --------------------------------------------------------------------------- conflicts


@pytest.mark.parametrize(
    ("fields", "first", "second"),
    [
        ({"at": ["0 h"], "every": "8 h", "count": 2}, "at", "every"),
        ({"at": ["0 h"], "days": [1]}, "at", "days"),
        ({"every": "8 h", "count": 2, "days": [1]}, "every", "days"),
        ({"days": [1], "weekdays": [1], "weeks": 1}, "days", "weekdays"),
        ({"at": ["0 h"], "weeks": 2}, "at", "weekdays"),
        ({"count": 3, "weekdays": [1], "weeks": 1}, "every", "weekdays"),
    ],
)
def test_conflicting_patterns_name_both_fields(fields: dict[str, object], first: str,
                                               second: str) -> None:
    with pytest.raises(DoseError, match=f"conflicting fields '{first}' and '{second}'"):
        Schedule(**fields)  # type: ignore[arg-type]


def test_no_pattern() -> None:
    with pytest.raises(DoseError, match="give one of 'at'"):
        Schedule()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"every": "8 h"}, "'every' needs 'count'"),
        ({"count": 3}, "'every' needs 'count'"),
        ({"weekdays": [1]}, "'weekdays' needs 'weeks'"),
        ({"weeks": 2}, "'weekdays' needs 'weeks'"),
        ({"at": ["0 h"], "start": "1 h"}, "'start' does not apply"),
        ({"at": ["0 h"], "times": ["1 h"]}, "'times' .* does not apply to 'at'"),
        ({"every": "1 h", "count": 2, "times": ["1 h"]}, "does not apply to 'every'"),
        ({"every": "1 h", "count": 2, "repeats": 2}, "'repeat_every' and 'repeats' go together"),
        ({"every": "1 h", "count": 2, "repeat_every": "1 day"}, "go together"),
    ],
)
def test_incomplete_or_misplaced_fields(fields: dict[str, object], message: str) -> None:
    with pytest.raises(DoseError, match=message):
        Schedule(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- bad values


@pytest.mark.parametrize("weekday", [8, 0, -1])
def test_bad_weekday(weekday: int) -> None:
    with pytest.raises(DoseError, match="schedule weekday"):
        Schedule(weekdays=[1, weekday], weeks=1)


def test_weekday_8_message() -> None:
    with pytest.raises(DoseError, match=r"schedule weekday: 8 is not in 1\.\.7"):
        Schedule(weekdays=[8], weeks=1)


@pytest.mark.parametrize("tod", ["24 h", "1 day", "1500 min", "25 h"])
def test_time_of_day_not_within_a_day(tod: str) -> None:
    with pytest.raises(DoseError, match=f"time of day: '{tod}' is not within a day"):
        Schedule(days=[1], times=[tod])


def test_time_of_day_just_below_24h_is_fine() -> None:
    np.testing.assert_array_equal(Schedule(days=[2], times=["1439 min"]).times_h(),
                                  [24.0 + 1439 / 60])


def test_negative_time_of_day() -> None:
    with pytest.raises(DoseError, match="time of day: must be non-negative"):
        Schedule(days=[1], times=["-1 h"])


@pytest.mark.parametrize("at", [["0 h", "0 h"], ["0 h", "0 min"], ["1 day", "24 h"]])
def test_duplicate_times(at: list[str]) -> None:
    with pytest.raises(DoseError, match="the same dose time appears twice"):
        Schedule(at=at)


def test_duplicate_times_of_day() -> None:
    with pytest.raises(DoseError, match="the same dose time appears twice"):
        Schedule(days=[1], times=["8 h", "480 min"])


@pytest.mark.parametrize("period", ["1 day", "48 h", "2 day"])
def test_repeat_period_shorter_than_pattern(period: str) -> None:
    # pattern spans 0..48 h; a period <= 48 h would overlap the next repetition
    with pytest.raises(DoseError, match=f"repeat_every '{period}' is shorter than one"):
        Schedule(every="1 day", count=3, repeat_every=period, repeats=2)


@pytest.mark.parametrize("count", [2.5, 2.0, "3", True, 0, -1])
def test_count_must_be_a_positive_integer(count: object) -> None:
    with pytest.raises(DoseError, match="schedule count: must be a positive whole number"):
        Schedule(every="8 h", count=count)  # type: ignore[arg-type]


def test_count_accepts_numpy_integer() -> None:
    np.testing.assert_array_equal(Schedule(every="1 h", count=np.int64(3)).times_h(), [0, 1, 2])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weekdays": [1], "weeks": 1.5}, "schedule weeks"),
        ({"days": [1], "max_doses": 0}, "schedule max_doses"),
        ({"every": "1 h", "count": 2, "repeat_every": "1 day", "repeats": 0}, "schedule repeats"),
        ({"days": [0]}, "schedule day"),
        ({"days": [1.5]}, "schedule day"),
    ],
)
def test_other_whole_numbers(fields: dict[str, object], message: str) -> None:
    with pytest.raises(DoseError, match=f"{message}: must be a positive whole number"):
        Schedule(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"at": ["-1 h"]}, "dose time: must be non-negative"),
        ({"at": [5]}, "dose time: '5' has no unit"),
        ({"every": "0 h", "count": 2}, "schedule interval: must be positive"),
        ({"every": "8 IU", "count": 2}, "schedule interval: '8 IU' is not a time"),
        ({"every": "8 h", "count": 2, "start": "-1 h"}, "schedule start: must be non-negative"),
        ({"every": "8 h", "count": 2, "repeat_every": "0 h", "repeats": 2},
         "repeat_every: must be positive"),
        ({"at": []}, "no dose times"),
    ],
)
def test_bad_times(fields: dict[str, object], message: str) -> None:
    with pytest.raises(DoseError, match=message):
        Schedule(**fields)  # type: ignore[arg-type]


def test_schedule_is_frozen() -> None:
    s = Schedule(every="8 h", count=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.count = 3  # type: ignore[misc]


def test_schedule_does_not_alias_the_callers_list() -> None:
    at = ["0 h", "8 h"]
    s = Schedule(at=at)
    at.append("8 h")  # would be a duplicate time
    np.testing.assert_array_equal(s.times_h(), [0.0, 8.0])


def test_empty_at_with_repeat_is_a_dose_error() -> None:
    with pytest.raises(DoseError, match="no dose times"):
        Schedule(at=[], repeat_every="1 day", repeats=2)
