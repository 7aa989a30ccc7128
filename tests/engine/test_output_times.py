"""The default output grid holds every dose start and infusion end (issue 14, item 7).

On 1001 evenly spaced times over 21 days the label course's 15-min infusions ended between
grid points, so the plotted plasma peaks of 28 identical doses ranged from 5,600 to 14,800
IU/mL (true peak 15,070).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from il2sim import Bolus, Infusion, Regimen, Schedule, get_model, presets, simulate
from il2sim.config.scenario import scenario_from_dict
from il2sim.engine import output_times

PK = get_model("aldesleukin_pk")
WEIGHT_KG = 80.0
DOSE_IU_PER_KG = 720000.0
INFUSION_MIN = 15.0


def _true_peaks(starts: np.ndarray) -> np.ndarray:
    """Plasma concentration (IU/mL) at the end of each infusion, from the exact solution of
    the linear central-peripheral system, propagated dose by dose with matrix exponentials
    (no SC or intratumoral dose: those compartments stay empty)."""
    p = PK.default_params
    a = np.array([[-(p["k10"] + p["k12"]), p["k21"]], [p["k12"], -p["k21"]]])
    rate = DOSE_IU_PER_KG * WEIGHT_KG / INFUSION_MIN
    infusing = np.zeros((3, 3))  # [A_c, A_p, 1]: x' = a x + rate e_c
    infusing[:2, :2], infusing[0, 2] = a, rate
    during = scipy.linalg.expm(infusing * INFUSION_MIN)
    x, t, peaks = np.array([0.0, 0.0, 1.0]), 0.0, []
    for start in starts:
        x[:2] = scipy.linalg.expm(a * (start - t)) @ x[:2]
        x = during @ x
        t = start + INFUSION_MIN
        peaks.append(x[0] / (1000.0 * p["V1"]))
    return np.array(peaks)


def test_the_label_course_peaks_are_on_the_default_grid() -> None:
    scenario = scenario_from_dict({
        "model": "aldesleukin_pk", "patient": {"weight": f"{WEIGHT_KG} kg"},
        "regimen": {"preset": "label_high_dose", "dose": f"{DOSE_IU_PER_KG} IU/kg"},
        "simulation": {"end": "21 day"}})  # the default 1001 points, as il2sim simulate
    result = scenario.run()
    t, c = result.times, result["C_plasma"][0]
    starts = scenario.regimen.events()["time_h"].to_numpy() * 60.0
    assert len(starts) == 28
    edges = np.append(starts, np.inf)
    peaks = np.array([c[(t >= lo) & (t < hi)].max() for lo, hi in zip(edges[:-1], edges[1:])])
    assert peaks.max() <= 1.01 * peaks.min()
    true = _true_peaks(starts)
    assert 15000 < true.min() <= true.max() < 15100
    np.testing.assert_allclose(peaks, true, rtol=0.01)


def test_the_grid_adds_every_dose_start_and_infusion_end() -> None:
    regimen = (Regimen.of(Infusion("1 MIU", "15 min"), Schedule(at=["1 h", "7 h", "30 h"]))
               + Regimen.of(Bolus("1 MIU"), Schedule(at=["0 h", "2 h"])))
    times = output_times(PK, regimen, 1440.0, 25)  # minutes: every hour over one day
    expected = {60.0, 75.0, 420.0, 435.0, 0.0, 120.0}  # the dose at 30 h is after the end
    assert expected <= set(times.tolist())
    assert set(np.linspace(0.0, 1440.0, 25)) <= set(times.tolist())
    assert len(times) == 25 + 2  # the starts are grid points already: no duplicates
    assert np.all(np.diff(times) > 0) and times[-1] == 1440.0
    np.testing.assert_array_equal(output_times(PK, None, 10.0, 3), [0.0, 5.0, 10.0])


def test_explicit_output_times_are_kept_as_given() -> None:
    times = np.array([0.0, 100.0, 1000.0])
    result = simulate(PK, presets.label_high_dose(), times=times, covariates={"weight": 70})
    np.testing.assert_array_equal(result.times, times)
    scenario = scenario_from_dict({
        "model": "aldesleukin_pk", "patient": {"weight": "70 kg"},
        "regimen": {"preset": "label_high_dose"},
        "simulation": {"times": ["0 min", "100 min", "1000 min"]}})
    np.testing.assert_array_equal(scenario.times, times)
