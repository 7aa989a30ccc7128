"""Named regimens from the aldesleukin label and the clinical literature.

Sources: Proleukin (aldesleukin) prescribing information, section 2 (the
high-dose regimen); the others follow published trials where a function cites one
(bibliography: docs/sources.md).
"""

from __future__ import annotations

from collections.abc import Callable

from il2sim.dosing.doses import Bolus, Depot, Infusion, Intratumoral
from il2sim.dosing.regimen import Administration, Regimen
from il2sim.dosing.schedule import Schedule

__all__ = ["PRESETS", "continuous_infusion", "intratumoral", "label_high_dose", "low_dose_iv",
           "subcutaneous", "hiv_subcutaneous_cycles"]

_Q8H = ("0 h", "8 h", "16 h")


def label_high_dose(dose: str = "600000 IU/kg", infusion: str = "15 min") -> Regimen:
    """The label course: ``dose`` every 8 h as a 15-min IV infusion, days 1-5 and 15-19.

    At most 14 doses per cycle (days 1-5 hold 15 slots), so 28 per course.
    Proleukin label, section 2.1; the pivotal trials also used 720,000 IU/kg.
    """
    drug = Infusion(amount=dose, duration=infusion, route="iv")
    return Regimen((
        Administration(drug, Schedule(days=range(1, 6), times=_Q8H, max_doses=14), "cycle 1",
                       cycle=1),
        Administration(drug, Schedule(days=range(15, 20), times=_Q8H, max_doses=14), "cycle 2",
                       cycle=2),
    ), name="label high-dose")


def low_dose_iv(dose: str = "72000 IU/kg", days: int = 5, cycles: int = 2,
                rest_days: int = 9) -> Regimen:
    """Low-dose IV bolus every 8 h for ``days`` days, ``cycles`` times.

    72,000 IU/kg every 8 h: the low-dose arm of Yang et al. 2003, J Clin Oncol 21:3127.
    """
    drug = Bolus(amount=dose, route="iv")
    schedule = Schedule(days=range(1, days + 1), times=_Q8H,
                        repeat_every=f"{days + rest_days} day", repeats=cycles)
    return Regimen.of(drug, schedule, label="low-dose IV", name="low-dose IV")


def continuous_infusion(rate: str = "18 MIU/m**2/day", days: int = 5) -> Regimen:
    """Continuous IV infusion at ``rate`` for ``days`` days (one uninterrupted infusion).

    18 MIU/m2/day for 5 days: the IL-2 induction of Negrier et al. 1998, N Engl J Med 338:1272.
    """
    drug = Infusion(rate=rate, duration=f"{days} day", route="iv")
    return Regimen.of(drug, Schedule(at=["0 h"]), label="continuous infusion",
                      name="continuous infusion")


def subcutaneous(dose: str = "9 MIU", weekdays: tuple[int, ...] = (1, 2, 3, 4, 5),
                 weeks: int = 4, times: tuple[str, ...] = ("8 h",)) -> Regimen:
    """SC injections on the given days of each week (5 days a week by default)."""
    return Regimen.of(Depot(amount=dose, route="sc"),
                      Schedule(weekdays=weekdays, weeks=weeks, times=times),
                      label="SC", name="subcutaneous")


def hiv_subcutaneous_cycles(dose: str = "7.5 MIU", cycles: int = 3) -> Regimen:
    """HIV trials: SC twice daily for 5 days every 8 weeks.

    ESPRIT (7.5 MIU, 3 cycles) and SILCAAT (4.5 MIU, 6 cycles): Abrams et al. 2009, N Engl J
    Med 361:1548.
    """
    schedule = Schedule(days=range(1, 6), times=("8 h", "20 h"), repeat_every="8 week",
                        repeats=cycles)
    return Regimen.of(Depot(amount=dose, route="sc"), schedule, label="SC cycle",
                      name="HIV SC cycles")


def intratumoral(dose: str = "3 MIU", every: str = "7 day", count: int = 4) -> Regimen:
    """Repeated injections into a lesion.

    Weekly by default [assumption]; Radny et al. 2003, Br J Cancer 89:1620 injected 0.6-6
    MIU per lesion 2-3 times a week.
    """
    return Regimen.of(Intratumoral(amount=dose, route="it"),
                      Schedule(every=every, count=count), label="intratumoral",
                      name="intratumoral")


PRESETS: dict[str, Callable[..., Regimen]] = {
    "label_high_dose": label_high_dose,
    "low_dose_iv": low_dose_iv,
    "continuous_infusion": continuous_infusion,
    "subcutaneous": subcutaneous,
    "hiv_subcutaneous_cycles": hiv_subcutaneous_cycles,
    "intratumoral": intratumoral,
}
