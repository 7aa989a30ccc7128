"""Response biomarkers: a planted predictor is found, noise is not, degenerate inputs fail."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from il2sim import get_model
from il2sim.analysis.biomarkers import (
    FEATURE_LABELS,
    BiomarkerResult,
    biomarker_analysis,
    compare_feature_sets,
    feature_label,
    labelled,
    plot_importance,
    plot_roc,
    trial_features,
)
from il2sim.units import header

N = 400
FAST = {"repeats": 2, "n_boot": 500, "n_permutations": 199}


def population(seed: int = 7, n: int = N) -> pd.DataFrame:
    """x1 plus five standard-normal noise features and a categorical noise column."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(1, 7)],
                     index=pd.RangeIndex(n, name="patient"))
    x["site"] = rng.choice(["lung", "kidney", "skin"], n)
    return x


def planted(x: pd.DataFrame, seed: int = 8) -> pd.Series:
    """Response = Bernoulli(logistic(2.5 * x1 - 1))."""
    p = 1 / (1 + np.exp(-(2.5 * x["x1"] - 1)))
    return pd.Series(np.random.default_rng(seed).random(len(x)) < p, index=x.index)


def independent(x: pd.DataFrame, seed: int = 9) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).random(len(x)) < 0.35, index=x.index)


@pytest.fixture(scope="module")
def found() -> BiomarkerResult:
    x = population()
    return biomarker_analysis(x, planted(x), seed=3, **FAST)


def test_planted_predictor_is_found(found: BiomarkerResult) -> None:
    assert found.auc > 0.75
    assert found.auc_low < found.auc < found.auc_high
    assert found.auc_low > 0.7
    assert found.p_value < 0.01
    assert found.importances["feature"].iloc[0] == "x1"
    assert found.importances["importance"].iloc[0] > 0  # higher x1, more response
    assert list(found.importances["rank"]) == list(range(1, len(found.importances) + 1))
    # every one-hot level of the categorical column is reported
    assert {"site_kidney", "site_lung", "site_skin"} <= set(found.importances["feature"])
    assert found.predictions.shape == (2, N)
    assert np.all((found.predictions >= 0) & (found.predictions <= 1))
    assert found.n_patients == N and 0 < found.n_responders < N
    assert "x1" in found.summary()


def test_results_are_reproducible(found: BiomarkerResult) -> None:
    x = population()
    again = biomarker_analysis(x, planted(x), seed=3, **FAST)
    assert again.auc == found.auc and again.p_value == found.p_value
    np.testing.assert_array_equal(again.boot_aucs, found.boot_aucs)


def test_no_predictor_gives_chance() -> None:
    x = population()
    r = biomarker_analysis(x, independent(x), seed=3, **FAST)
    assert r.auc_low < 0.5 < r.auc_high
    assert r.p_value > 0.05
    assert 0.35 < r.auc < 0.65


def test_forest_finds_planted_predictor() -> None:
    x = population()
    r = biomarker_analysis(x, planted(x), model="forest", folds=3, repeats=1, n_boot=200,
                           n_permutations=0, seed=1)
    assert r.auc > 0.75
    assert np.isnan(r.p_value)
    assert r.importances["feature"].iloc[0] == "x1"
    # permutation importance is per input column: the categorical is one feature
    assert set(r.importances["feature"]) == set(x.columns)
    assert r.importance_kind.startswith("permutation")


def test_compare_feature_sets_prefers_the_set_with_the_predictor() -> None:
    x = population()
    y = planted(x)
    table = compare_feature_sets({"noise": x.drop(columns="x1"), "with x1": x}, y,
                                 repeats=1, n_boot=300, n_permutations=0, seed=2)
    assert list(table.index) == ["noise", "with x1"]
    assert table.loc["with x1", "auc"] > table.loc["noise", "auc"] + 0.2
    assert table.loc["with x1", "delta_low"] > 0
    assert table.loc["noise", "delta_auc"] == 0
    assert table.loc["with x1", "top_feature"] == "x1"
    assert table.loc["with x1", "n_features"] == 7
    with pytest.raises(ValueError, match="no feature sets"):
        compare_feature_sets({}, y)


def test_no_leakage_scaling_fitted_within_folds() -> None:
    """A feature with a huge outlier in one patient still yields valid probabilities."""
    x = population()
    x.loc[0, "x2"] = 1e6
    r = biomarker_analysis(x, planted(x), repeats=1, n_boot=100, n_permutations=0)
    assert np.isfinite(r.predictions).all()


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda x, y: (x.assign(x3=1.0), y), "constant features.*x3"),
    (lambda x, y: (x.assign(x2=x["x2"].where(x.index != 5)), y), "missing values in: x2"),
    (lambda x, y: (x.assign(x2=x["x2"].where(x.index != 5, np.inf)), y), "infinite"),
    (lambda x, y: (x, y & (x.index < 3)), "too few responders"),
    (lambda x, y: (x, y | (x.index >= 3)), "too few non-responders"),
    (lambda x, y: (x, y.astype(float).where(x.index != 0)), "response has 1 missing"),
    (lambda x, y: (x, y.map({True: "CR", False: "PD"})), "must be boolean"),
    (lambda x, y: (x, y.iloc[:-1]), "rows"),
    (lambda x, y: (x, y.set_axis(y.index + 1)), "same index"),
    (lambda x, y: (x.iloc[:, :0], y), "no columns"),
])
def test_degenerate_inputs_raise(mutate: object, message: str) -> None:
    x = population(n=60)
    y = planted(x)
    xx, yy = mutate(x, y)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        biomarker_analysis(xx, yy, n_permutations=0)


@pytest.mark.parametrize(("option", "message"), [
    ({"model": "svm"}, "model must be"), ({"folds": 1}, "folds"),
    ({"repeats": 0}, "repeats"), ({"n_boot": 5}, "n_boot"), ({"n_permutations": -1}, "perm"),
])
def test_bad_settings_raise(option: dict[str, object], message: str) -> None:
    x = population(n=60)
    with pytest.raises(ValueError, match=message):
        biomarker_analysis(x, planted(x), **option)  # type: ignore[arg-type]


def test_trial_features_joins_and_defines_response() -> None:
    patients = pd.DataFrame({
        "patient": [1, 2, 3, 4, 5], "weight": [70.0, 80, 60, 90, 75],
        "k_el": [0.1, 0.2, 0.3, 0.4, 0.5], "constant": 1.0, "status": "ok",
        "message": "", "sex": list("MFMFM"),
    })
    endpoints = pd.DataFrame({  # patient 5 failed: no endpoints
        "patient": [4, 3, 2, 1], "arm": "hd", "bor": ["CR", "PR", "NE", "PD"],
        "sbp_min": [80.0, 85, 90, 95],
    })
    x, y = trial_features(patients, endpoints, on_treatment=["sbp_min"])
    assert list(x.columns) == ["weight", "k_el", "sbp_min"]  # numeric, non-constant
    assert list(x.index) == [1, 2, 3, 4] and x.index.equals(y.index)
    assert y.name == "responder"
    assert y.to_dict() == {1: False, 2: False, 3: True, 4: True}  # NE is a non-responder
    assert x.loc[4, "sbp_min"] == 80.0
    x, y = trial_features(patients, endpoints, baseline=["sex"], evaluable_only=True)
    assert list(x.columns) == ["sex"] and list(y.index) == [1, 3, 4]
    with pytest.raises(ValueError, match="not in patients"):
        trial_features(patients, endpoints, baseline=["nope"])
    with pytest.raises(ValueError, match="neither table"):
        trial_features(patients, endpoints, on_treatment=["nope"])
    with pytest.raises(ValueError, match="duplicated"):
        trial_features(patients, pd.concat([endpoints, endpoints]))
    with pytest.raises(ValueError, match="bor"):
        trial_features(patients, endpoints.drop(columns="bor"))


def test_plots_write_pngs(found: BiomarkerResult, tmp_path: Path) -> None:
    roc_path, imp_path = tmp_path / "roc.png", tmp_path / "importance.png"
    fig = plot_roc(found, roc_path, figsize=(4, 4), dpi=50)
    assert isinstance(fig, Figure)
    assert imread(roc_path).shape[:2] == (200, 200)
    ax = fig.axes[0]
    assert "AUC" in ax.get_legend().get_texts()[0].get_text()
    fig = plot_importance(found, imp_path, top=3)
    assert imp_path.stat().st_size > 0
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] == "x1" and len(labels) == 3  # best at the top
    roc = found.roc()
    assert roc["tpr"].iloc[0] == 0 and roc["tpr"].iloc[-1] == 1
    assert roc["tpr"].is_monotonic_increasing


def test_progress_counts_every_classifier_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The callback's total is the number of fits made: folds x (repeats + permutations),
    times the number of feature sets compared."""
    from il2sim.analysis import biomarkers

    fits = [0]
    real = biomarkers._fit_predict

    def counting(*args: object) -> object:
        fits[0] += 1
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(biomarkers, "_fit_predict", counting)
    x = population(n=120)
    y = planted(x)
    settings = {"folds": 4, "repeats": 2, "n_boot": 50, "n_permutations": 5, "seed": 1}
    calls: list[tuple[int, int]] = []
    shown = biomarker_analysis(x, y, progress=lambda d, t: calls.append((d, t)),
                               **settings)  # type: ignore[arg-type]
    assert fits[0] == 4 * (2 + 5) == len(calls)
    assert calls == [(k, fits[0]) for k in range(1, fits[0] + 1)]
    quiet = biomarker_analysis(x, y, **settings)  # type: ignore[arg-type]
    assert (shown.auc, shown.p_value) == (quiet.auc, quiet.p_value)
    fits[0] = 0
    calls.clear()
    compare_feature_sets({"noise": x.drop(columns="x1"), "with x1": x}, y,
                         progress=lambda d, t: calls.append((d, t)), folds=3, repeats=2,
                         n_boot=50, n_permutations=1, seed=2)
    assert fits[0] == 2 * 3 * (2 + 1)
    assert calls == [(k, fits[0]) for k in range(1, fits[0] + 1)]


def test_features_carry_clinical_labels() -> None:
    """Parameters by their meaning and unit in the model, on-treatment extremes by their
    observable's, covariates and one-hot levels by FEATURE_LABELS; unknown names as they
    are."""
    model = get_model("il2_qsp")
    meanings = {p.name: (p.meaning, p.unit) for p in model.params}
    assert feature_label("ant", model) == header(*meanings["ant"])
    assert feature_label("k10", model) == f"{meanings['k10'][0]} (1/h)"
    sbp = next(o for o in model.observables if o.name == "sbp")
    assert feature_label("sbp_min", model) == f"lowest {sbp.meaning} (mmHg)"
    assert feature_label("f_res") == FEATURE_LABELS["f_res"]
    assert feature_label("prior_therapy_True") == "prior systemic therapy: yes"
    assert feature_label("tumour_type_clear_cell") == "tumour type: clear_cell"
    assert feature_label("x1", model) == "x1" and feature_label("site_kidney") == "site_kidney"
    table = labelled(pd.DataFrame({"feature": ["ant", "weight"], "importance": [1.0, 0.5]}),
                     model)
    assert list(table.columns) == ["feature", "label", "importance"]
    assert list(table["label"]) == [header(*meanings["ant"]), "body weight (kg)"]


def test_importance_plot_uses_labels(found: BiomarkerResult) -> None:
    result = dataclasses.replace(found, importances=labelled(found.importances).assign(
        label=lambda t: "label of " + t["feature"]))
    ticks = {t.get_text() for t in plot_importance(result).axes[0].get_yticklabels()}
    assert "label of x1" in ticks and "x1" not in ticks
