"""Catheter-related sepsis deaths (il2sim.trial.endpoints.sepsis_death_days): each IV course
carries the literature's risk (Bock et al. 1990: sepsis in 8 of 86 IL-2 episodes without
prophylaxis; Snydman et al. 1990: 2 of 20 septic patients died), none under prophylaxis."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy import stats

from il2sim.config.trial import trial_from_dict
from il2sim.trial.endpoints import (
    SEPSIS_FATALITY,
    SEPSIS_PER_COURSE,
    MortalityModel,
    sepsis_death_days,
)


def _log(rows: list[tuple[int, int, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["patient", "course", "route", "status", "time_h"])


def test_a_certain_sepsis_kills_a_day_after_the_first_iv_course_s_last_given_dose() -> None:
    certain = MortalityModel(sepsis_per_course=1.0, sepsis_fatality=1.0)
    doses = _log([(0, 1, "iv", "given", 0.0), (0, 1, "iv", "given", 8.0),
                  (0, 1, "iv", "held", 16.0), (0, 2, "iv", "given", 2000.0),
                  (1, 1, "sc", "given", 0.0),                 # no catheter: no risk
                  (2, 1, "iv", "held", 0.0)])                 # nothing given: no risk
    days = sepsis_death_days(doses, np.array([10, 11, 12]), seed=1, mortality=certain)
    assert days[0] == 8.0 / 24.0 + 1.0 and math.isinf(days[1]) and math.isinf(days[2])
    none = dataclasses.replace(certain, sepsis_per_course=0.0)
    assert np.isinf(sepsis_death_days(doses, np.array([10, 11, 12]), seed=1,
                                      mortality=none)).all()


def test_deaths_per_course_follow_the_published_rates() -> None:
    """2,000 patients with one IV course each: deaths binomial with p = 8/86 x 2/20."""
    n = 2000
    doses = _log([(i, 1, "iv", "given", 8.0) for i in range(n)])
    days = sepsis_death_days(doses, np.arange(n), seed=3, mortality=MortalityModel())
    deaths = int(np.isfinite(days).sum())
    p = SEPSIS_PER_COURSE * SEPSIS_FATALITY
    assert stats.binomtest(deaths, n, p).pvalue > 0.001
    # a second course adds its own, independent draw
    two = _log([(i, k, "iv", "given", 8.0 + 2000 * (k - 1)) for i in range(n) for k in (1, 2)])
    both = np.isfinite(sepsis_death_days(two, np.arange(n), seed=3,
                                         mortality=MortalityModel())).sum()
    assert stats.binomtest(int(both), n, 1 - (1 - p) ** 2).pvalue > 0.001


def test_a_protocol_with_antibiotic_prophylaxis_has_no_sepsis() -> None:
    base = {"name": "t", "indication": "rcc", "n_patients": 4, "seed": 1}
    plain = trial_from_dict({**base, "protocol": {"kind": "label"}})
    covered = trial_from_dict({**base, "protocol": {"kind": "label",
                                                    "antibiotic_prophylaxis": True}})
    assert plain.mortality.sepsis_per_course == SEPSIS_PER_COURSE
    assert covered.mortality.sepsis_per_course == 0.0
    assert covered.mortality.k_trd == plain.mortality.k_trd
