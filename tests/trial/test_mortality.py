"""Death inside the simulation: the hazards, their first passage, and every stored trial
cut at death (issue 15: doses given after death; a floor of treatment-related death)."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2sim.config.trial import load_trial, load_trial_file
from il2sim.population import LogNormal
from il2sim.store import ResultStore
from il2sim.trial.arms import MultiArmTrial
from il2sim.trial.endpoints import (
    CR_ULN,
    MortalityModel,
    death_days,
    leak_severity,
    patient_rng,
    toxicity_grades,
)
from il2sim.trial.runner import run_trial, stream_trial

EXAMPLES = Path(__file__).resolve().parents[2] / "examples/trials"
LEAK_GRADES = ("tox_hypotension_grade", "tox_creatinine_grade", "tox_hypoxia_grade")


def test_leak_severity_is_zero_up_to_grade_2_and_one_at_grade_4() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    sbp = rng.uniform(50, 130, n)
    cr = rng.uniform(0.5, 10, n)
    spo2 = rng.uniform(75, 99, n)
    s = leak_severity(sbp, cr, spo2)
    grades = toxicity_grades(pd.DataFrame({
        "sbp_min": sbp, "creatinine_max": cr, "spo2_min": spo2, "urine_min": 300.0,
        "confusion_max": 0.0, "weight_gain_pct_max": 0.0}))
    above_2 = (grades[list(LEAK_GRADES)].max(axis=1) >= 3).to_numpy()
    assert above_2.any() and (~above_2).any()
    np.testing.assert_array_equal(s > 0, above_2)
    # each term reaches 1 at its grade-4 (or severe) threshold, and they add
    for sbp_, cr_, spo2_, expected in ((70, 1, 98, 1), (120, 6 * CR_ULN, 98, 1),
                                       (120, 1, 80, 1), (70, 6 * CR_ULN, 80, 3)):
        value = leak_severity(np.array([sbp_]), np.array([cr_]), np.array([spo2_]))[0]
        assert value == pytest.approx(expected, rel=1e-12)
    # the grade-2 boundaries themselves
    assert leak_severity(np.array([80.0]), np.array([3 * CR_ULN]), np.array([88.0]))[0] == 0.0


def test_death_times_are_the_exact_first_passage() -> None:
    """Constant hazards: exponential deaths at -log(u)/h, u the patient's own draws."""
    days = np.concatenate([np.arange(0, 2, 1 / 24), np.arange(2, 3001)])
    n, m = 5, len(days)
    mort = MortalityModel(h_disease=2e-3, v_ref=50.0, beta_burden=0.5, k_trd=0.2,
                          gamma_trd=2.0)
    ids = np.arange(10, 10 + n)
    # volume 4 x v_ref: disease hazard 2 h_disease; severity 0 except patient 10's at 0.5
    volume = np.full((n, m), 200.0)
    severity = np.zeros((n, m))
    severity[0] = 0.5
    death, cause, exposure = death_days(days, volume, severity, ids, seed=7, mortality=mort)
    u = np.array([patient_rng(7, int(p), 1).uniform(size=2) for p in ids])
    t_dis = -np.log(u[:, 1]) / (2 * 2e-3)
    t_trd = np.where(np.arange(n) == 0, -np.log(u[:, 0]) / (0.2 * 0.25), math.inf)
    expected = np.minimum(t_dis, t_trd)
    expected[expected > days[-1]] = math.inf
    np.testing.assert_allclose(death, expected, rtol=1e-12)
    assert cause == ["" if math.isinf(d) else ("treatment" if a <= b else "disease")
                     for d, a, b in zip(expected, t_trd, t_dis)]
    end = np.minimum(death, days[-1])
    np.testing.assert_allclose(exposure, np.where(np.arange(n) == 0, 0.25 * end, 0.0),
                               rtol=1e-12)


def test_death_depends_only_on_the_trajectory_before_it() -> None:
    """Changing everything after the grid point before death leaves the death unchanged:
    so stopping the simulation at death equals cutting its records there."""
    rng = np.random.default_rng(3)
    days = np.arange(0.0, 2001.0)
    n = 50
    ids = np.arange(n)
    volume = np.exp(rng.normal(4, 1, (n, 1))) * np.ones((1, len(days)))
    severity = np.where(rng.uniform(size=(n, len(days))) < 0.01, 1.0, 0.0)
    mort = MortalityModel(k_trd=1.0)
    death, cause, _ = death_days(days, volume, severity, ids, seed=1, mortality=mort)
    assert np.isfinite(death).sum() > 10 and "treatment" in cause and "disease" in cause
    after = days[None, :] > death[:, None]
    changed = death_days(days, np.where(after, 1e6, volume), np.where(after, 5.0, severity),
                         ids, seed=1, mortality=mort)
    np.testing.assert_array_equal(changed[0], death)
    assert changed[1] == cause


TUMOUR_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.toml")
                         if tomllib.loads(p.read_text()).get("indication") != "hiv")
"""Every example but the HIV trials, which model no death (their endpoints have none)."""


@pytest.mark.parametrize("example", TUMOUR_EXAMPLES)
def test_no_dose_scan_or_observation_after_death_in_a_stored_trial(
        example: str, tmp_path: Path) -> None:
    """Every example (40 patients, its own seed; every arm of a multi-arm trial)."""
    trial = load_trial_file(EXAMPLES / example)
    arms = (trial.resized(40).with_arms(chunk_size=20).arms if isinstance(trial, MultiArmTrial)
            else (dataclasses.replace(trial, n_patients=40, chunk_size=20),))
    cut = 0
    with ResultStore(tmp_path / "t.duckdb") as store:
        for spec in arms:
            run_id = stream_trial(spec, store)
            after = store.query(
                "SELECT (SELECT count(*) FROM doses d JOIN endpoints e USING (run_id, patient)"
                "  WHERE d.run_id = $r AND e.os_event AND d.time_h / 24 >= e.os_d) AS doses,"
                " (SELECT count(*) FROM scans o JOIN endpoints e USING (run_id, patient)"
                "  WHERE o.run_id = $r AND e.os_event AND o.day >= e.os_d) AS scans",
                {"r": run_id}).iloc[0]
            assert (int(after["doses"]), int(after["scans"])) == (0, 0), spec.arm
            # patients who died while doses were still scheduled for them: the cut mattered
            cut += int(store.query(
                "SELECT count(*) AS n FROM endpoints WHERE run_id = $r AND os_event "
                "AND os_d < (SELECT max(time_h) / 24 FROM doses WHERE run_id = $r)",
                {"r": run_id}).iloc[0]["n"])
            counted = store.query(
                "SELECT e.patient, e.doses_given, count(d.patient) AS n FROM endpoints e "
                "LEFT JOIN doses d ON d.run_id = e.run_id AND d.patient = e.patient "
                "AND d.status = 'given' WHERE e.run_id = $r GROUP BY ALL", {"r": run_id})
            assert (counted["doses_given"] == counted["n"]).all()
    assert cut > 0


def test_no_treatment_death_without_toxicity_above_grade_2() -> None:
    """A hazard so large that any patient past grade 2 dies of it: every treatment death
    passed grade 2 first, and no patient who stayed at grade 2 or less died of treatment. The
    cohort is leak-sensitive (pmax twice the calibrated median), so that some of its 60
    patients pass grade 2 (the calibrated population's leak tail is thin: 2.4% in RCC)."""
    spec = load_trial(EXAMPLES / "rcc.toml")
    deadly = MortalityModel(h_disease=1e-3, k_trd=1e3)
    pmax = spec.population.params["pmax"]
    assert isinstance(pmax, LogNormal)
    sensitive = dataclasses.replace(spec.population, params={
        **spec.population.params, "pmax": dataclasses.replace(pmax, median=2 * pmax.median)})
    spec = dataclasses.replace(spec, n_patients=60, chunk_size=30, horizon_days=120.0,
                               max_courses=2, mortality=deadly, population=sensitive)
    e = run_trial(spec).endpoints
    above_2 = e[list(LEAK_GRADES)].max(axis=1) >= 3
    trd = e["death_cause"] == "treatment"
    assert trd.sum() > 0 and (~above_2).sum() > 30
    assert not (trd & ~above_2).any()
    assert (e.loc[trd, "leak_exposure"] > 0).all()
    assert (e.loc[~above_2, "leak_exposure"] == 0).all()
