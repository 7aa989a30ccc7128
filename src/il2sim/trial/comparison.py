"""Comparisons between the arms of a multi-arm trial, with intervals, and a forest plot.

Each arm is compared with the control arm on three measures:

* **ORR difference** ``p_arm - p_control`` with the Newcombe hybrid score interval. For
  independent arms (randomised), method 10 of Newcombe (Stat Med 17:873, 1998): with Wilson
  score intervals ``[l_i, u_i]`` of each proportion,
  ``lo = D - sqrt((p1 - l1)^2 + (u2 - p2)^2)``, ``hi = D + sqrt((u1 - p1)^2 + (p2 - l2)^2)``;
  p-value: Fisher's exact test. For the same patients in both arms (crossover), method 10 of
  Newcombe (Stat Med 17:2635, 1998), which subtracts ``2 phi (p1 - l1)(u2 - p2)`` (and its
  twin) under the square roots, ``phi`` the continuity-corrected correlation of the paired
  2x2 table (see :func:`newcombe_paired_difference`); p-value: the exact McNemar test
  (binomial test of the discordant pairs).
* **OS and PFS hazard ratios** ``arm / control`` from a Cox proportional-hazards model with
  the arm as the only covariate (:class:`lifelines.CoxPHFitter`, Efron ties; Cox DR, J R Stat
  Soc B 34:187, 1972); Wald interval ``exp(b +- z se)``. p-value: the log-rank test
  (:func:`lifelines.statistics.logrank_test`; Peto R, Peto J, J R Stat Soc A 135:185, 1972)
  for independent arms; for crossover the same patients appear in both arms, so the
  variance is the robust sandwich clustered by patient (Lin DY, Wei LJ, JASA 84:1074, 1989)
  and the p-value is its Wald test. A hazard ratio with no event in an arm is not estimable
  (NaN).

Kaplan-Meier curves by arm are :func:`il2sim.trial.plots.plot_km` with ``by="arm"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test
from matplotlib.figure import Figure
from scipy.stats import binomtest, fisher_exact, norm

from il2sim.trial.errors import TrialError
from il2sim.trial.plots import _figure, _finish
from il2sim.trial.statistics import _durations, _require, is_responder

__all__ = ["COMPARISON_COLUMNS", "HAZARDS", "compare_arms", "comparison_table",
           "hazard_ratio", "newcombe_difference", "newcombe_paired_difference",
           "plot_forest", "wilson_interval"]

HAZARDS: dict[str, tuple[str, str]] = {"OS": ("os_d", "os_event"), "PFS": ("pfs_d", "pfs_event")}
"""The survival endpoints compared by hazard ratio: name -> (duration, event) columns."""

COMPARISON_COLUMNS = ("arm", "control", "measure", "estimate", "lo", "hi", "p_value", "test",
                      "n", "n_control")
"""Columns of :func:`compare_arms`."""

ORR = "ORR difference"


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise TrialError(f"confidence must be in (0, 1), got {confidence}")
    return float(norm.ppf(0.5 + confidence / 2.0))


def _counts(**counts: int) -> None:
    for name, k in counts.items():
        if isinstance(k, bool) or int(k) != k or k < 0:
            raise TrialError(f"{name} must be a non-negative integer, got {k!r}")


def wilson_interval(k: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``:
    ``(2k + z^2 -+ z sqrt(z^2 + 4k(n-k)/n)) / (2(n + z^2))`` (Wilson EB, JASA 22:209, 1927).

    Raises:
        ValueError: ``n < 1`` or ``k`` outside ``0..n``.
    """
    _counts(k=k, n=n)
    if n < 1 or k > n:
        raise TrialError(f"need 0 <= k <= n and n >= 1, got k = {k}, n = {n}")
    z = _z(confidence)
    root = z * math.sqrt(z * z + 4.0 * k * (n - k) / n)
    lo = (2.0 * k + z * z - root) / (2.0 * (n + z * z))
    hi = (2.0 * k + z * z + root) / (2.0 * (n + z * z))
    return (0.0 if k == 0 else lo), (1.0 if k == n else hi)


def newcombe_difference(k1: int, n1: int, k2: int, n2: int, *,
                        confidence: float = 0.95) -> tuple[float, float]:
    """Interval of ``k1/n1 - k2/n2`` for independent samples: Newcombe's hybrid score
    interval (method 10 of Newcombe RG, Stat Med 17:873-890, 1998).

    ``D = p1 - p2``; ``lo = D - sqrt((p1 - l1)^2 + (u2 - p2)^2)``,
    ``hi = D + sqrt((u1 - p1)^2 + (p2 - l2)^2)`` with ``[l_i, u_i]`` the Wilson intervals.
    """
    l1, u1 = wilson_interval(k1, n1, confidence=confidence)
    l2, u2 = wilson_interval(k2, n2, confidence=confidence)
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    return (d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2))


def newcombe_paired_difference(a: int, b: int, c: int, d: int, *,
                               confidence: float = 0.95) -> tuple[float, float]:
    """Interval of ``p1 - p2 = (b - c) / n`` for paired binary outcomes (method 10 of
    Newcombe RG, Stat Med 17:2635-2650, 1998).

    Main arguments:
        a: pairs with the event under both treatments; b: under the first only; c: under the
            second only; d: under neither (``n = a + b + c + d``).

    ``p1 = (a + b)/n``, ``p2 = (a + c)/n`` with Wilson intervals ``[l_i, u_i]``;
    ``phi = A'/sqrt((a+b)(c+d)(a+c)(b+d))`` (0 if the product is 0) with ``A = ad - bc``
    corrected for continuity: ``A' = A - n/2`` if ``A > n/2``, 0 if ``0 <= A <= n/2``, ``A``
    if ``A < 0`` (as in Fagerland MW, Lydersen S, Laake P, Statistical Analysis of
    Contingency Tables, CRC 2017, section 8.5);
    ``lo = D - sqrt((p1-l1)^2 - 2 phi (p1-l1)(u2-p2) + (u2-p2)^2)``,
    ``hi = D + sqrt((u1-p1)^2 - 2 phi (u1-p1)(p2-l2) + (p2-l2)^2)``.
    """
    _counts(a=a, b=b, c=c, d=d)
    n = a + b + c + d
    if n < 1:
        raise TrialError("no pairs")
    l1, u1 = wilson_interval(a + b, n, confidence=confidence)
    l2, u2 = wilson_interval(a + c, n, confidence=confidence)
    p1, p2 = (a + b) / n, (a + c) / n
    product = float(a + b) * (c + d) * (a + c) * (b + d)
    cross = float(a * d - b * c)
    corrected = cross - n / 2 if cross > n / 2 else (cross if cross < 0 else 0.0)
    phi = corrected / math.sqrt(product) if product > 0 else 0.0
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
                          + (u2 - p2) ** 2))
    eps = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2)
                        + (p2 - l2) ** 2))
    diff = (b - c) / n
    return max(-1.0, diff - delta), min(1.0, diff + eps)


_MAX_LOG_HR = 700.0
"""Past this log hazard ratio (or interval end) the partial likelihood has run off to
infinity (every event of one arm before every event of the other: monotone likelihood,
Bryson & Johnson, Technometrics 23:381, 1981) and exp() overflows: the ratio is reported
as not estimable."""


def hazard_ratio(time: np.ndarray[Any, Any], event: np.ndarray[Any, Any],
                 treated: np.ndarray[Any, Any], *, cluster: np.ndarray[Any, Any] | None = None,
                 confidence: float = 0.95) -> tuple[float, float, float, float, str]:
    """Cox hazard ratio of ``treated`` (1) against control (0): ``(hr, lo, hi, p, test)``.

    Without ``cluster``: model-based Wald interval, log-rank p-value. With ``cluster`` (one
    id per row; the same patient in both arms): robust sandwich variance clustered by id and
    its Wald p-value. NaN (test "not estimable") when an arm has no event or the partial
    likelihood has no finite maximum.
    """
    z = _z(confidence)
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=bool)
    x = np.asarray(treated, dtype=int)
    if not (e & (x == 1)).any() or not (e & (x == 0)).any():
        return math.nan, math.nan, math.nan, math.nan, "not estimable (an arm has no event)"
    frame = pd.DataFrame({"t": t, "e": e, "treated": x})
    fitter = CoxPHFitter(alpha=1.0 - confidence)
    if cluster is None:
        fitter.fit(frame, "t", "e")
        p = float(logrank_test(t[x == 1], t[x == 0], e[x == 1], e[x == 0]).p_value)
        test = "log-rank"
    else:
        fitter.fit(frame.assign(id=np.asarray(cluster)), "t", "e", cluster_col="id")
        test = "Cox Wald, robust (paired)"
    row = fitter.summary.loc["treated"]
    b, se = float(row["coef"]), float(row["se(coef)"])
    if not (math.isfinite(b) and math.isfinite(se)) or abs(b) + z * se > _MAX_LOG_HR:
        return (math.nan, math.nan, math.nan, math.nan,
                "not estimable (monotone likelihood: no finite hazard ratio)")
    if cluster is not None:
        p = float(row["p"])
    return math.exp(b), math.exp(b - z * se), math.exp(b + z * se), p, test


def arms_against(endpoints: pd.DataFrame, control: str, by: str, what: str
                 ) -> Iterator[tuple[Any, pd.DataFrame, pd.DataFrame]]:
    """``(arm, its rows, the control arm's rows)`` for every arm but ``control``, in order of
    first appearance.

    Raises:
        ValueError: an unknown control arm, or no other arm.
    """
    arms = list(pd.unique(endpoints[by]))
    if control not in arms:
        raise TrialError(f"{what}: no arm {control!r}; arms: {', '.join(map(str, arms))}")
    if len(arms) < 2:
        raise TrialError(f"{what}: one arm only")
    ref = endpoints[endpoints[by] == control]
    for arm in arms:
        if arm != control:
            yield arm, endpoints[endpoints[by] == arm], ref


def compare_arms(endpoints: pd.DataFrame, control: str, *, by: str = "arm",
                 paired: bool = False, confidence: float = 0.95) -> pd.DataFrame:
    """Every other arm against ``control``: ORR difference, OS and PFS hazard ratios.

    Main arguments:
        endpoints: per-patient endpoints of all arms (``bor``, ``os_d``, ``os_event``,
            ``pfs_d``, ``pfs_event`` and the ``by`` column).
        control: the reference arm.

    Other arguments:
        paired: the arms treat the same patients (crossover): pairs are matched on
            ``patient`` (patients in both arms only), the paired Newcombe interval, the exact
            McNemar test and a robust Cox variance are used.
        confidence: level of the intervals.

    Returns:
        One row per arm and measure (``"ORR difference"``, ``"OS hazard ratio"``, ``"PFS
        hazard ratio"``) with :data:`COMPARISON_COLUMNS`: ``estimate``, ``lo``, ``hi``
        (difference as a fraction; hazard ratio), ``p_value``, ``test``, ``n`` and
        ``n_control`` (patients, or pairs when paired).

    Raises:
        ValueError: a missing column, an unknown control arm, or no other arm.
    """
    what = "compare_arms"
    _require(endpoints, [by, "patient", "bor", *(c for pair in HAZARDS.values() for c in pair)],
             what)
    rows: list[dict[str, Any]] = []
    for arm, other, ref in arms_against(endpoints, control, by, what):
        if paired:
            both = other.merge(ref, on="patient", suffixes=("", "_c"))
            if both.empty:
                raise TrialError(f"{what}: arms {arm!r} and {control!r} share no patient")
            r1 = is_responder(both["bor"]).to_numpy()
            r0 = is_responder(both["bor_c"]).to_numpy()
            a, b = int((r1 & r0).sum()), int((r1 & ~r0).sum())
            c, d = int((~r1 & r0).sum()), int((~r1 & ~r0).sum())
            lo, hi = newcombe_paired_difference(a, b, c, d, confidence=confidence)
            p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
            n = n0 = len(both)
            rows.append({"measure": ORR, "estimate": (b - c) / n, "lo": lo, "hi": hi,
                         "p_value": p, "test": "exact McNemar (paired)"})
        else:
            n, n0 = len(other), len(ref)
            k1 = int(is_responder(other["bor"]).sum())
            k0 = int(is_responder(ref["bor"]).sum())
            lo, hi = newcombe_difference(k1, n, k0, n0, confidence=confidence)
            p = float(fisher_exact([[k1, n - k1], [k0, n0 - k0]]).pvalue)
            rows.append({"measure": ORR, "estimate": k1 / n - k0 / n0, "lo": lo, "hi": hi,
                         "p_value": p, "test": "Fisher exact"})
        for name, (time, event) in HAZARDS.items():
            if paired:
                t1, e1 = _durations(both, time, event, what)
                t0, e0 = _durations(both, f"{time}_c", f"{event}_c", what)
                ids = both["patient"].to_numpy()
                cluster: np.ndarray[Any, Any] | None = np.concatenate([ids, ids])
            else:
                t1, e1 = _durations(other, time, event, what)
                t0, e0 = _durations(ref, time, event, what)
                cluster = None
            hr, lo, hi, p, test = hazard_ratio(
                np.concatenate([t1, t0]), np.concatenate([e1, e0]),
                np.concatenate([np.ones(len(t1), int), np.zeros(len(t0), int)]),
                cluster=cluster, confidence=confidence)
            rows.append({"measure": f"{name} hazard ratio", "estimate": hr, "lo": lo,
                         "hi": hi, "p_value": p, "test": test})
        for row in rows[-1 - len(HAZARDS):]:
            row.update({"arm": str(arm), "control": str(control), "n": n, "n_control": n0})
    return pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))


def _p_text(p: float) -> str:
    if not math.isfinite(p):
        return "-"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def comparison_table(comparisons: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """:func:`compare_arms` formatted for printing: one column per ``arm vs control``, one
    row per measure ("+6.1 (-1.2 to 13.4) % points, p = 0.10"; "0.84 (0.66-1.07), ...")."""
    _require(comparisons, COMPARISON_COLUMNS, "comparison_table")
    level = f"{100 * confidence:g}% CI"
    columns: dict[str, dict[str, str]] = {}
    tests: dict[str, list[str]] = {}
    for row in comparisons.itertuples(index=False):
        name = f"{row.arm} vs {row.control}"
        col = columns.setdefault(name, {"patients (arm / control)": f"{row.n} / {row.n_control}"})
        if row.measure == ORR:
            col[f"ORR difference, % points ({level})"] = (
                f"{100 * row.estimate:+.1f} ({100 * row.lo:+.1f} to {100 * row.hi:+.1f}), "
                f"{_p_text(row.p_value)}")
        elif row.measure.endswith("difference"):  # a mean difference in its own unit
            col[f"{row.measure}, cells/uL ({level})" if row.measure.startswith("CD4")
                else f"{row.measure} ({level})"] = (
                f"{row.estimate:+.1f} ({row.lo:+.1f} to {row.hi:+.1f}), "
                f"{_p_text(row.p_value)}")
        elif math.isfinite(row.estimate):
            col[f"{row.measure} ({level})"] = (f"{row.estimate:.2f} ({row.lo:.2f}-"
                                               f"{row.hi:.2f}), {_p_text(row.p_value)}")
        else:
            col[f"{row.measure} ({level})"] = f"- ({row.test})"
        tests.setdefault(name, [])
        if str(row.test) not in tests[name]:
            tests[name].append(str(row.test))
    for name, col in columns.items():
        col["tests"] = "; ".join(tests[name])
    out = pd.DataFrame(columns)
    out.index.name = "measure"
    return out


def plot_forest(comparisons: pd.DataFrame, *, confidence: float = 0.95,
                title: str | None = None, path: str | Path | None = None,
                figsize: tuple[float, float] | None = None, dpi: float = 120) -> Figure:
    """Forest plot of :func:`compare_arms`: the ORR differences (% points, reference 0) and
    the hazard ratios (log scale, reference 1), each a point with its interval, one row per
    comparison (``gid = "<measure> <arm>"``)."""
    _require(comparisons, COMPARISON_COLUMNS, "plot_forest")
    orr = comparisons[comparisons["measure"] == ORR]
    hr = comparisons[comparisons["measure"] != ORR]
    if figsize is None:
        figsize = (10.0, 1.2 + 0.45 * max(len(orr), len(hr), 1))
    fig = _figure(figsize)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
    _forest_panel(left, orr, scale=100.0, reference=0.0, log=False,
                  xlabel="ORR difference, % points (arm - control)")
    _forest_panel(right, hr, scale=1.0, reference=1.0, log=True,
                  xlabel="hazard ratio (arm / control)")
    level = f"{100 * confidence:g}%"
    fig.suptitle(title or f"Comparisons with the control arm ({level} intervals)")
    return _finish(fig, path, dpi)


def _forest_panel(ax: Any, rows: pd.DataFrame, *, scale: float, reference: float, log: bool,
                  xlabel: str) -> None:
    labels: Sequence[str] = [f"{r.measure.replace(' hazard ratio', '')}: {r.arm} vs "
                             f"{r.control}" if log else f"{r.arm} vs {r.control}"
                             for r in rows.itertuples(index=False)]
    y = np.arange(len(rows))[::-1]
    for k, r in enumerate(rows.itertuples(index=False)):
        if not math.isfinite(r.estimate):
            ax.text(reference, y[k], "not estimable", ha="center", va="center", fontsize=8)
            continue
        colour = "C0" if r.measure.startswith(("ORR", "OS")) else "C1"
        ax.plot([r.lo * scale, r.hi * scale], [y[k], y[k]], color=colour, lw=1.8)
        ax.plot([r.estimate * scale], [y[k]], marker="s", color=colour, ms=7,
                gid=f"{r.measure} {r.arm}")
    ax.axvline(reference, color="0.3", linestyle="--", linewidth=0.9)
    if log:
        ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color="0.92")
