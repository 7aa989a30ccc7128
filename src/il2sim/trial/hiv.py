"""Virtual HIV trials: people with HIV on antiretroviral therapy, CD4 and viral-load endpoints.

Population [assumptions marked]: adults on suppressive antiretroviral therapy whose CD4 count
at entry is drawn log-normal around the trial's median, truncated at its entry criterion
(ESPRIT: CD4 at least 300 cells/uL, median 457; INSIGHT-ESPRIT Study Group, N Engl J Med
2009;361:1548). The spread (sigma 0.3 on the log scale) is an [assumption]. Each patient
enters at the steady state of :mod:`il2sim.model.library.il2_hiv` on therapy
[assumption: stable on ART], at their own CD4 count: the CD4 carrying capacity solves the
uninfected steady state

    s - mu_T*T + r*T*(1 - T/T_max) = 0   =>   T_max = r*T^2 / (s + (r - mu_T)*T)

so a control patient's CD4 stays at baseline and IL-2's effect is the difference between arms.
Infected cells and virus start near zero (suppressed viral load, [assumption]).

Endpoints (one row per patient): baseline CD4, the time-averaged CD4 over follow-up
(``cd4_mean``: the trapezoid mean of the CD4 count from day 0 to the end of follow-up, the
"average over follow-up" of ESPRIT's CD4 difference), its change from baseline, the CD4 at
the end, the area above baseline to week 1, the highest viral load, and doses and cycles
given. The trial-level CD4 difference to control is the difference of the arms' mean
``cd4_mean`` (:mod:`il2sim.validation.endpoints`), compared between arms with Welch's
interval (:func:`compare_hiv_arms`).

A trial (``indication = "hiv"``, :func:`simulate_hiv_chunk`) simulates each patient on a
daily grid under the arm's protocol (CD4-driven cycles: ``retreat_if = "cd4 < 1000"``),
with visits (CD4 and viral load) every :data:`VISIT_DAYS` days stored as the run's
``visits``. ESPRIT's clinical endpoints (opportunistic disease, death) are not
modelled: no mortality, no tumour, no scans.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import NDArray
from scipy import optimize, stats

from il2sim.engine.simulate import simulate
from il2sim.model.spec import Model
from il2sim.population import LogNormal, Normal, Population
from il2sim.protocol import ProtocolDecider, Scans
from il2sim.trial.comparison import COMPARISON_COLUMNS, arms_against
from il2sim.trial.errors import TrialError
from il2sim.trial.plots import _figure, _finish
from il2sim.trial.statistics import SUMMARY_VALUE_COLUMNS

if TYPE_CHECKING:
    from il2sim.store import TrialStore
    from il2sim.trial.runner import TrialSpec

__all__ = ["CD4_AXES", "CD4_DIFFERENCE", "HIV", "HIV_ENTRY_CD4", "HIV_MODEL", "VISIT_DAYS",
           "CD4Series", "cd4_series", "cd4_title", "compare_hiv_arms", "hiv_endpoints",
           "hiv_initial", "hiv_population", "hiv_summary", "hiv_values", "is_hiv", "plot_cd4",
           "simulate_hiv_chunk", "visit_means"]

HIV = "hiv"
"""The indication of HIV trials (model ``il2_hiv``)."""

HIV_MODEL = "il2_hiv"
"""The model of HIV trials."""

VISIT_DAYS = 28.0
"""Visits (CD4 count and viral load) every 4 weeks [assumption: ESPRIT's schedule of CD4
counts is not reproduced; the stored visits only feed figures]."""

CD4_DIFFERENCE = "CD4 mean difference"
"""The measure of :func:`compare_hiv_arms`: difference in time-averaged CD4, cells/uL."""

HIV_ENTRY_CD4 = (457.0, 300.0)
"""ESPRIT: median CD4 at entry and the entry criterion, cells/uL (N Engl J Med 2009;361:1548)."""

_SUPPRESSED = {"T1": 1e-3, "T2": 1e-4, "V": 1e-3, "Te": 1e-3}
"""Latent and active infected cells, virus and IL-2-expanded cells at entry, per mm3
[assumption: suppressed on therapy, no prior IL-2]."""


def hiv_population(median_cd4: float = HIV_ENTRY_CD4[0],
                   minimum_cd4: float = HIV_ENTRY_CD4[1], sigma: float = 0.3) -> Population:
    """People with HIV on therapy: weight, height and CD4 at entry (``baseline_cd4``): a
    log-normal truncated at ``minimum_cd4`` whose median *after* truncation is
    ``median_cd4`` (the trial's reported median is that of the patients it enrolled)."""
    def gap(m: float) -> float:
        """Phi(z(median)) minus the truncated median's CDF level (Phi(z(minimum)) + 1)/2."""
        def z(x: float) -> float:
            return (math.log(x) - math.log(m)) / sigma
        return float(stats.norm.cdf(z(median_cd4))
                     - 0.5 * (1.0 + stats.norm.cdf(z(minimum_cd4))))

    untruncated = float(optimize.brentq(gap, 0.5 * minimum_cd4, median_cd4))
    return Population(
        params={}, tumour_state=None, name="HIV on antiretroviral therapy",
        covariates={"weight": Normal(75.0, 13.0, (45.0, 150.0)),
                    "height": Normal(172.0, 9.0, (150.0, 200.0)),
                    "baseline_cd4": LogNormal(untruncated, sigma, (minimum_cd4, 3000.0))})


def hiv_initial(model: Model, patients: pd.DataFrame) -> tuple[
        dict[str, NDArray[np.float64]], dict[str, NDArray[np.float64]]]:
    """Per-patient parameters (``T_max``) and initial states putting each patient at the
    steady state of the model on therapy at their baseline CD4 count."""
    p = {q.name: q.value for q in model.params}
    cd4 = patients["baseline_cd4"].to_numpy(float)
    t_max = p["r"] * cd4**2 / (p["s"] + (p["r"] - p["mu_T"]) * cd4)
    n = len(cd4)
    initial = {"T": cd4 - sum(_SUPPRESSED[k] for k in ("T1", "T2", "Te"))}
    initial.update({k: np.full(n, v) for k, v in _SUPPRESSED.items()})
    return {"T_max": t_max}, initial


def hiv_endpoints(patients: pd.DataFrame, days: NDArray[np.float64],
                  cd4: NDArray[np.float64], viral_load: NDArray[np.float64],
                  doses: pd.DataFrame, cycles_of: Mapping[int, int]) -> pd.DataFrame:
    """Endpoints of HIV patients from CD4 and viral load on the grid ``days`` (N, n_days).

    ``cycles_of``: the IL-2 cycle of every dose id (for the cycles given)."""
    span = days[-1] - days[0]
    mean = np.trapezoid(cd4, days, axis=1) / span if span > 0 else cd4[:, 0]
    baseline = patients["baseline_cd4"].to_numpy(float)
    week = days <= 7.0
    above = np.trapezoid(np.maximum(cd4[:, week] - baseline[:, None], 0.0), days[week],
                         axis=1) if week.sum() > 1 else np.zeros(len(baseline))
    given = doses[doses["status"] == "given"]
    n_given = given["patient"].value_counts()
    cycles = given.assign(cycle=[cycles_of.get(int(d), 0) for d in given["dose_id"]]) \
        .groupby("patient")["cycle"].nunique() if len(given) else pd.Series(dtype="int64")
    ids = patients["patient"].to_numpy()
    return pd.DataFrame({
        "patient": ids,
        "cd4_baseline": baseline,
        "cd4_mean": mean,
        "cd4_mean_change": mean - baseline,
        "cd4_end": cd4[:, -1],
        "cd4_auc_week1": above,
        "viral_load_max": viral_load.max(axis=1),
        "doses_given": [int(n_given.get(i, 0)) for i in ids],
        "cycles_given": [int(cycles.get(i, 0)) for i in ids],
    })


def is_hiv(endpoints: pd.DataFrame) -> bool:
    """Whether a trial's endpoints are an HIV trial's (:func:`hiv_endpoints`)."""
    return "cd4_mean" in endpoints.columns


def _cycles_of(doses: pd.DataFrame) -> dict[int, int]:
    """Dose id -> the cycle's number counted over courses (1, 2, ...) in time order."""
    if doses.empty:
        return {}
    first = doses.groupby(["course", "cycle"])["time"].min().sort_values()
    number = {key: k for k, key in enumerate(first.index, start=1)}
    pairs = doses.drop_duplicates("dose_id")
    return {int(d): number[(c, y)] for d, c, y in zip(pairs["dose_id"], pairs["course"],
                                                      pairs["cycle"])}


def simulate_hiv_chunk(spec: TrialSpec, model: Model,
                       patients: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Simulate and score one chunk of an HIV trial; returns the frames to store.

    Each patient starts at the steady state on therapy (:func:`hiv_initial`) and follows the
    arm's protocol (the decider as in tumour trials, without scans), on a daily output grid
    to the end of follow-up. Frames: ``patients`` (with ``status``, ``message``), ``doses``
    (the dose log, every scheduled dose given or not and why), ``visits`` (every
    :data:`VISIT_DAYS` days: ``day``, ``cd4``, ``viral_load``) and ``endpoints``
    (:func:`hiv_endpoints`, with ``arm``)."""
    if model.name != HIV_MODEL:
        raise TrialError(f"trial {spec.name!r}: an HIV trial needs model {HIV_MODEL!r}, "
                         f"not {model.name!r}")
    protocol = spec.treatment()
    regimen = protocol.regimen()
    days = np.arange(0.0, math.floor(spec.horizon_days) + 1.0)
    params, initial = hiv_initial(model, patients)
    params.update({c: patients[c].to_numpy(float) for c in patients.columns
                   if c in model.param_names})
    covariates = {c: patients[c].to_numpy(float) for c in ("weight", "height", "bsa")
                  if c in patients}
    ids = patients["patient"].to_numpy()
    result = simulate(model, regimen if regimen.administrations else None, params, days,
                      covariates=covariates, initial=initial, backend=spec.backend,
                      rtol=spec.rtol, atol=spec.atol, on_failure="record",
                      decider=ProtocolDecider(protocol, scans=Scans(
                          ids, np.ones(len(ids), dtype=np.int64), spec.seed)))
    ok = result.ok
    doses = result.dose_log.copy()
    doses["patient"] = ids[doses["patient"].to_numpy()]
    cd4, viral = result["cd4"], result["viral_load"]
    endpoints = hiv_endpoints(patients[ok].reset_index(drop=True), days, cd4[ok], viral[ok],
                              doses[doses["patient"].isin(ids[ok])], _cycles_of(doses))
    endpoints.insert(1, "arm", spec.arm or spec.name)
    visit = np.isclose(np.mod(days, VISIT_DAYS), 0.0)
    n_visits = int(visit.sum())
    visits = pd.DataFrame({
        "patient": np.repeat(ids[ok], n_visits),
        "day": np.tile(days[visit], int(ok.sum())),
        "cd4": cd4[ok][:, visit].ravel(),
        "viral_load": viral[ok][:, visit].ravel(),
    })
    frame = patients.copy()
    frame["status"] = result.status
    frame["message"] = list(result.message)
    return {"patients": frame, "doses": doses, "visits": visits, "endpoints": endpoints}


def _mean_interval(x: NDArray[np.float64], confidence: float) -> tuple[float, float, float]:
    """Mean and its t interval ``mean +- t_{n-1} s / sqrt(n)``."""
    n = len(x)
    mean = float(np.mean(x)) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * np.std(x, ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def hiv_summary(endpoints: pd.DataFrame, by: str | None = "arm", *,
                confidence: float = 0.95) -> pd.DataFrame:
    """The headline numbers of an HIV trial, formatted (one column per group): patients,
    mean CD4 at baseline, the time-averaged CD4 and its change from baseline (mean, t
    interval), CD4 at the end, the area above baseline to week 1, IL-2 cycles and doses given
    (median, range) and the highest viral load (median, largest). The numbers unformatted:
    :func:`hiv_values`."""
    return _hiv_summary(endpoints, by, confidence)[0]


def hiv_values(endpoints: pd.DataFrame, by: str | None = "arm", *,
               confidence: float = 0.95) -> pd.DataFrame:
    """The numbers of :func:`hiv_summary`, unformatted, one row per group and number, with
    the columns of :func:`~il2sim.trial.statistics.summary_values` (group, measure,
    estimate, lower, upper, interval: ``"95% CI"``, ``"range"`` or ``""``)."""
    return _hiv_summary(endpoints, by, confidence)[1]


def _hiv_summary(endpoints: pd.DataFrame, by: str | None,
                 confidence: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`hiv_summary` and :func:`hiv_values`, from one computation."""
    level = f"{100 * confidence:g}% CI"
    groups = [(str(k), g) for k, g in endpoints.groupby(by, sort=False)] \
        if by is not None and by in endpoints else [("all", endpoints)]
    columns: dict[str, dict[str, str]] = {}
    values: list[tuple[str, str, float, float, float, str]] = []
    for name, g in groups:
        def put(measure: str, estimate: float, lower: float = math.nan,
                upper: float = math.nan, interval: str = "", name: str = name) -> None:
            values.append((name, measure, float(estimate), float(lower), float(upper),
                           interval))

        col = {"patients": str(len(g)),
               "CD4 at baseline, mean, cells/uL": f"{g['cd4_baseline'].mean():.0f}"}
        put("patients", len(g))
        put("CD4 at baseline, mean, cells/uL", g["cd4_baseline"].mean())
        for label, column in (("time-averaged CD4", "cd4_mean"),
                              ("time-averaged CD4 change", "cd4_mean_change")):
            m, lo, hi = _mean_interval(g[column].to_numpy(float), confidence)
            col[f"{label}, mean, cells/uL ({level})"] = f"{m:.0f} ({lo:.0f} to {hi:.0f})"
            put(f"{label}, mean, cells/uL", m, lo, hi, level)
        col["CD4 at the end, mean, cells/uL"] = f"{g['cd4_end'].mean():.0f}"
        col["CD4 above baseline to week 1, mean, cell-days/uL"] = \
            f"{g['cd4_auc_week1'].mean():.0f}"
        put("CD4 at the end, mean, cells/uL", g["cd4_end"].mean())
        put("CD4 above baseline to week 1, mean, cell-days/uL", g["cd4_auc_week1"].mean())
        for label, column in (("IL-2 cycles given", "cycles_given"),
                              ("IL-2 doses given", "doses_given")):
            x = g[column]
            col[f"{label}, median (range)"] = f"{x.median():g} ({x.min()}-{x.max()})"
            put(f"{label}, median", x.median(), x.min(), x.max(), "range")
        vl = g["viral_load_max"]
        col["highest viral load, median (largest), copies/mL"] = \
            f"{vl.median():.3g} ({vl.max():.3g})"
        put("highest viral load, median, copies/mL", vl.median(), vl.min(), vl.max(), "range")
        columns[name] = col
    out = pd.DataFrame(columns)
    out.index.name = "measure"
    group = by if by is not None else "group"
    return out, pd.DataFrame(values, columns=[group, *SUMMARY_VALUE_COLUMNS])


def compare_hiv_arms(endpoints: pd.DataFrame, control: str, *, by: str = "arm",
                     paired: bool = False, confidence: float = 0.95) -> pd.DataFrame:
    """Every other arm against ``control``: the difference in mean time-averaged CD4
    (``cd4_mean``), cells/uL, with :data:`~il2sim.trial.comparison.COMPARISON_COLUMNS`.

    Independent arms: Welch's interval ``d +- t_nu sqrt(s1^2/n1 + s0^2/n0)`` with the
    Welch-Satterthwaite degrees of freedom ``nu`` and Welch's t-test (Welch BL, Biometrika
    34:28, 1947). The same patients in both arms (``paired``, crossover): the paired t
    interval and test on patients in both arms."""
    rows: list[dict[str, Any]] = []
    for arm, other, ref in arms_against(endpoints, control, by, "compare_hiv_arms"):
        if paired:
            both = other.merge(ref, on="patient", suffixes=("", "_c"))
            diff = (both["cd4_mean"] - both["cd4_mean_c"]).to_numpy(float)
            est, lo, hi = _mean_interval(diff, confidence)
            p = float(stats.ttest_1samp(diff, 0.0).pvalue) if len(diff) > 1 else math.nan
            n = n0 = len(both)
            test = "paired t"
        else:
            x1, x0 = other["cd4_mean"].to_numpy(float), ref["cd4_mean"].to_numpy(float)
            n, n0 = len(x1), len(x0)
            est = float(x1.mean() - x0.mean())
            if n > 1 and n0 > 1:
                v1, v0 = x1.var(ddof=1) / n, x0.var(ddof=1) / n0
                se = math.sqrt(v1 + v0)
                nu = (v1 + v0) ** 2 / (v1**2 / (n - 1) + v0**2 / (n0 - 1)) if se > 0 \
                    else math.inf
                half = float(stats.t.ppf(0.5 + confidence / 2, nu)) * se
                lo, hi = est - half, est + half
                p = float(stats.ttest_ind(x1, x0, equal_var=False).pvalue) if se > 0 \
                    else (1.0 if est == 0 else 0.0)
            else:
                lo = hi = p = math.nan
            test = "Welch t"
        rows.append({"arm": str(arm), "control": str(control), "measure": CD4_DIFFERENCE,
                     "estimate": est, "lo": lo, "hi": hi, "p_value": p, "test": test,
                     "n": n, "n_control": n0})
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def visit_means(store: TrialStore, runs: Mapping[str, str]) -> pd.DataFrame:
    """Mean CD4 count and viral load at each visit of stored HIV runs (arm -> run id),
    counted in the store: ``arm``, ``day``, ``n``, ``cd4``, ``cd4_sd``, ``viral_load``."""
    frames = []
    for arm, run in runs.items():
        frame = store.query(
            "SELECT day, count(*) AS n, avg(cd4) AS cd4, stddev_samp(cd4) AS cd4_sd, "
            "avg(viral_load) AS viral_load FROM visits WHERE run_id = ? "
            "GROUP BY day ORDER BY day", [run])
        frames.append(frame.assign(arm=arm))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out[["arm", "day", "n", "cd4", "cd4_sd", "viral_load"]]


def plot_cd4(visits: pd.DataFrame, *, confidence: float = 0.95, title: str | None = None,
             path: str | Path | None = None, figsize: tuple[float, float] = (7.0, 4.2),
             dpi: float = 120) -> Figure:
    """Mean CD4 count over time by arm (:func:`visit_means`), with the t interval of each
    visit's mean (``gid = "cd4 <arm>"``)."""
    fig = _figure(figsize)
    ax = fig.add_subplot()
    for s in cd4_series(visits, confidence):
        (line,) = ax.plot(s.years, s.mean, label=s.arm, gid=f"cd4 {s.arm}")
        ax.fill_between(s.years, s.mean - s.half, s.mean + s.half, color=line.get_color(),
                        alpha=0.2, linewidth=0)
    ax.set_xlabel(CD4_AXES[0])
    ax.set_ylabel(CD4_AXES[1])
    ax.grid(color="0.92")
    ax.legend(frameon=False)
    ax.set_title(title or cd4_title(confidence))
    return _finish(fig, path, dpi)


CD4_AXES = ("years from randomisation", "CD4 count, cells/uL (mean)")
"""The axis titles of the CD4 figure (x, y)."""


class CD4Series(NamedTuple):
    """One arm's curve of the CD4 figure: visit times (years), mean CD4 (cells/uL) and the
    half-width of its t interval at each visit (zero where one patient was seen)."""

    arm: str
    years: NDArray[np.float64]
    mean: NDArray[np.float64]
    half: NDArray[np.float64]


def cd4_series(visits: pd.DataFrame, confidence: float = 0.95) -> list[CD4Series]:
    """The curves of the CD4 figure from :func:`visit_means`, one per arm in order: the mean
    with the t interval ``mean +- t_{n-1} s / sqrt(n)`` of each visit; years = days /
    365.25. Drawn by :func:`plot_cd4` (PNG) and the web app's interactive figure."""
    out = []
    for arm, g in visits.groupby("arm", sort=False):
        n = g["n"].to_numpy(float)
        half = np.where(n > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
                        * g["cd4_sd"].fillna(0.0).to_numpy(float) / np.sqrt(n), 0.0)
        out.append(CD4Series(str(arm), g["day"].to_numpy(float) / 365.25,
                             g["cd4"].to_numpy(float), half.astype(float)))
    return out


def cd4_title(confidence: float = 0.95) -> str:
    """The CD4 figure's title."""
    return f"CD4 count by arm ({100 * confidence:g}% intervals of the mean)"
