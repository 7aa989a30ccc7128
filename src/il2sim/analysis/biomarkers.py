"""Response-biomarker discovery: does anything measurable predict who responds?

The seeds report that no immunological parameter predicts response to high-dose IL-2.
:func:`biomarker_analysis` puts a number on that claim for a virtual population: it fits a
classifier of responder status (RECIST CR or PR) on a feature table and reports

- the cross-validated ROC AUC: stratified ``folds``-fold cross-validation, repeated
  ``repeats`` times with fresh shuffles; each repeat yields one out-of-fold prediction per
  patient and one AUC, and the estimate is their mean;
- a 95% bootstrap interval of that AUC: patients are resampled within each class (so every
  resample keeps both classes) and the out-of-fold predictions re-scored; the interval covers
  sampling of patients, not the refitting of the model;
- a permutation p-value against chance (Ojala and Garriga 2010): the out-of-fold AUC of the
  first repeat's cross-validation is compared with the same procedure run on
  ``n_permutations`` random permutations of the response, ``p = (1 + #{null >= observed}) /
  (1 + n_permutations)``;
- ranked feature importances: for the (L2-penalised) logistic model the coefficients on
  standardised features (change in log-odds per standard deviation, or for a one-hot column
  relative to the mean patient), averaged over all cross-validation fits; for the random
  forest the permutation importance (drop in held-out AUC when one original column is
  shuffled) on each held-out fold, averaged.

Numeric columns are standardised and categorical ones (object, category, string, bool)
one-hot encoded inside the cross-validation pipeline, so no held-out patient informs the
preprocessing. :func:`compare_feature_sets` runs the analysis on several feature sets with the
same splits and bootstrap resamples, giving paired AUC differences ("is baseline enough, or
does early on-treatment information add?"). :func:`trial_features` builds the inputs from a
trial's ``patients`` and ``endpoints`` tables; :func:`plot_roc` and :func:`plot_importance`
draw the results with matplotlib's object-oriented API on an Agg canvas.

References:
    Ojala M, Garriga GC. Permutation tests for studying classifier performance. J Mach Learn
    Res 2010;11:1833-63.
    Hanley JA, McNeil BJ. The meaning and use of the area under a receiver operating
    characteristic (ROC) curve. Radiology 1982;143:29-36.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from il2sim.analysis.errors import AnalysisError
from il2sim.model import Model
from il2sim.trial.statistics import is_responder
from il2sim.units import header

__all__ = [
    "BiomarkerResult",
    "ModelKind",
    "biomarker_analysis",
    "FEATURE_LABELS",
    "compare_feature_sets",
    "feature_label",
    "labelled",
    "plot_importance",
    "plot_roc",
    "trial_features",
]

ModelKind = Literal["logistic", "forest"]
Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with classifier fits done and due."""
PathLike = str | Path

#: Columns of a trial's ``patients`` table that are bookkeeping, not candidate markers.
_BOOKKEEPING = ("patient", "arm", "status", "message")

_BOOT_CHUNK = 256

FEATURE_LABELS: Mapping[str, str] = {
    "weight": "body weight (kg)",
    "height": "height (cm)",
    "bsa": "body surface area (m**2)",
    "ecog": "ECOG performance status",
    "prior_therapy": "prior systemic therapy",
    "tumour_type": "tumour type",
    "sod_mm": "sum of lesion diameters (mm)",
    "baseline_sod_mm": "sum of lesion diameters at baseline (mm)",
    "n_lesions": "number of lesions",
    "f_res": "fraction of the tumour in the immune-escape clone",
    "urine_min": "lowest urine output per 8-h shift (mL)",
    "doses_given": "doses given",
    "doses_scheduled": "doses scheduled",
    "courses": "courses given",
    "leak_exposure": "capillary-leak exposure",
}
"""Clinical labels of the features that are not a parameter or observable of the model:
the virtual patient's covariates and tumour, and on-treatment counts. A model parameter is
labelled by its own meaning and unit, and an on-treatment extreme (``sbp_min``) by its
observable's (:func:`feature_label`), so each is written once, where it is defined."""


_LEVELS = {"True": "yes", "False": "no"}


def feature_label(feature: str, model: Model | None = None) -> str:
    """The clinical label of a feature column: :data:`FEATURE_LABELS`, else the meaning
    and unit of the model's parameter (``ant``: "tumour antigenicity (immunogenicity)"),
    else "lowest"/"highest" and the observable's meaning for ``<observable>_min``/``_max``
    (``sbp_min``: "lowest systolic blood pressure (mmHg)"); a one-hot column
    (``prior_therapy_True``) is its column's label and the level. Else the name itself."""
    direct = _label(feature, model)
    if direct is not None:
        return direct
    parts = feature.split("_")
    for cut in range(len(parts) - 1, 0, -1):  # the longest labelled column name first
        label = _label("_".join(parts[:cut]), model)
        if label is not None:
            level = "_".join(parts[cut:])
            return f"{label}: {_LEVELS.get(level, level)}"
    return feature


def _label(name: str, model: Model | None) -> str | None:
    if name in FEATURE_LABELS:
        return FEATURE_LABELS[name]
    if model is None:
        return None
    params = {p.name: p for p in model.params}
    if name in params:
        return header(params[name].meaning, params[name].unit)
    observables = {o.name: o for o in model.observables}
    stem, _, end = name.rpartition("_")
    if stem in observables and end in ("min", "max"):
        o = observables[stem]
        return header(f"{'lowest' if end == 'min' else 'highest'} {o.meaning}", o.unit)
    return None


def labelled(importances: pd.DataFrame, model: Model | None = None) -> pd.DataFrame:
    """``importances`` with a ``label`` column after ``feature`` (:func:`feature_label`)."""
    out = importances.drop(columns="label", errors="ignore")
    out.insert(out.columns.get_loc("feature") + 1, "label",
               [feature_label(str(f), model) for f in out["feature"]])
    return out


@dataclass(frozen=True)
class BiomarkerResult:
    """Cross-validated discrimination of responders by a feature table.

    Attributes:
        model: ``"logistic"`` or ``"forest"``.
        features: names of the input columns, in input order.
        auc: mean over repeats of the out-of-fold ROC AUC.
        auc_low, auc_high: 95% stratified-bootstrap percentile interval of ``auc``.
        p_value: permutation p-value of the first repeat's AUC against chance (``nan`` when
            ``n_permutations`` was 0).
        importances: one row per (encoded) feature, best first, with columns ``feature``,
            ``importance``, ``sd`` (over cross-validation fits) and ``rank`` (1 = best). For
            the logistic model ``importance`` is the standardised coefficient (ranked by
            magnitude, sign kept); for the forest, the mean drop in held-out AUC.
        importance_kind: what ``importance`` measures, in words.
        repeat_aucs: the out-of-fold AUC of each repeat.
        predictions: out-of-fold predicted probability of response, shape
            ``(repeats, n_patients)``.
        response: the response as a boolean array, aligned with ``predictions``.
        index: the patients (index of the input), aligned with ``response``.
        boot_aucs: the bootstrap AUCs behind the interval (for paired comparisons).
        null_aucs: the permutation AUCs behind ``p_value``.
        folds, repeats, seed: the cross-validation settings.
    """

    model: ModelKind
    features: tuple[str, ...]
    auc: float
    auc_low: float
    auc_high: float
    p_value: float
    importances: pd.DataFrame
    importance_kind: str
    repeat_aucs: np.ndarray
    predictions: np.ndarray
    response: np.ndarray
    index: pd.Index
    boot_aucs: np.ndarray = field(repr=False)
    null_aucs: np.ndarray = field(repr=False)
    folds: int = 5
    repeats: int = 1
    seed: int = 0

    @property
    def n_patients(self) -> int:
        return int(self.response.size)

    @property
    def n_responders(self) -> int:
        return int(self.response.sum())

    def summary(self) -> str:
        """One line: AUC (95% CI), permutation p, best feature."""
        names = self.importances.get("label", self.importances["feature"])
        top = names.iloc[0] if len(self.importances) else "-"
        return (f"{self.model}: AUC {self.auc:.3f} (95% CI {self.auc_low:.3f}-"
                f"{self.auc_high:.3f}), permutation p = {self.p_value:.3g}, "
                f"{self.n_responders}/{self.n_patients} responders, top feature {top}")

    def roc(self, points: int = 101) -> pd.DataFrame:
        """Mean ROC curve over repeats on a regular false-positive-rate grid.

        Returns:
            columns ``fpr``, ``tpr`` (mean), ``tpr_low`` and ``tpr_high`` (range over repeats).
        """
        grid = np.linspace(0.0, 1.0, points)
        curves = []
        for scores in self.predictions:
            fpr, tpr, _ = roc_curve(self.response, scores)
            curves.append(np.interp(grid, fpr, tpr))
        stack = np.vstack(curves)
        stack[:, 0] = 0.0
        return pd.DataFrame({"fpr": grid, "tpr": stack.mean(axis=0),
                             "tpr_low": stack.min(axis=0), "tpr_high": stack.max(axis=0)})


# --------------------------------------------------------------------------- validation


def _is_categorical(s: pd.Series) -> bool:
    return bool(isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(s)
                or pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s))


def _check_inputs(features: pd.DataFrame, response: pd.Series, folds: int
                  ) -> tuple[pd.DataFrame, np.ndarray]:
    if not isinstance(features, pd.DataFrame):
        raise TypeError(f"features must be a DataFrame, got {type(features).__name__}")
    if features.shape[1] == 0:
        raise AnalysisError("features has no columns: nothing to predict from")
    if features.columns.duplicated().any():
        dup = sorted(map(str, features.columns[features.columns.duplicated()]))
        raise AnalysisError(f"duplicate feature columns: {', '.join(dup)}")
    response = pd.Series(response)
    if len(response) != len(features):
        raise AnalysisError(f"response has {len(response)} rows but features has {len(features)}")
    if not response.index.equals(features.index):
        raise AnalysisError("response and features must share the same index (one row per "
                            "patient, same order)")
    if response.isna().any():
        raise AnalysisError(f"response has {int(response.isna().sum())} missing values")
    values = set(pd.unique(response))
    if not values <= {True, False}:
        raise AnalysisError(f"response must be boolean (responder or not), got values "
                            f"{sorted(map(repr, values))[:5]}")
    y = response.to_numpy().astype(bool)
    missing = [str(c) for c in features.columns if features[c].isna().any()]
    if missing:
        raise AnalysisError(f"features contain missing values in: {', '.join(missing)} "
                            "(impute or drop those patients first)")
    for c in features.columns:
        s = features[c]
        if not (_is_categorical(s) or pd.api.types.is_numeric_dtype(s)):
            raise TypeError(f"feature {c!r} has unsupported dtype {s.dtype}")
        if pd.api.types.is_numeric_dtype(s) and not _is_categorical(s) and \
                not np.isfinite(s.to_numpy(float)).all():
            raise AnalysisError(f"feature {c!r} has infinite values")
    constant = [str(c) for c in features.columns if features[c].nunique(dropna=False) < 2]
    if constant:
        raise AnalysisError(f"constant features carry no information: {', '.join(constant)}")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    for what, n in (("responders", n_pos), ("non-responders", n_neg)):
        if n < folds:
            raise AnalysisError(f"too few {what} ({n}) for {folds}-fold stratified "
                                f"cross-validation: need at least {folds}")
    return features, y


def _preprocessor(features: pd.DataFrame) -> ColumnTransformer:
    categorical = [c for c in features.columns if _is_categorical(features[c])]
    numeric = [c for c in features.columns if c not in categorical]
    return ColumnTransformer(
        [("numeric", StandardScaler(), numeric),
         ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
          categorical)],
        verbose_feature_names_out=False)


def _classifier(model: ModelKind, random_state: int, n_jobs: int | None) -> Any:
    if model == "logistic":
        return LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=200)
    return RandomForestClassifier(n_estimators=200, min_samples_leaf=5,
                                  random_state=random_state, n_jobs=n_jobs)


@dataclass(frozen=True)
class _Fold:
    """One train/test split with its preprocessing fitted on the training rows only."""

    train: np.ndarray
    test: np.ndarray
    x_train: np.ndarray
    x_test: np.ndarray
    names: tuple[str, ...]
    blocks: dict[str, np.ndarray]  # input column -> its encoded columns


def _folds(x: pd.DataFrame, y: np.ndarray, folds: int, split_seed: int) -> list[_Fold]:
    cv = StratifiedKFold(folds, shuffle=True, random_state=split_seed)
    out = []
    for train, test in cv.split(np.zeros(y.size), y):
        pre = _preprocessor(x).fit(x.iloc[train])
        numeric, categorical = pre.transformers_[0][2], pre.transformers_[1][2]
        sizes = [1] * len(numeric)
        if len(categorical):
            sizes += [len(c) for c in pre.named_transformers_["categorical"].categories_]
        ends = np.cumsum(sizes)
        blocks = {str(c): np.arange(e - s, e)
                  for c, s, e in zip([*numeric, *categorical], sizes, ends)}
        out.append(_Fold(train, test, pre.transform(x.iloc[train]), pre.transform(x.iloc[test]),
                         tuple(map(str, pre.get_feature_names_out())), blocks))
    return out


def _fit_predict(clf: Any, fold: _Fold, y: np.ndarray) -> tuple[Any, np.ndarray]:
    """Fit a fresh copy on the training rows; probability of response on the test rows."""
    y_train = y[fold.train]
    if np.unique(y_train).size < 2:  # possible only under a permuted response
        return None, np.full(fold.test.size, float(y_train.mean()))
    fitted = clone(clf).fit(fold.x_train, y_train)
    return fitted, fitted.predict_proba(fold.x_test)[:, 1]


# --------------------------------------------------------------------------- statistics


def _auc(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ROC AUC along the last axis by the Mann-Whitney rank sum (ties count one half)."""
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    ranks = rankdata(scores, axis=-1)
    return np.asarray((ranks[..., y].sum(axis=-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _oof(clf: Any, folds: list[_Fold], y: np.ndarray, on_fold: Any = None) -> np.ndarray:
    """Out-of-fold probabilities of response; ``on_fold(fitted, fold)`` after each fit."""
    out = np.empty(y.size)
    for fold in folds:
        fitted, out[fold.test] = _fit_predict(clf, fold, y)
        if on_fold is not None:
            on_fold(fitted, fold)
    return out


def _permutation_importance(fitted: Any, fold: _Fold, y: np.ndarray, n_repeats: int,
                            rng: np.random.Generator) -> pd.Series:
    """Drop in held-out AUC when one input column (all its encoded columns) is shuffled.

    Scaling and one-hot encoding act row by row, so shuffling the rows of a column's encoded
    block equals encoding the shuffled column.
    """
    y_test = y[fold.test]
    base = float(_auc(fitted.predict_proba(fold.x_test)[:, 1], y_test))
    drops = {}
    for name, cols in fold.blocks.items():
        scores = []
        for _ in range(n_repeats):
            shuffled = fold.x_test.copy()
            shuffled[:, cols] = shuffled[rng.permutation(fold.test.size)][:, cols]
            scores.append(float(_auc(fitted.predict_proba(shuffled)[:, 1], y_test)))
        drops[name] = base - float(np.mean(scores))
    return pd.Series(drops)


def _bootstrap(predictions: np.ndarray, y: np.ndarray, n_boot: int,
               rng: np.random.Generator) -> np.ndarray:
    """Mean-over-repeats AUC of ``n_boot`` class-stratified resamples of the patients."""
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    y_boot = np.r_[np.ones(pos.size, bool), np.zeros(neg.size, bool)]
    out = np.empty(n_boot)
    for start in range(0, n_boot, _BOOT_CHUNK):
        b = min(_BOOT_CHUNK, n_boot - start)
        idx = np.hstack([rng.choice(pos, (b, pos.size)), rng.choice(neg, (b, neg.size))])
        out[start:start + b] = _auc(predictions[:, idx], y_boot).mean(axis=0)
    return out


def biomarker_analysis(features: pd.DataFrame, response: pd.Series, *,
                       model: ModelKind = "logistic", folds: int = 5, repeats: int = 5,
                       seed: int = 0, n_boot: int = 2000, n_permutations: int = 200,
                       n_jobs: int | None = None,
                       progress: Progress | None = None) -> BiomarkerResult:
    """Cross-validated ROC AUC, its bootstrap interval, a permutation test and importances.

    Main arguments:
        features: one row per patient; numeric columns are standardised, categorical ones
            (object, category, string, bool) one-hot encoded, both fitted on the training
            rows of each fold only.
        response: boolean responder status with the same index as ``features``.

    Other arguments:
        model: ``"logistic"`` (L2-penalised, C = 1, Newton-Cholesky solver) or ``"forest"``
            (random forest, 200 trees, at least 5 patients per leaf).
        folds: folds of the stratified cross-validation (>= 2).
        repeats: repetitions of the cross-validation with fresh shuffles (>= 1).
        seed: seeds the splits, the bootstrap, the permutations and the forest.
        n_boot: bootstrap resamples for the 95% interval (>= 10).
        n_permutations: permutations of the response for the p-value, each refitting the
            first repeat's folds with the splits held fixed (0 skips the test; p < 0.01 needs
            at least 100). Costly for the forest.
        n_jobs: parallel jobs for the forest.
        progress: called as ``progress(done, total)`` after each classifier fit, ``total =
            folds * (repeats + n_permutations)`` (the cross-validation, then the
            permutation test).

    Returns:
        a :class:`BiomarkerResult`.

    Raises:
        ValueError: on missing or infinite values, constant features, a non-boolean response,
            mismatched indices, fewer responders or non-responders than ``folds``, or bad
            settings.
        TypeError: on a feature of unsupported dtype.
    """
    if folds < 2:
        raise AnalysisError(f"folds must be >= 2, got {folds}")
    if repeats < 1:
        raise AnalysisError(f"repeats must be >= 1, got {repeats}")
    if n_boot < 10:
        raise AnalysisError(f"n_boot must be >= 10, got {n_boot}")
    if n_permutations < 0:
        raise AnalysisError(f"n_permutations must be >= 0, got {n_permutations}")
    if model not in ("logistic", "forest"):
        raise AnalysisError(f"model must be 'logistic' or 'forest', got {model!r}")
    x, y = _check_inputs(features, response, folds)
    ss_cv, ss_boot, ss_perm, ss_model = np.random.SeedSequence(seed).spawn(4)
    split_seeds = [int(s) for s in ss_cv.generate_state(repeats)]
    model_seed = int(ss_model.generate_state(1)[0])
    importance_rng = np.random.default_rng(ss_model)
    clf = _classifier(model, model_seed, n_jobs)

    per_fit: list[pd.Series] = []
    total = folds * (repeats + n_permutations)
    fits = [0]

    def tick(*_: Any) -> None:
        fits[0] += 1
        if progress is not None:
            progress(fits[0], total)

    def collect(fitted: Any, fold: _Fold) -> None:
        if model == "logistic":
            per_fit.append(pd.Series(fitted.coef_[0], index=fold.names))
        else:
            per_fit.append(_permutation_importance(fitted, fold, y, 3, importance_rng))
        tick()

    splits = [_folds(x, y, folds, s) for s in split_seeds]
    predictions = np.vstack([_oof(clf, f, y, collect) for f in splits])
    repeat_aucs = _auc(predictions, y)
    auc = float(repeat_aucs.mean())
    boot = _bootstrap(predictions, y, n_boot, np.random.default_rng(ss_boot))
    low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5]))

    perm_rng = np.random.default_rng(ss_perm)
    null = np.empty(n_permutations)
    for i in range(n_permutations):
        y_perm = perm_rng.permutation(y)
        null[i] = float(_auc(_oof(clf, splits[0], y_perm, tick), y_perm))
    p_value = (float((1 + np.sum(null >= repeat_aucs[0])) / (1 + n_permutations))
               if n_permutations else float("nan"))

    table = pd.concat(per_fit, axis=1).fillna(0.0)  # a category unseen in a fold: 0
    imp = pd.DataFrame({"feature": table.index.astype(str),
                        "importance": table.mean(axis=1).to_numpy(),
                        "sd": table.std(axis=1, ddof=1).to_numpy() if table.shape[1] > 1
                        else np.nan})
    key = imp["importance"].abs() if model == "logistic" else imp["importance"]
    imp = imp.loc[key.sort_values(ascending=False, kind="stable").index].reset_index(drop=True)
    imp["rank"] = np.arange(1, len(imp) + 1)
    kind = ("standardised logistic coefficient (log-odds per SD)" if model == "logistic"
            else "permutation importance (drop in held-out AUC)")
    return BiomarkerResult(
        model=model, features=tuple(map(str, x.columns)), auc=auc, auc_low=low, auc_high=high,
        p_value=p_value, importances=imp, importance_kind=kind, repeat_aucs=repeat_aucs,
        predictions=predictions, response=y, index=x.index, boot_aucs=boot, null_aucs=null,
        folds=folds, repeats=repeats, seed=seed)



def compare_feature_sets(sets: Mapping[str, pd.DataFrame], response: pd.Series, *,
                         progress: Progress | None = None, **options: Any) -> pd.DataFrame:
    """Cross-validated AUC of each feature set, with paired differences from the first.

    All sets are analysed with the same seed, hence the same cross-validation splits and the
    same bootstrap resamples of the patients, so ``delta_*`` (this set's AUC minus the first
    set's, with a paired 95% bootstrap interval) answers whether adding features helps.

    Main arguments:
        sets: name -> feature table, each indexed like ``response``; the first is the
            reference (e.g. ``{"baseline": ..., "baseline + on-treatment": ...}``).
        response: boolean responder status.

    Other arguments:
        progress: called as ``progress(done, total)`` after each classifier fit, over all
            sets: ``total = len(sets) * folds * (repeats + n_permutations)``.
        options: passed to :func:`biomarker_analysis` (``model``, ``folds``, ``seed``, ...).

    Returns:
        one row per set (index ``set``) with ``n_features``, ``auc``, ``auc_low``,
        ``auc_high``, ``auc_ci`` (text), ``p_value``, ``top_feature``, ``delta_auc``,
        ``delta_low``, ``delta_high``.

    Raises:
        ValueError: when ``sets`` is empty, or as :func:`biomarker_analysis`.
    """
    if not sets:
        raise AnalysisError("no feature sets to compare")
    results = {}
    for k, (name, frame) in enumerate(sets.items()):
        shifted = None if progress is None else _shifted(progress, k, len(sets))
        results[name] = biomarker_analysis(frame, response, progress=shifted, **options)
    ref = next(iter(results.values()))
    rows = []
    for name, r in results.items():
        diff = r.boot_aucs - ref.boot_aucs
        d_low, d_high = (float(v) for v in np.percentile(diff, [2.5, 97.5]))
        rows.append({
            "set": name, "n_features": len(r.features), "auc": r.auc, "auc_low": r.auc_low,
            "auc_high": r.auc_high,
            "auc_ci": f"{r.auc:.3f} ({r.auc_low:.3f}-{r.auc_high:.3f})",
            "p_value": r.p_value, "top_feature": r.importances["feature"].iloc[0],
            "delta_auc": r.auc - ref.auc, "delta_low": d_low, "delta_high": d_high,
        })
    return pd.DataFrame(rows).set_index("set")


def _shifted(progress: Progress, k: int, n: int) -> Progress:
    """Progress of the ``k``-th of ``n`` equal analyses as progress of all of them."""
    return lambda done, total: progress(k * total + done, n * total)


def trial_features(patients: pd.DataFrame, endpoints: pd.DataFrame, *,
                   baseline: Sequence[str] | None = None,
                   on_treatment: Sequence[str] = (),
                   evaluable_only: bool = False) -> tuple[pd.DataFrame, pd.Series]:
    """Join a trial's tables by patient into (features, responder) for the analysis.

    Main arguments:
        patients: the trial's ``patients`` table (covariates and sampled parameters).
        endpoints: the trial's ``endpoints`` table (``patient``, ``bor``, ...).

    Other arguments:
        baseline: columns of ``patients`` to use; by default every numeric, non-constant
            column except bookkeeping (``patient``, ``arm``, ``status``, ``message``).
        on_treatment: further columns, looked up in ``endpoints`` (e.g. ``sbp_min``,
            ``creatinine_max``, ``doses_given``) or, failing that, in ``patients``.
        evaluable_only: drop patients with ``bor == "NE"``; by default they count as
            non-responders (intention to treat).

    Returns:
        ``features`` indexed by patient, and ``response`` (named ``responder``, True when
        ``bor`` is CR or PR) with the same index. Patients without endpoints (failed
        simulations) are left out.

    Raises:
        ValueError: on a missing column, duplicated patients or no patients in common.
    """
    for name, table, need in (("patients", patients, ["patient"]),
                              ("endpoints", endpoints, ["patient", "bor"])):
        absent = [c for c in need if c not in table.columns]
        if absent:
            raise AnalysisError(f"{name} lacks column(s) {', '.join(absent)}")
        if table["patient"].duplicated().any():
            raise AnalysisError(f"{name} has duplicated patients; analyse one arm at a time")
    if baseline is None:
        baseline = [c for c in patients.columns if c not in _BOOKKEEPING
                    and pd.api.types.is_numeric_dtype(patients[c])
                    and not pd.api.types.is_bool_dtype(patients[c])
                    and patients[c].nunique() > 1]
    absent = [c for c in baseline if c not in patients.columns]
    if absent:
        raise AnalysisError(f"baseline column(s) not in patients: {', '.join(absent)}")
    absent = [c for c in on_treatment if c not in endpoints.columns and c not in patients]
    if absent:
        raise AnalysisError(f"on-treatment column(s) in neither table: {', '.join(absent)}")
    from_end = [c for c in on_treatment if c in endpoints.columns and c not in baseline]
    from_pat = [c for c in on_treatment if c not in endpoints.columns and c not in baseline]
    left = patients[["patient", *baseline, *from_pat]]
    right = endpoints[["patient", "bor", *[c for c in from_end if c not in left.columns]]]
    joined = left.merge(right, on="patient", how="inner", validate="one_to_one")
    if joined.empty:
        raise AnalysisError("patients and endpoints have no patient in common")
    if evaluable_only:
        joined = joined[joined["bor"] != "NE"]
    joined = joined.set_index("patient")
    columns = list(dict.fromkeys([*baseline, *on_treatment]))
    response = is_responder(joined["bor"]).rename("responder")
    return joined[columns], response


# --------------------------------------------------------------------------- plots


def _figure(figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _finish(fig: Figure, path: PathLike | None, dpi: float) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig


def plot_roc(result: BiomarkerResult, path: PathLike | None = None, *,
             title: str | None = None, figsize: tuple[float, float] = (5.0, 5.0),
             dpi: float = 120) -> Figure:
    """Mean cross-validated ROC curve (band: range over repeats) against the chance line.

    Returns:
        the figure; saved to ``path`` when given (format from the suffix).
    """
    fig, ax = _figure(figsize)
    roc = result.roc()
    ax.fill_between(roc["fpr"], roc["tpr_low"], roc["tpr_high"], color="tab:blue", alpha=0.2,
                    linewidth=0)
    ax.plot(roc["fpr"], roc["tpr"], color="tab:blue",
            label=f"AUC {result.auc:.2f} ({result.auc_low:.2f}-{result.auc_high:.2f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate",
           ylabel="true positive rate",
           title=title or f"{result.model}, {result.folds}-fold CV x {result.repeats}")
    ax.set_aspect("equal")
    ax.legend(loc="lower right", frameon=False)
    return _finish(fig, path, dpi)


def plot_importance(result: BiomarkerResult, path: PathLike | None = None, *,
                    top: int = 20, title: str | None = None,
                    figsize: tuple[float, float] | None = None, dpi: float = 120) -> Figure:
    """Horizontal bars of the ``top`` ranked importances, best at the top, with +-1 SD.

    Returns:
        the figure; saved to ``path`` when given (format from the suffix).
    """
    imp = result.importances.head(top).iloc[::-1]
    names = imp["label"] if "label" in imp.columns else imp["feature"]
    fig, ax = _figure(figsize or (7.5, 1.0 + 0.35 * len(imp)))
    colors = np.where(imp["importance"] >= 0, "tab:green", "tab:red")
    ax.barh(names, imp["importance"], xerr=imp["sd"].fillna(0.0), color=colors,
            error_kw={"elinewidth": 0.8, "ecolor": "black"})
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set(xlabel=result.importance_kind, title=title or f"{result.model}: feature importance")
    return _finish(fig, path, dpi)
