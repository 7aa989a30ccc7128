"""Regimen optimisation: candidates, common random numbers, Pareto front, search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2sim.analysis.optimize import (
    LABEL,
    METRICS,
    RATES,
    Candidate,
    OptimizationResult,
    SearchSpace,
    evaluate,
    for_file,
    format_metric,
    in_units,
    optimize,
    pareto_front,
    plot_pareto,
)
from il2sim.analysis.optimize.plot import OFF_SCALE
from il2sim.dosing.presets import label_high_dose
from il2sim.trial.calibrated import calibrated_mortality, calibrated_population
from il2sim.trial.runner import TrialSpec, run_trial
from il2sim.trial.statistics import km_median, km_summary

SMALL = {"n_patients": 40, "seed": 11, "horizon_days": 200.0, "backend": "native",
         "n_boot": 50}


@pytest.fixture(scope="module")
def population():  # type: ignore[no-untyped-def]
    return calibrated_population("rcc")


@pytest.fixture(scope="module")
def mortality():  # type: ignore[no-untyped-def]
    return calibrated_mortality("rcc")


@pytest.fixture(scope="module")
def doses_frame(population, mortality) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    cands = [LABEL, Candidate(300000, 8, 14, 15), LABEL, Candidate(900000, 8, 14, 15)]
    return evaluate(cands, population=population, mortality=mortality, **SMALL)


# --------------------------------------------------------------------------- candidates


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dose_iu_per_kg": 0.0}, "dose_iu_per_kg"),
    ({"dose_iu_per_kg": 5e7}, "outside"),
    ({"dose_iu_per_kg": float("nan")}, "finite"),
    ({"interval_h": 0.5}, "interval_h"),
    ({"doses_per_cycle": 0}, "positive whole number"),
    ({"doses_per_cycle": 2.5}, "positive whole number"),
    ({"doses_per_cycle": 16}, "do not fit in days 1-5"),
    ({"infusion_min": 0.5}, "shorter than 1 min"),
    ({"infusion_min": 600.0}, "does not end before the next dose"),
    ({"cycles": 0}, "positive whole number"),
    ({"cycles": 9}, "at most"),
    ({"route": "sc"}, "SC dose is an injection"),
    ({"route": "im", "infusion_min": 0}, "not one of iv, sc, it"),
    ({"ifn_miu": -1.0}, "ifn_miu"),
    ({"infusion_min": -1.0}, "shorter than 1 min"),
])
def test_candidate_validation(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"dose_iu_per_kg": 600000, "interval_h": 8,
                               "doses_per_cycle": 14, "infusion_min": 15, **kwargs}
    with pytest.raises(ValueError, match=message):
        Candidate(**args)  # type: ignore[arg-type]


def test_label_candidate_regimen_matches_label() -> None:
    assert Candidate(600000, 8, 14, 15) == LABEL
    events = LABEL.regimen().events()
    assert len(events) == 28
    cycle = 8.0 * np.arange(14)
    np.testing.assert_allclose(events["time_h"], np.concatenate([cycle, cycle + 14 * 24]))
    label = label_high_dose().events()
    np.testing.assert_allclose(events["time_h"], label["time_h"])
    np.testing.assert_allclose(events["amount"], 600000.0)
    assert (events["amount_unit"] == label["amount_unit"]).all()
    np.testing.assert_allclose(events["duration_h"], 0.25)
    assert list(events["label"].unique()) == ["cycle 1", "cycle 2"]
    np.testing.assert_allclose(LABEL.times_h(), events["time_h"])
    assert LABEL.total_dose_iu_per_kg == 28 * 600000


def test_max_doses_fit_in_five_days() -> None:
    assert Candidate(600000, 8, 15, 15).times_h()[14] == 112.0
    assert len(Candidate(600000, 24, 5, 60, cycles=3).regimen().events()) == 15


# --------------------------------------------------------------------------- evaluation


def test_evaluate_columns_and_intervals(doses_frame: pd.DataFrame) -> None:
    f = doses_frame
    assert list(f["is_label"]) == [True, False, True, False]
    assert (f["n"] + f["n_failed"] == 40).all()
    for m in RATES:
        assert ((f[f"{m}_lo"] <= f[m]) & (f[m] <= f[f"{m}_hi"])).all()
        np.testing.assert_allclose(f[m], f[f"{m}_n"] / f["n"])
        assert (f[f"{m}_se"] >= 0).all()
    for m in METRICS:
        assert m in f and f"{m}_lo" in f and f"{m}_se" in f
    # every dose given: nothing withheld
    assert (f["held"] == 0).all() and (f["held_n"] == 0).all()
    assert (f["dor_median_n"] == f["orr_n"]).all()
    assert (f["hypotension_g34"] <= f["hypotension"]).all()
    assert (f["cr"] <= f["orr"]).all()


def test_common_random_numbers(doses_frame: pd.DataFrame) -> None:
    numeric = doses_frame.drop(columns=["candidate", "name", "route"])
    pd.testing.assert_series_equal(numeric.iloc[0], numeric.iloc[2], check_names=False)


def test_higher_dose_not_less_hypotension(doses_frame: pd.DataFrame) -> None:
    by_dose = doses_frame.iloc[[1, 0, 3]]
    assert list(by_dose["dose_iu_per_kg"]) == [300000, 600000, 900000]
    assert by_dose["hypotension"].is_monotonic_increasing
    assert by_dose["hypotension_g34"].is_monotonic_increasing


def test_evaluate_rejects_bad_input(population) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="no candidates"):
        evaluate([], population=population, n_patients=5, seed=1)
    with pytest.raises(TypeError, match="not a Candidate"):
        evaluate([label_high_dose()], population=population,  # type: ignore[list-item]
                 n_patients=5, seed=1)


# --------------------------------------------------------------------------- Pareto front


def test_pareto_front_constructed_table() -> None:
    table = pd.DataFrame({
        "orr": [0.20, 0.25, 0.15, 0.25, 0.10, 0.30, 0.30, float("nan")],
        "hypotension": [0.50, 0.60, 0.55, 0.60, 0.20, 0.90, 0.95, 0.10],
    })
    out = pareto_front(table)
    # 0: on; 1, 3: equal, both on; 2: dominated by 0; 4: lowest toxicity, on;
    # 5: best efficacy, on; 6: dominated by 5 (same ORR, more toxic); 7: missing, off
    assert list(out["pareto"]) == [True, True, False, True, True, True, False, False]
    assert list(out["dominated_by"]) == [0, 0, 1, 0, 0, 0, 1, 0]
    assert "pareto" not in table.columns
    with pytest.raises(ValueError, match="missing column"):
        pareto_front(table, efficacy="cr")


# --------------------------------------------------------------------------- search


def test_search_space_sampling() -> None:
    space = SearchSpace()
    a, b = space.sample(10, 5), space.sample(10, 5)
    assert a == b and len(set(a)) == 10
    assert space.sample(10, 5, method="lhs") != a
    for c in a:
        assert 2e5 <= c.dose_iu_per_kg <= 9e5 and 6 <= c.interval_h <= 12
        assert 6 <= c.doses_per_cycle <= 15 and 15 <= c.infusion_min <= 120
    with pytest.raises(ValueError, match="low <= high"):
        SearchSpace(interval_h=(12, 6))
    with pytest.raises(ValueError, match="method"):
        space.sample(4, 1, method="grid")


def test_optimize_places_label_on_front(population, mortality,  # type: ignore[no-untyped-def]
                                        tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = optimize(SearchSpace(), population=population, mortality=mortality,
                      n_candidates=5, max_toxicity=0.7, include=(),
                      progress=lambda done, total, c: calls.append((done, total)), **SMALL)
    assert isinstance(result, OptimizationResult)
    table = result.table
    assert table["is_label"].sum() == 1 and len(table) == 6
    assert calls[-1] == (6, 6)
    assert result.label["candidate"] == LABEL
    front = result.front
    e, t = front["orr"].to_numpy(), front["hypotension"].to_numpy()
    for i in range(len(front)):
        for j in range(len(front)):
            assert not (e[j] >= e[i] and t[j] <= t[i] and (e[j] > e[i] or t[j] < t[i]))
    off = table[~table["pareto"]]
    for _, row in off.iterrows():
        assert ((front["orr"] >= row["orr"]) & (front["hypotension"] <= row["hypotension"])).any()
    assert bool(table.loc[table["is_label"], "pareto"].iloc[0]) == result.dominating_label.empty
    if result.best is not None:
        best = table[table["candidate"] == result.best].iloc[0]
        assert best["hypotension"] <= 0.7 and best["pareto"]
        assert best["orr"] == table.loc[table["feasible"], "orr"].max()
    fig = plot_pareto(table, tmp_path / "front.png", max_toxicity=0.7)
    assert (tmp_path / "front.png").stat().st_size > 0
    assert fig.axes[0].get_xlabel() == "hypotension (SBP < 90 mmHg) (%)"
    reach = 100 * table["hypotension_hi"].max()
    drawn = [line.get_xdata()[0] for line in fig.axes[0].get_lines()
             if line.get_linestyle() == "--"]
    named = [t.get_text() for t in fig.axes[0].texts if "toxicity ceiling" in t.get_text()]
    if OFF_SCALE * reach >= 70:  # the ceiling drawn where the candidates are
        assert drawn == [70] and not named
    else:  # far beyond them: named in a corner, the axis kept to the candidates
        assert not drawn and named == ["toxicity ceiling 70 % (off scale) \u2192"]
        assert fig.axes[0].get_xlim()[1] < 70


def test_optimize_rejects_bad_input(population) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown metric 'held' for efficacy"):
        optimize(SearchSpace(), population=population, n_patients=5, seed=1, n_candidates=2,
                 efficacy="held")
    with pytest.raises(ValueError, match="ceiling on trd is a fraction"):
        optimize(SearchSpace(), population=population, n_patients=5, seed=1, n_candidates=2,
                 constraints={"trd": 4})
    with pytest.raises(ValueError, match="unknown metric"):
        optimize(SearchSpace(), population=population, n_patients=5, seed=1, n_candidates=2,
                 max_toxicity=0.5, toxicity="nausea")
    with pytest.raises(ValueError, match="fraction"):
        optimize(SearchSpace(), population=population, n_patients=5, seed=1, n_candidates=2,
                 max_toxicity=50)


# --------------------------------------------------------------------------- routes, partner


def test_routes_and_partner_build_their_doses() -> None:
    bolus = Candidate(600000, 8, 14, 0).regimen().events()
    assert set(bolus["kind"]) == {"bolus"} and set(bolus["route"]) == {"iv"}
    sc = Candidate(150000, 24, 5, 0, route="sc").regimen().events()
    assert set(sc["kind"]) == {"bolus"} and set(sc["route"]) == {"sc"} and len(sc) == 10
    it = Candidate(100000, 24, 5, 0, route="it", cycles=1).regimen().events()
    assert set(it["route"]) == {"it"} and len(it) == 5
    combo = Candidate(600000, 8, 14, 15, ifn_miu=6).regimen().events()
    ifn = combo[combo["label"] == "interferon"]
    # three times a week (days 1, 3, 5 of each week) at 08:00 over the two cycles' 4 weeks
    days = np.array([1, 3, 5, 8, 10, 12, 15, 17, 19, 22, 24, 26])
    np.testing.assert_allclose(ifn["time_h"], 24.0 * (days - 1) + 8.0)
    assert set(ifn["route"]) == {"ifn_sc"}
    np.testing.assert_allclose(ifn["amount"], 6.0)
    assert len(combo) == 28 + 12
    assert Candidate(600000, 8, 14, 15, ifn_miu=6).name.endswith("+ IFN 6 MIU tiw")


def test_search_space_routes_and_partner() -> None:
    space = SearchSpace(routes=("iv", "iv_bolus", "sc", "it"), ifn_miu=(0.0, 3.0, 9.0))
    drawn = space.sample(64, 3)
    routes = {("bolus" if c.route == "iv" and c.infusion_min == 0 else c.route) for c in drawn}
    assert routes == {"iv", "bolus", "sc", "it"}
    assert {c.ifn_miu for c in drawn} == {0.0, 3.0, 9.0}
    assert all(c.infusion_min == 0 for c in drawn if c.route != "iv")
    with pytest.raises(ValueError, match="routes"):
        SearchSpace(routes=("oral",))
    with pytest.raises(ValueError, match="ifn_miu"):
        SearchSpace(ifn_miu=(0.0, 80.0))
    with pytest.raises(ValueError, match="6 coordinates"):
        space.candidate([0.5] * 4)


def test_km_median_matches_lifelines() -> None:
    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 30):
        t = np.round(rng.exponential(100.0, n), 0)  # ties on purpose
        e = rng.random(n) < 0.7
        frame = pd.DataFrame({"t": t, "e": e})
        expected = km_summary(frame, "t", "e", by=None)["median_d"].iloc[0]
        assert km_median(t, e) == expected
    assert km_median(np.array([5.0, 9.0]), np.array([False, False])) == np.inf
    assert np.isnan(km_median(np.array([]), np.array([], dtype=bool)))


def test_label_with_holds_is_the_label_trial_arm(population,  # type: ignore[no-untyped-def]
                                                 mortality) -> None:
    spec = TrialSpec("label", n_patients=40, seed=11, population=population,
                     mortality=mortality, horizon_days=200.0, max_courses=1,
                     backend="native", chunk_size=40)
    trial = run_trial(spec)
    held = trial.doses.assign(held=trial.doses["status"] != "given").groupby("patient")["held"]
    row = evaluate([LABEL], population=population, mortality=mortality, holds=True,
                   **SMALL).iloc[0]
    e = trial.endpoints
    assert row["orr_n"] == e["bor"].isin(["CR", "PR"]).sum()
    assert row["cr_n"] == (e["bor"] == "CR").sum()
    assert row["hypotension_n"] == (e["sbp_min"] < 90).sum()
    assert row["trd_n"] == (e["death_cause"] == "treatment").sum()
    assert row["held_n"] == held.sum().sum() > 0
    assert row["held"] == pytest.approx(held.mean().mean(), rel=1e-12)
    assert row["held_lo"] <= row["held"] <= row["held_hi"]


@pytest.mark.slow
def test_constraints_select_the_best_feasible(population,  # type: ignore[no-untyped-def]
                                              mortality) -> None:
    ceilings = {"hypotension_g34": 0.1, "held": 0.2}
    result = optimize(SearchSpace(routes=("iv", "sc"), ifn_miu=(0.0, 6.0)),
                      population=population, mortality=mortality, n_candidates=4,
                      efficacy="cr", toxicity="held", holds=True, constraints=ceilings,
                      n_patients=30, seed=2, horizon_days=150.0, n_boot=20)
    t = result.table
    assert result.constraints == ceilings and result.max_toxicity == 0.2
    # a ceiling met exactly (a held share of 1/5, say) counts, whatever the rounding
    expected = (t["hypotension_g34"] <= 0.1 + 1e-12) & (t["held"] <= 0.2 + 1e-12)
    assert list(t["feasible"]) == list(expected), t[["hypotension_g34", "held"]]
    if result.best is not None:
        best = t[t["candidate"] == result.best].iloc[0]
        assert best["feasible"] and best["cr"] == t.loc[t["feasible"], "cr"].max()
    assert set(result.summary()["name"]) >= {LABEL.name}
    again = optimize(SearchSpace(routes=("iv", "sc"), ifn_miu=(0.0, 6.0)),
                     population=population, mortality=mortality, n_candidates=4,
                     efficacy="cr", toxicity="held", holds=True, constraints=ceilings,
                     n_patients=30, seed=2, horizon_days=150.0, n_boot=20)
    pd.testing.assert_frame_equal(t.drop(columns="candidate"),
                                  again.table.drop(columns="candidate"))


def test_pareto_front_with_unreached_medians() -> None:
    table = pd.DataFrame({"dor_median": [np.inf, 200.0, np.inf, np.nan],
                          "trd": [0.05, 0.01, 0.02, 0.0]})
    out = pareto_front(table, "dor_median", "trd")
    assert list(out["pareto"]) == [False, True, True, False]
    fig = plot_pareto(out, efficacy="dor_median", toxicity="trd")
    assert fig.axes[0].get_ylabel() == "median duration of response (months)"


@pytest.mark.slow
def test_documented_example_runs_and_is_reproducible(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """examples/optimize_rcc.py at a small size: the same seed prints the same search twice
    and stores it (the full run and its numbers are in docs/analysis.md)."""
    import runpy

    example = runpy.run_path(str(Path(__file__).resolve().parents[2] / "examples"
                                 / "optimize_rcc.py"))
    main = example["main"]
    main.__globals__.update(N_PATIENTS=20, N_CANDIDATES=3, HORIZON_DAYS=120.0)
    outputs = []
    for k in range(2):
        main(tmp_path / f"front{k}.png", tmp_path / "example.duckdb")
        text = capsys.readouterr().out
        skip = ("  [", "Plot written")   # progress lines (with times) and the file name
        outputs.append([line for line in text.splitlines()
                        if not line.startswith(skip) and " s in all" not in line])
    assert outputs[0] == outputs[1]
    assert any(line.startswith("Label regimen: ORR") for line in outputs[0])
    from il2sim.store import ResultStore

    with ResultStore(tmp_path / "example.duckdb", read_only=True) as store:
        assert store.analyses()["name"].tolist() == ["optimize rcc (example)"]


@pytest.mark.slow
def test_refinement_zooms_in_on_the_best(population, mortality) -> None:  # type: ignore[no-untyped-def]
    args = dict(population=population, mortality=mortality, n_patients=20, seed=4,
                horizon_days=120.0, n_boot=20)
    result = optimize(SearchSpace(routes=("iv", "sc")), n_candidates=4, max_toxicity=0.9,
                      refine=1, **args)  # type: ignore[arg-type]
    t = result.table
    assert list(t["round"].unique()) == [0, 1] and (t["round"] == 1).sum() == 4
    assert not t["name"].duplicated().any()
    first = t[(t["round"] == 0) & t["u"].notna() & t["feasible"]]
    centre = first.sort_values(["orr", "hypotension", "total_dose_iu_per_kg"],
                               ascending=[False, True, True], kind="stable")["u"].iloc[0]
    for u in t.loc[t["round"] == 1, "u"]:
        assert np.max(np.abs(np.array(u) - np.array(centre))) <= 0.25 + 1e-12
    assert result.best is not None
    assert t.loc[t["candidate"] == result.best, "orr"].iloc[0] == t.loc[t["feasible"], "orr"].max()
    # common random numbers across rounds: a round-1 candidate alone gives the same row
    late = t[t["round"] == 1].iloc[0]
    alone = evaluate([late["candidate"]], **args).iloc[0]  # type: ignore[arg-type]
    for m in ("orr_n", "hypotension_n", "trd_n", "orr_se"):
        assert alone[m] == late[m]
    with pytest.raises(ValueError, match="refine"):
        optimize(SearchSpace(), n_candidates=2, refine=-1, **args)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- differential evolution


SYNTHETIC_SPACE = SearchSpace(routes=("iv", "sc"), ifn_miu=(0.0, 3.0, 9.0),
                              infusion_min=(15.0, 15.0))
SYNTHETIC_BEST = 0.5 + 0.3 * 4.0 / 7.0 + 0.05


def synthetic(c: Candidate) -> dict[str, float]:
    """A known objective: ORR rises with the dose, peaks at q8h x12 and with 3 MIU of
    interferon; hypotension is dose / 1e6. Under a 0.6 ceiling the optimum is 600k IU/kg
    q8h x12 + IFN 3 MIU (either route), ORR = 0.5 + 0.3 * 4/7 + 0.05."""
    orr = (0.5 + 0.3 * (c.dose_iu_per_kg - 2e5) / 7e5 - 0.02 * (c.interval_h - 8.0) ** 2
           - 0.01 * (c.doses_per_cycle - 12) ** 2 + 0.05 * (c.ifn_miu == 3.0))
    tox = c.dose_iu_per_kg / 1e6
    return {"orr": orr, "hypotension": tox, "orr_hi": orr + 0.01, "hypotension_hi": tox + 0.05}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_differential_evolution_finds_a_known_optimum(seed: int) -> None:
    calls: list[tuple[int, int]] = []
    result = optimize(SYNTHETIC_SPACE, seed=seed, n_candidates=400, method="de",
                      max_toxicity=0.6, evaluator=synthetic,
                      progress=lambda done, total, c: calls.append((done, total)))
    assert result.method == "de" and result.best is not None
    best = result.best
    assert (best.dose_iu_per_kg, best.interval_h, best.doses_per_cycle, best.ifn_miu) == (
        600000.0, 8.0, 12, 3.0)
    assert synthetic(best)["orr"] == pytest.approx(SYNTHETIC_BEST, abs=1e-12)
    t = result.table
    assert len(t) <= 400 + 1 and t["is_label"].sum() == 1          # the budget, plus the label
    assert not t["name"].duplicated().any()
    assert calls[-1] == (len(t), len(t))                         # the bar ends complete
    assert sorted({d for d, _ in calls}) == list(range(1, len(t) + 1))
    assert list(t["feasible"]) == list(t["hypotension"] <= 0.6)
    assert t["round"].max() > 0 and (t.loc[~t["is_label"], "u"].notna()).all()
    # the label is placed: on the front or dominated by what the front records
    assert bool(result.label["pareto"]) == result.dominating_label.empty


def test_differential_evolution_beats_the_quasi_random_search_at_equal_budget() -> None:
    """On the synthetic objective DE's best is at least Sobol's for each seed, and better on
    average (budget 150)."""
    de, qr = [], []
    for seed in range(5):
        for method, out in (("de", de), ("sobol", qr)):
            r = optimize(SYNTHETIC_SPACE, seed=seed, n_candidates=150, method=method,
                         max_toxicity=0.6, evaluator=synthetic)
            assert r.best is not None
            out.append(synthetic(r.best)["orr"])
    assert np.mean(de) > np.mean(qr)


def test_differential_evolution_is_reproducible_and_respects_ceilings() -> None:
    args = {"seed": 7, "n_candidates": 60, "method": "de", "evaluator": synthetic,
            "constraints": {"hypotension": 0.45}, "conservative": True}
    a, b = optimize(SYNTHETIC_SPACE, **args), optimize(SYNTHETIC_SPACE, **args)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(a.table.drop(columns="candidate"),
                                  b.table.drop(columns="candidate"))
    assert a.best == b.best and a.best is not None
    # conservative: the upper limit (tox + 0.05) within 0.45, i.e. at most 400k IU/kg
    assert a.best.dose_iu_per_kg <= 400000.0
    assert list(a.table["feasible"]) == list(a.table["hypotension_hi"] <= 0.45)
    assert a.table.loc[a.table["candidate"] == a.best, "feasible"].iloc[0]
    other = optimize(SYNTHETIC_SPACE, **{**args, "seed": 8})  # type: ignore[arg-type]
    assert list(other.table["name"]) != list(a.table["name"])


def test_differential_evolution_without_a_feasible_candidate_returns_none() -> None:
    result = optimize(SYNTHETIC_SPACE, seed=1, n_candidates=30, method="de",
                      max_toxicity=0.1, evaluator=synthetic)      # every dose >= 200k: 0.2
    assert result.best is None and not result.table["feasible"].any()
    assert len(result.table) == 31                              # the whole budget was spent


def test_search_space_grid_and_single_candidate() -> None:
    assert SearchSpace().grid() == (None, 7, 10, None, 1, 1)
    assert SYNTHETIC_SPACE.grid() == (None, 7, 10, 1, 2, 3)
    assert SearchSpace(routes=("sc",), interval_h=(6.5, 6.9)).grid() == (None, None, 10, 1,
                                                                           1, 1)
    one = SearchSpace(dose_iu_per_kg=(3e5, 3e5), interval_h=(8, 8), doses_per_cycle=(10, 10),
                      routes=("sc",))
    assert one.grid() == (1, 1, 1, 1, 1, 1)
    result = optimize(one, seed=1, n_candidates=5, method="de", evaluator=synthetic)
    assert list(result.table["name"]) == [LABEL.name, "300k IU/kg SC q8h x10"]


def test_optimize_rejects_bad_search_settings(population) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="method must be one of sobol, lhs, de"):
        optimize(SearchSpace(), seed=1, n_candidates=2, method="grid", evaluator=synthetic)
    with pytest.raises(ValueError, match="refine is for the quasi-random searches"):
        optimize(SearchSpace(), seed=1, n_candidates=2, method="de", refine=1,
                 evaluator=synthetic)
    with pytest.raises(ValueError, match="give population and n_patients"):
        optimize(SearchSpace(), seed=1, n_candidates=2, population=population)


@pytest.mark.slow
def test_differential_evolution_on_virtual_patients(population,  # type: ignore[no-untyped-def]
                                                    mortality) -> None:
    """A small real search: the ceilings hold, every row is the candidate's evaluation on
    the same patients (common random numbers), the label is placed."""
    args = {"population": population, "mortality": mortality, "n_patients": 20, "seed": 4,
            "horizon_days": 120.0, "n_boot": 20}
    result = optimize(SearchSpace(routes=("iv", "sc")), n_candidates=3, method="de",
                      constraints={"hypotension_g34": 0.3}, **args)  # type: ignore[arg-type]
    t = result.table
    assert len(t) == 4 and t["is_label"].sum() == 1
    assert list(t["feasible"]) == list(t["hypotension_g34"] <= 0.3)
    if result.best is not None:
        assert t.loc[t["candidate"] == result.best, "feasible"].iloc[0]
    late = t[~t["is_label"]].iloc[-1]
    alone = evaluate([late["candidate"]], **args).iloc[0]  # type: ignore[arg-type]
    for m in ("orr_n", "hypotension_g34_n", "trd_n", "orr_se"):
        assert alone[m] == late[m]


def test_metrics_are_printed_in_percent_and_months() -> None:
    """Rates as percent like every other table of the package, a median duration in
    months (30.4375 days), the unit in the header."""
    assert format_metric("orr", 0.075) == "7.5%"
    assert format_metric("hypotension", 0.6) == "60.0%"
    assert format_metric("dor_median", 365.25) == "12.0 months"
    frame = pd.DataFrame({"name": ["label"], "orr": [0.075], "orr_lo": [0.02],
                          "orr_se": [0.011], "orr_n": [3], "dor_median": [182.625],
                          "feasible": [True]})
    shown = in_units(frame)
    assert list(shown.columns) == ["name", "orr (%)", "orr_lo (%)", "orr_se (%)", "orr_n",
                                   "dor_median (months)", "feasible"]
    assert shown.iloc[0].tolist() == ["label", 7.5, 2.0, 1.1, 3, 6.0, True]
    # In a file the values stay as computed; a column with a unit says it.
    written = for_file(frame)
    assert list(written.columns) == ["name", "orr", "orr_lo", "orr_se", "orr_n",
                                     "dor_median (day)", "feasible"]
    assert written["dor_median (day)"].iloc[0] == 182.625


def test_a_ceiling_far_beyond_the_candidates_is_named_not_drawn() -> None:
    # two candidates at 1% and 3% hypotension (upper limits 2% and 5%) and a 30% ceiling:
    # drawn, the line would squeeze them into the left sixth of the plot
    table = pd.DataFrame({"orr": [0.10, 0.14], "orr_lo": [0.06, 0.09], "orr_hi": [0.15, 0.2],
                          "hypotension": [0.01, 0.03], "hypotension_lo": [0.0, 0.01],
                          "hypotension_hi": [0.02, 0.05]})
    fig = plot_pareto(table, max_toxicity=0.3)
    ax = fig.axes[0]
    assert not [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [t.get_text() for t in ax.texts] == ["toxicity ceiling 30 % (off scale) \u2192"]
    assert ax.get_xlim()[1] < 30 / OFF_SCALE
    near = plot_pareto(table, max_toxicity=0.08).axes[0]  # within reach: drawn
    assert [line.get_xdata()[0] for line in near.get_lines()
            if line.get_linestyle() == "--"] == [8.0]
