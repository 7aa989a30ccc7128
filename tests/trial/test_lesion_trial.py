"""Virtual trials with lesions (il2sim.trial.lesions): each patient's lesions, injections by
lesion size (0.6-6 MIU, Radny et al. 2003, Br J Cancer 89:1620) and lesion-level endpoints."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from il2sim import Intratumoral, Regimen, Schedule, get_model, simulate
from il2sim.population import Categorical, LogNormal, Population, standard_covariates
from il2sim.trial.errors import TrialError
from il2sim.trial.lesions import (
    lesion_diameters,
    lesion_dose,
    lesion_endpoints,
    lesion_inputs,
    lesion_slots,
)
from il2sim.trial.runner import TrialSpec, run_trial

TWO = get_model("il2_qsp_lesions_2")
INJECTIONS = Regimen.of(Intratumoral("3 MIU"), Schedule(every="3.5 day", count=8))


def patients(n_lesions: list[int], sod: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"patient": range(len(sod)), "n_lesions": n_lesions, "sod_mm": sod})


def test_dose_by_size_spans_the_trials_range() -> None:
    np.testing.assert_allclose(lesion_dose(np.array([1.0, 5, 27.5, 50, 80])),
                               [0.6, 0.6, 3.3, 6.0, 6.0])


def test_lesion_diameters_add_up_to_the_sum_and_fill_the_patients_lesions() -> None:
    d = lesion_diameters(patients([1, 2, 2], [40.0, 60.0, 30.0]), 2, seed=5)
    np.testing.assert_allclose(d.sum(axis=1), [40.0, 60.0, 30.0])
    assert d[0, 1] == 0 and (d[1:] > 0).all()
    np.testing.assert_array_equal(d, lesion_diameters(patients([1, 2, 2], [40.0, 60.0, 30.0]),
                                                      2, seed=5))
    with pytest.raises(TrialError, match="a patient has 3 lesions; the model has 2"):
        lesion_diameters(patients([3], [40.0]), 2, seed=5)


def test_inputs_give_each_lesion_its_cells_and_its_dose() -> None:
    d = np.array([[20.0, 0.0], [27.5, 5.0]])
    initial = {"T": np.array([9.9e9, 1e9]), "T_r": np.array([1e8, 1e9])}
    regimen, params, init = lesion_inputs(TWO, INJECTIONS, {}, initial, d)
    assert lesion_slots(TWO) == 2 and lesion_slots(get_model("il2_qsp")) == 0
    sphere = math.pi / 6 * 2.0**3 * 1e9  # a 20 mm lesion, cells
    assert init["T_1"][0] + init["T_r_1"][0] == pytest.approx(sphere)
    assert init["T_r_1"][0] / sphere == pytest.approx(0.01)  # the patient's escape fraction
    assert init["T_r_2"][1] / (init["T_2"][1] + init["T_r_2"][1]) == pytest.approx(0.5)
    assert init["T_2"][0] + init["T_r_2"][0] == pytest.approx(1.0)  # an empty slot: one cell
    np.testing.assert_allclose(params["f_dose_1"], [lesion_dose(np.array([20.0]))[0] / 3, 1.1])
    np.testing.assert_allclose(params["f_dose_2"], [0.0, 0.2])
    np.testing.assert_allclose(params["f_perf_2"], [0.0, 1.0])
    assert regimen.routes == ("it_1", "it_2")
    two_doses = INJECTIONS + Regimen.of(Intratumoral("1 MIU"), Schedule(at=["1 day"]))
    with pytest.raises(TrialError, match="intratumoral doses differ"):
        lesion_inputs(TWO, two_doses, {}, {}, d)


def test_an_empty_slot_leaves_the_lesion_as_one_tumour() -> None:
    """A one-lesion patient in a two-slot model is the one-lesion model (the empty slot's
    single cell, which cannot grow, shifts the pooled quantities by about 1e-10)."""
    d = np.array([[30.0, 0.0]])
    regimen, params, init = lesion_inputs(TWO, INJECTIONS, {}, {}, d)
    hours = np.arange(0.0, 40 * 24 + 1, 48.0)
    two = simulate(TWO, regimen, params, hours, initial=init, covariates={"weight": 70.0},
                   rtol=1e-9, atol=1e-12)
    one_model = get_model("il2_qsp_lesions_1")
    one = simulate(one_model, Regimen.of(Intratumoral("3 MIU", route="it_1"),
                                         Schedule(every="3.5 day", count=8)),
                   {"f_dose_1": params["f_dose_1"]}, hours,
                   initial={"T_1": init["T_1"], "T_r_1": init["T_r_1"]},
                   covariates={"weight": 70.0}, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(two["tumour_volume_1"], one["tumour_volume_1"], rtol=1e-6)
    assert (two["tumour_volume_2"] <= 1e-9 * (1 + 1e-9)).all()  # one cell, never growing


def test_lesion_endpoints_count_treated_lesions_in_complete_response() -> None:
    days = np.arange(0.0, 200.0)
    shrink = 14.0 * np.exp(-days / 10)  # mL: gone below detection within weeks
    grow = 4.0 * np.exp(days / 50)
    volumes = np.stack([np.stack([shrink, grow]), np.stack([shrink, shrink])])
    e = lesion_endpoints(patients([2, 1], [50.0, 30.0]), days, volumes,
                         np.array([[30.0, 20.0], [30.0, 0.0]]), seed=1,
                         scan_days=np.array([47.0, 103.0, 159.0]),
                         death_day=np.array([np.inf, np.inf]))
    assert e.to_dict("list") == {"patient": [0, 1], "treated_lesions": [2, 1],
                                 "treated_lesions_cr": [1, 1], "treated_lesions_all_cr": [0, 1],
                                 "treated_lesions_patient": [1, 1]}


def test_a_trial_on_a_lesion_model_reports_lesion_endpoints() -> None:
    covariates = {**standard_covariates("melanoma"),
                  "n_lesions": Categorical((1, 2), (0.5, 0.5))}
    population = Population(params={"ant": LogNormal(2.0, 1.0)}, covariates=covariates)
    spec = TrialSpec("lesions", n_patients=4, seed=3, population=population,
                     model="il2_qsp_lesions_2", protocol="regimen", regimen=INJECTIONS,
                     horizon_days=120.0, chunk_size=4)
    result = run_trial(spec)
    e = result.endpoints.merge(result.patients[["patient", "n_lesions"]], on="patient")
    assert (e["treated_lesions"] == e["n_lesions"]).all()
    assert (e["treated_lesions_cr"] <= e["treated_lesions"]).all()
    assert ((e["treated_lesions_all_cr"] == 1) == (e["treated_lesions_cr"] == e["n_lesions"])
            ).all()
    given = result.doses[result.doses["status"] == "given"]
    assert set(given["route"]) <= {"it_1", "it_2"}
