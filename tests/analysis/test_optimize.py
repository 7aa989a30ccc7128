"""Regimen optimisation: candidates, common random numbers, Pareto front, search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2sim.analysis.optimize import (
    LABEL,
    METRICS,
    Candidate,
    OptimisationResult,
    SearchSpace,
    evaluate,
    optimise,
    pareto_front,
    plot_pareto,
)
from il2sim.dosing.presets import label_high_dose
from il2sim.trial.calibrated import calibrated_mortality, calibrated_population

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
    ({"route": "sc"}, "only 'iv'"),
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
    for m in METRICS:
        assert ((f[f"{m}_lo"] <= f[m]) & (f[m] <= f[f"{m}_hi"])).all()
        np.testing.assert_allclose(f[m], f[f"{m}_n"] / f["n"])
        assert (f[f"{m}_se"] >= 0).all()
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


def test_optimise_places_label_on_front(population, mortality,  # type: ignore[no-untyped-def]
                                        tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = optimise(SearchSpace(), population=population, mortality=mortality,
                      n_candidates=5, max_toxicity=0.7, include=(),
                      progress=lambda done, total, c: calls.append((done, total)), **SMALL)
    assert isinstance(result, OptimisationResult)
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
    assert fig.axes[0].get_xlabel() == "hypotension (%)"


def test_optimise_rejects_bad_input(population) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown metric"):
        optimise(SearchSpace(), population=population, n_patients=5, seed=1, n_candidates=2,
                 max_toxicity=0.5, toxicity="nausea")
    with pytest.raises(ValueError, match="fraction"):
        optimise(SearchSpace(), population=population, n_patients=5, seed=1, n_candidates=2,
                 max_toxicity=50)
