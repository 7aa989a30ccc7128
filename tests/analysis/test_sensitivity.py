"""Global sensitivity analysis: Sobol' against analytic Ishigami indices, Morris
screening, the il2sim model adapter, convergence and the plot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import il2sim
from il2sim.analysis import (
    Problem,
    SensitivityError,
    convergence_change,
    model_output,
    morris,
    plot_sensitivity,
    sobol,
    sobol_convergence,
)
from il2sim.trial.runner import TrialSpec

PI = math.pi
ISHIGAMI = Problem(("x1", "x2", "x3"), ((-PI, PI),) * 3)
# Analytic indices for a = 7, b = 0.1 (Ishigami & Homma 1990; Saltelli et al. 2008,
# Global Sensitivity Analysis: The Primer, section 4.7): V = a^2/8 + b pi^4/5
# + b^2 pi^8/18 + 1/2, V1 = (1 + b pi^4/5)^2 / 2, V2 = a^2/8, V13 = b^2 pi^8 (1/18 - 1/50).
S1_EXACT = np.array([0.3139, 0.4424, 0.0])
ST_EXACT = np.array([0.5576, 0.4424, 0.2437])


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_ishigami_analytic_values_are_the_published_ones() -> None:
    a, b = 7.0, 0.1
    v = a**2 / 8 + b * PI**4 / 5 + b**2 * PI**8 / 18 + 0.5
    v1, v2 = (1 + b * PI**4 / 5) ** 2 / 2, a**2 / 8
    v13 = b**2 * PI**8 * (1 / 18 - 1 / 50)
    np.testing.assert_allclose([v1 / v, v2 / v, 0.0], S1_EXACT, atol=1e-4)
    np.testing.assert_allclose([(v1 + v13) / v, v2 / v, v13 / v], ST_EXACT, atol=1e-4)


def test_sobol_matches_ishigami_within_confidence() -> None:
    frame = sobol(ishigami, ISHIGAMI, n=2**13, seed=20240611)
    assert list(frame.columns) == ["S1", "S1_conf", "ST", "ST_conf"]
    assert list(frame.index) == ["x1", "x2", "x3"]
    assert frame.attrs["n_evaluations"] == 2**13 * 5
    # The 95 % bootstrap half-widths at n = 8192 are 0.01-0.03; the estimates must
    # fall inside them, and the half-widths themselves must be that small.
    for col, exact in (("S1", S1_EXACT), ("ST", ST_EXACT)):
        err = np.abs(frame[col].to_numpy() - exact)
        conf = frame[f"{col}_conf"].to_numpy()
        assert np.all(err <= conf), (col, err, conf)
        assert np.all(conf < 0.04)


def test_sobol_is_reproducible_and_seed_dependent() -> None:
    a = sobol(ishigami, ISHIGAMI, n=256, seed=3)
    b = sobol(ishigami, ISHIGAMI, n=256, seed=3)
    c = sobol(ishigami, ISHIGAMI, n=256, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["S1"], c["S1"])


def test_sobol_second_order_ishigami_interaction() -> None:
    frame = sobol(ishigami, ISHIGAMI, n=2**12, seed=5, calc_second_order=True)
    s2 = frame.attrs["S2"]
    # S13 = ST1 - S1_1 = 0.2437; the other pairs do not interact.
    assert s2.loc["x1", "x3"] == pytest.approx(0.2437, abs=3 * frame.attrs["S2_conf"].loc[
        "x1", "x3"])
    assert abs(s2.loc["x1", "x2"]) < 0.1


def test_sobol_rejects_n_not_power_of_two() -> None:
    with pytest.raises(ValueError, match="power of 2"):
        sobol(ishigami, ISHIGAMI, n=1000, seed=1)


def test_sobol_convergence_settles() -> None:
    table = sobol_convergence(ishigami, ISHIGAMI, ns=(128, 512, 2048, 8192), seed=11)
    assert list(table.columns) == ["n", "input", "S1", "S1_conf", "ST", "ST_conf"]
    assert sorted(table["n"].unique()) == [128, 512, 2048, 8192]
    st = table.pivot(index="n", columns="input", values="ST")
    conf = table.pivot(index="n", columns="input", values="ST_conf")
    assert np.all(np.diff(conf.mean(axis=1).to_numpy()) < 0)   # intervals shrink with n
    np.testing.assert_allclose(st.loc[8192].to_numpy(), ST_EXACT, atol=0.03)
    # the largest n of the table is the plain sobol() result with the same seed
    direct = sobol(ishigami, ISHIGAMI, n=8192, seed=11)
    np.testing.assert_allclose(st.loc[8192].to_numpy(), direct["ST"].to_numpy())


def test_convergence_change_holds_the_plain_sobol_indices_at_both_sizes() -> None:
    """``il2sim sensitivity --convergence``'s table: the indices at N/2 and N are those of
    separate sobol() runs with the same seed (nested designs), and the change is set
    against ST's confidence half-width at N."""
    change = convergence_change(sobol_convergence(ishigami, ISHIGAMI, ns=(1024, 2048),
                                                  seed=5), 2048)
    half, full = (sobol(ishigami, ISHIGAMI, n=n, seed=5) for n in (1024, 2048))
    np.testing.assert_allclose(change["ST (N/2)"], half["ST"])
    np.testing.assert_allclose(change["S1 (N)"], full["S1"])
    np.testing.assert_allclose(change["|dST|"], (full["ST"] - half["ST"]).abs())
    assert change["settled"].tolist() == (change["|dST|"] <= full["ST_conf"]).tolist()
    np.testing.assert_allclose(change["ST (N)"], ST_EXACT, atol=0.03)


def test_morris_inert_input_has_zero_mu_star() -> None:
    problem = Problem(("a", "b", "inert"), ((0.0, 1.0), (-1.0, 1.0), (0.0, 10.0)))

    def f(x: np.ndarray) -> np.ndarray:
        return 4.0 * x[:, 0] ** 2 + 3.0 * x[:, 1]

    frame = morris(f, problem, trajectories=30, levels=4, seed=7)
    assert list(frame.columns) == ["mu", "mu_star", "sigma", "mu_star_conf"]
    assert frame.loc["inert", "mu_star"] == pytest.approx(0.0, abs=1e-12)
    # linear in b: EE = 3 per unit of b, i.e. 6 per its whole range of 2 (SALib's scale)
    assert frame.loc["b", "mu_star"] == pytest.approx(6.0)
    assert frame.loc["b", "sigma"] == pytest.approx(0.0, abs=1e-12)
    assert frame.loc["a", "sigma"] > 0                       # nonlinear in a
    pd.testing.assert_frame_equal(frame, morris(f, problem, trajectories=30, seed=7))


def test_nan_blocks_are_left_out_with_a_warning() -> None:
    def f(x: np.ndarray) -> np.ndarray:
        y = ishigami(x)
        y[:3] = np.nan
        return y

    with pytest.warns(UserWarning, match="left out 1 of 512"):
        frame = sobol(f, ISHIGAMI, n=512, seed=1)
    assert frame.attrs["dropped"] == 1
    with pytest.raises(SensitivityError, match="shape"):
        sobol(lambda x: x, ISHIGAMI, n=64, seed=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"names": (), "bounds": ()}, "no inputs"),
    ({"names": ("a", "a"), "bounds": ((0, 1), (0, 1))}, "repeated"),
    ({"names": ("a",), "bounds": ((1, 0),)}, "below"),
    ({"names": ("a",), "bounds": ((0, 1),), "dists": ("gamma",)}, "unknown distribution"),
    ({"names": ("a",), "bounds": ((0, 1, 2),)}, "takes 2"),
])
def test_problem_validates(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Problem(**kwargs)  # type: ignore[arg-type]


def test_problem_to_salib() -> None:
    p = Problem(["k", "v"], [[0, 1], [2.0, 0.5]], dists=["unif", "lognorm"])
    assert p.to_salib() == {"num_vars": 2, "names": ["k", "v"],
                            "bounds": [[0.0, 1.0], [2.0, 0.5]], "dists": ["unif", "lognorm"]}
    assert Problem.uniform({"a": (0, 1)}).names == ("a",)


BOLUS = il2sim.Regimen.of(il2sim.Bolus("1e6 IU"), il2sim.Schedule(at=["0 h"]))
DAY_MIN = np.linspace(0.0, 24 * 60.0, 24 * 60 + 1)   # 0-24 h, model time is minutes


def test_model_output_auc_is_dose_over_clearance() -> None:
    func = model_output("aldesleukin_pk", BOLUS, "C_plasma", "auc",
                        params_names=["k10", "V1"], times=DAY_MIN)
    x = np.array([[0.0451, 2.66], [0.03, 2.0], [0.06, 3.5]])
    # AUC(0-inf) = dose / CL = 1e6 IU / (k10 * V1 * 1000 mL/L); 24 h is > 15 terminal
    # half-lives, so AUC(0-24 h) is the full AUC.
    np.testing.assert_allclose(func(x), 1e6 / (x[:, 0] * x[:, 1] * 1000.0), rtol=1e-3)
    peak = model_output("aldesleukin_pk", BOLUS, "C_plasma", "max",
                        params_names=["V1"], times=DAY_MIN)
    np.testing.assert_allclose(peak(np.array([[2.0]])), [1e6 / 2000.0], rtol=1e-6)


def test_model_output_sobol_on_clearance() -> None:
    func = model_output(il2sim.get_model("aldesleukin_pk"), BOLUS, "C_plasma", "auc",
                        params_names=["k10", "V1", "k12"], times=DAY_MIN[::5])
    problem = Problem(("k10", "V1", "k12"),
                      ((0.03, 0.06), (2.0, 3.5), (0.0069, 0.0073)))
    frame = sobol(func, problem, n=512, seed=2)
    assert frame.loc["k10", "ST"] > 0.3 and frame.loc["V1", "ST"] > 0.3
    assert frame.loc["k12", "ST"] < 0.02
    # AUC = dose/(k10 V1): k10 spans a factor 2, V1 a factor 1.75, so k10 leads.
    assert frame.loc["k10", "S1"] > frame.loc["V1", "S1"]


def test_model_output_validates_and_reports_failures() -> None:
    with pytest.raises(ValueError, match="neither a state nor an observable"):
        model_output("aldesleukin_pk", BOLUS, "C_tumour", "auc", params_names=["k10"],
                     times=DAY_MIN)
    with pytest.raises(ValueError, match="unknown parameters"):
        model_output("aldesleukin_pk", BOLUS, "C_plasma", "auc", params_names=["k99"],
                     times=DAY_MIN)
    with pytest.raises(ValueError, match="unknown reduce"):
        model_output("aldesleukin_pk", BOLUS, "C_plasma", "median", params_names=["k10"],
                     times=DAY_MIN)

    def flaky(t: np.ndarray, v: np.ndarray) -> np.ndarray:
        y = v[:, 0].copy()
        y[::2] = np.nan      # half the patients give no value
        return y

    func = model_output("aldesleukin_pk", BOLUS, "A_c", flaky, params_names=["k10"],
                        times=[0.0, 1.0])
    with pytest.raises(SensitivityError, match="2 of 4 parameter sets failed"):
        func(np.full((4, 1), 0.04))
    with pytest.raises(ValueError, match="expected"):
        func(np.ones((3, 2)))


def test_plot_sensitivity_writes_png(tmp_path: Path) -> None:
    frame = sobol(ishigami, ISHIGAMI, n=256, seed=1)
    path = tmp_path / "tornado.png"
    fig = plot_sensitivity(frame, "ST", path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "x1"   # largest on top
    m = morris(ishigami, ISHIGAMI, trajectories=10, seed=1)
    plot_sensitivity(m, index="mu_star", path=tmp_path / "morris.png")
    assert (tmp_path / "morris.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no column"):
        plot_sensitivity(frame, index="S9")


def test_covariates_are_inputs_too() -> None:
    """Sobol' of the AUC of a per-kg bolus over weight W and clearance rate k10.

    AUC = (dose/kg) W / (k10 V1), so Y is proportional to W K with K = 1/k10, W and K
    independent: V = E[W^2] E[K^2] - E[W]^2 E[K]^2, S_W = Var(W) E[K]^2 / V and
    S_K = E[W]^2 Var(K) / V (first-order indices of a product of independent inputs).
    """
    from il2sim.dosing import Bolus, Regimen, Schedule

    w_lo, w_hi, k_lo, k_hi = 50.0, 100.0, 0.03, 0.06
    ew, vw = (w_lo + w_hi) / 2, (w_hi - w_lo) ** 2 / 12
    ek, ek2 = math.log(k_hi / k_lo) / (k_hi - k_lo), 1.0 / (k_lo * k_hi)
    v = (vw + ew**2) * ek2 - ew**2 * ek**2
    s_w, s_k = vw * ek**2 / v, ew**2 * (ek2 - ek**2) / v
    regimen = Regimen.of(Bolus("10000 IU/kg"), Schedule(at=["0 h"]))
    func = model_output("aldesleukin_pk", regimen, "C_plasma", "auc",
                        params_names=("weight", "k10"), times=np.linspace(0, 2880, 721))
    y = func(np.array([[50.0, 0.03], [100.0, 0.03]]))
    assert y[1] == pytest.approx(2 * y[0], rel=1e-6)   # a per-kg dose scales with weight
    frame = sobol(func, Problem(("weight", "k10"), ((w_lo, w_hi), (k_lo, k_hi))), n=256,
                  seed=3)
    np.testing.assert_allclose(frame["S1"], [s_w, s_k], atol=0.05)
    assert abs(frame["ST"].sum() - 1.0) < 0.1   # almost additive in logs
    with pytest.raises(ValueError, match="and the covariates weight, height, bsa"):
        model_output("aldesleukin_pk", regimen, "C_plasma", "auc", params_names=("age",),
                     times=[0.0, 1.0])


def test_trial_outputs_of_parameters_and_covariates() -> None:
    """Per-patient trial outputs under the label protocol: an input the regimen never
    reaches (interferon absorption, no interferon given) has no effect at all, the capillary
    leak's permeability drives the lowest blood pressure, antigenicity the shrinkage."""
    from il2sim.analysis import trial_output
    from il2sim.trial.calibrated import calibrated_mortality, calibrated_population

    spec = TrialSpec("sensitivity", n_patients=4, seed=2, population=calibrated_population("rcc"),
                     mortality=calibrated_mortality("rcc"), horizon_days=110.0, max_courses=1,
                     backend="native", chunk_size=4)
    sbp = trial_output(spec, "sbp_min", params_names=("pmax", "ka_ifn", "weight"))
    frame = morris(sbp, Problem(("pmax", "ka_ifn", "weight"), ((2.0, 8.0), (0.05, 0.5),
                                                                (50.0, 110.0))),
                   trajectories=4, seed=1)
    assert frame.loc["ka_ifn", "mu_star"] == 0.0 and frame.loc["ka_ifn", "sigma"] == 0.0
    assert frame.loc["pmax", "mu"] < -1.0          # more leak, lower pressure (mmHg)
    # scans and deaths are random per row (row 0 of this seed dies before the first scan)
    shrink = trial_output(spec, "best_change_pct", params_names=("ant",), max_failed=0.5)
    y = shrink(np.array([[1.0], [1.0], [16.0]]))
    assert y[2] < y[1] - 30.0                      # strong antigenicity shrinks the tumour
    held = trial_output(spec, "held_fraction", params_names=("pmax",))(np.array([[1.0], [8.0]]))
    assert 0.0 <= held[0] <= held[1] <= 1.0
    with pytest.raises(ValueError, match="unknown output 'orr'"):
        trial_output(spec, "orr", params_names=("ant",))
    with pytest.raises(ValueError, match="unknown inputs"):
        trial_output(spec, "sbp_min", params_names=("nope",))


# ------------------------------------------------------------------ progress


def test_progress_totals_are_the_rows_evaluated() -> None:
    """The callback's total is the number of rows the function is given: n (d + 2) for
    Sobol', r (d + 1) for Morris, the largest design for the convergence run."""
    rows: list[int] = []

    def counted(x: np.ndarray) -> np.ndarray:
        rows.append(len(x))
        return ishigami(x)

    for run, expected in (
            (lambda p: sobol(counted, ISHIGAMI, n=64, seed=1, progress=p), 64 * 5),
            (lambda p: sobol(counted, ISHIGAMI, n=16, seed=1, calc_second_order=True,
                             progress=p), 16 * 8),
            (lambda p: morris(counted, ISHIGAMI, trajectories=6, seed=1, progress=p), 6 * 4),
            (lambda p: sobol_convergence(counted, ISHIGAMI, (16, 32, 64), seed=1,
                                         progress=p), 64 * 5)):
        rows.clear()
        calls: list[tuple[int, int]] = []

        def record(done: int, total: int, calls: list[tuple[int, int]] = calls) -> None:
            calls.append((done, total))

        run(record)
        assert sum(rows) == expected
        assert calls[0] == (0, expected) and calls[-1] == (expected, expected)
    quiet = sobol(ishigami, ISHIGAMI, n=64, seed=1)
    shown = sobol(ishigami, ISHIGAMI, n=64, seed=1, progress=lambda done, total: None)
    pd.testing.assert_frame_equal(quiet, shown)


def test_model_output_reports_progress_as_the_batch_advances(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are simulated MODEL_BATCH at a time, each batch reporting as it goes; the
    batching does not change the outputs (rows are independent patients)."""
    from il2sim.analysis import sensitivity

    func = model_output("aldesleukin_pk", BOLUS, "C_plasma", "auc",
                        params_names=["k10", "V1"], times=DAY_MIN[::10])
    problem = Problem(("k10", "V1"), ((0.03, 0.06), (2.0, 3.5)))
    whole = sobol_convergence(func, problem, (8, 16), seed=3)
    monkeypatch.setattr(sensitivity, "MODEL_BATCH", 10)
    calls: list[tuple[int, int]] = []
    frame = sobol_convergence(func, problem, (8, 16), seed=3,
                              progress=lambda done, total: calls.append((done, total)))
    assert {total for _, total in calls} == {16 * 4}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == 64
    assert {10, 20, 30, 40, 50, 60} <= set(done)
    pd.testing.assert_frame_equal(frame, whole)


def test_trial_output_in_batches_equals_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are simulated TRIAL_BATCH at a time with their own row numbers (and so their
    own random streams): the batching does not change the outputs."""
    from il2sim.analysis import sensitivity, trial_output
    from il2sim.trial.calibrated import calibrated_mortality, calibrated_population

    spec = TrialSpec("batches", n_patients=4, seed=5, population=calibrated_population("rcc"),
                     mortality=calibrated_mortality("rcc"), horizon_days=70.0, max_courses=1,
                     backend="native", chunk_size=4)
    x = np.array([[1.0], [3.0], [6.0], [9.0], [12.0]])
    func = trial_output(spec, "best_change_pct", params_names=("ant",), max_failed=0.9)
    whole = func(x)
    monkeypatch.setattr(sensitivity, "TRIAL_BATCH", 2)
    done: list[int] = []
    np.testing.assert_array_equal(func(x, progress=done.append), whole)
    assert done == [2, 4, 5]
