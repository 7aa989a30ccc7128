"""Trial figures: each plot draws the expected artists on a synthetic trial and saves a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from il2sim.trial.plots import (
    BOR_COLORS,
    plot_dose_delivery,
    plot_km,
    plot_spider,
    plot_swimmer,
    plot_toxicity,
    plot_waterfall,
)
from il2sim.trial.statistics import TOXICITIES

BOR_P = {"CR": 0.07, "PR": 0.08, "SD": 0.35, "PD": 0.45, "NE": 0.05}


def make_trial(n: int = 40, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A synthetic two-arm trial: (endpoints, scans, doses), internally consistent."""
    rng = np.random.default_rng(seed)
    rows, scans, doses = [], [], []
    bors = list(BOR_P)
    for p in range(n):
        bor = str(rng.choice(bors, p=list(BOR_P.values())))
        responder = bor in ("CR", "PR")
        best = {"CR": -100.0, "PR": rng.uniform(-90, -31), "SD": rng.uniform(-29, 19),
                "PD": rng.uniform(21, 140), "NE": np.nan}[bor]
        ttr = rng.uniform(40, 120) if responder else np.nan
        dor = rng.exponential(900 if bor == "CR" else 300) + 30 if responder else np.nan
        dor_event = bool(rng.random() < 0.6) if responder else False
        pfs = ttr + dor if responder else rng.uniform(30, 200)
        pfs_event = dor_event if responder else bool(rng.random() < 0.9)
        os_d = pfs + rng.exponential(300)
        os_event = bool(rng.random() < 0.7)
        cause = ("treatment" if rng.random() < 0.08 else "disease") if os_event else ""
        if cause == "treatment":
            pfs = os_d = rng.uniform(3, 20)
            pfs_event, bor, best, responder = True, "NE", np.nan, False
            ttr = dor = np.nan
            dor_event = False
        row = {"patient": p, "arm": "A" if p % 2 == 0 else "B", "bor": bor,
               "best_change_pct": best, "time_to_response_d": ttr, "dor_d": dor,
               "dor_event": dor_event, "pfs_d": pfs, "pfs_event": pfs_event, "os_d": os_d,
               "os_event": os_event, "death_cause": cause, "courses": 2 if responder else 1}
        for name in TOXICITIES:
            row[f"tox_{name}_grade"] = int(rng.choice(5, p=[0.4, 0.2, 0.2, 0.15, 0.05]))
        rows.append(row)
        if np.isfinite(best):
            for day in np.arange(28, min(pfs, 900) + 56, 56):
                frac = min(1.0, day / 150)
                scans.append({"patient": p, "day": float(day),
                              "change_pct": best * frac + rng.normal(0, 3),
                              "sod_mm": 80.0 * (1 + best * frac / 100)})
        for course in (1, 2):
            for cycle in (1, 2):
                stop = 14 if rng.random() < 0.2 else int(rng.integers(3, 14))
                for i in range(14):
                    did = (course - 1) * 28 + (cycle - 1) * 14 + i
                    if course == 2 and not responder:
                        status, reason = "held", "not retreated"
                    elif i < stop:
                        status, reason = "given", ""
                    else:
                        status = "held"
                        reason = "held: SBP < 90" if i == stop else "cycle stopped"
                    doses.append({"patient": p, "dose_id": did, "course": course,
                                  "cycle": cycle, "time_h": 8.0 * did, "status": status,
                                  "reason": reason})
    endpoints = pd.DataFrame(rows)
    given = pd.DataFrame(doses).query("status == 'given'").groupby("patient").size()
    endpoints["doses_given"] = endpoints["patient"].map(given).fillna(0).astype(int)
    endpoints["doses_scheduled"] = 28 * endpoints["courses"]
    return endpoints, pd.DataFrame(scans), pd.DataFrame(doses)


@pytest.fixture(scope="module")
def trial() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return make_trial(40, seed=3)


def _png(path: Path, fig: Figure, dpi: float) -> None:
    """The saved PNG exists and is ``figsize * dpi`` pixels."""
    assert path.is_file() and path.stat().st_size > 5000
    height, width = imread(path).shape[:2]
    w_in, h_in = fig.get_size_inches()
    assert (width, height) == (round(w_in * dpi), round(h_in * dpi))


def _lines(fig: Figure, prefix: str) -> list[Line2D]:
    return [ln for ax in fig.axes for ln in ax.lines if str(ln.get_gid()).startswith(prefix)]


def test_waterfall(trial, tmp_path: Path) -> None:
    endpoints = trial[0]
    path = tmp_path / "waterfall.png"
    fig = plot_waterfall(endpoints, path=path, figsize=(8, 4), dpi=80)
    ax = fig.axes[0]
    measured = endpoints.dropna(subset=["best_change_pct"])
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == len(measured)
    heights = [b.get_height() for b in bars]
    assert heights == sorted(heights, reverse=True)  # largest growth first
    expected = np.clip(np.sort(measured["best_change_pct"].to_numpy())[::-1], -100, 100)
    np.testing.assert_allclose(heights, expected)
    # colours follow the best response, in the same order
    order = measured.sort_values("best_change_pct", ascending=False, kind="stable")["bor"]
    from matplotlib.colors import to_rgba
    assert [b.get_facecolor() for b in bars] == [to_rgba(BOR_COLORS[b]) for b in order]
    recist = sorted(ln.get_ydata()[0] for ln in _lines(fig, "recist"))
    assert recist == [-30.0, 20.0]
    _png(path, fig, 80)


def test_waterfall_missing_column(trial) -> None:
    with pytest.raises(ValueError, match="best_change_pct"):
        plot_waterfall(trial[0].drop(columns="best_change_pct"))


def test_swimmer(trial, tmp_path: Path) -> None:
    endpoints = trial[0]
    path = tmp_path / "swimmer.png"
    fig = plot_swimmer(endpoints, path=path, dpi=60)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == len(endpoints)
    # responders on top: the top rows' widths are the responders' follow-up, longest first
    resp = endpoints[endpoints["bor"].isin(["CR", "PR"])]
    top = sorted(bars, key=lambda b: -b.get_y())[: len(resp)]
    np.testing.assert_allclose([b.get_width() for b in top],
                               np.sort(resp["os_d"].to_numpy())[::-1] / (365.25 / 12))
    marks = {ln.get_gid(): len(ln.get_xdata()) for ln in ax.lines}
    assert marks["response"] == len(resp)
    treatment = (endpoints["death_cause"] == "treatment") & endpoints["os_event"]
    assert marks["death (treatment)"] == treatment.sum()
    assert marks["death (disease)"] == (endpoints["os_event"] & ~treatment).sum()
    assert marks["alive at last follow-up"] == (~endpoints["os_event"]).sum()
    progressed = endpoints["pfs_event"] & ~(endpoints["os_event"]
                                            & (endpoints["pfs_d"] >= endpoints["os_d"]))
    assert marks["progression"] == progressed.sum()
    _png(path, fig, 60)

    only = plot_swimmer(endpoints, responders_only=True)
    assert len(only.axes[0].patches) == len(resp)


def test_spider(trial, tmp_path: Path) -> None:
    endpoints, scans, _ = trial
    path = tmp_path / "spider.png"
    fig = plot_spider(scans, endpoints, path=path, dpi=70)
    patients = _lines(fig, "patient")
    assert len(patients) == scans["patient"].nunique()
    first = scans["patient"].min()
    (line,) = [ln for ln in patients if ln.get_gid() == f"patient {first}"]
    n_scans = int((scans["patient"] == first).sum())
    assert len(line.get_xdata()) == n_scans + 1  # baseline point added at (0, 0)
    assert line.get_xdata()[0] == 0.0 and line.get_ydata()[0] == 0.0
    assert len(_lines(fig, "recist")) == 2
    _png(path, fig, 70)


def test_km(trial, tmp_path: Path) -> None:
    endpoints = trial[0]
    path = tmp_path / "km.png"
    fig = plot_km(endpoints, path=path, dpi=60)
    km_axes = [ax for ax in fig.axes if ax.get_title() in
               ("Overall survival", "Progression-free survival")]
    assert len(km_axes) == 2
    for ax in km_axes:
        curves = [ln for ln in ax.lines if str(ln.get_gid()).startswith("km ")]
        assert sorted(ln.get_gid() for ln in curves) == ["km A", "km B"]
        assert all(np.all(np.diff(ln.get_ydata()) <= 1e-12) for ln in curves)  # non-increasing
        censor = {ln.get_gid(): len(ln.get_xdata()) for ln in ax.lines
                  if str(ln.get_gid()).startswith("censor ")}
        event = "os_event" if ax.get_title() == "Overall survival" else "pfs_event"
        for arm in ("A", "B"):
            sub = endpoints[endpoints["arm"] == arm]
            assert censor[f"censor {arm}"] == (~sub[event]).sum()
    # number at risk at t = 0 is every patient of the arm
    at_zero = sorted(int(t.get_text()) for ax in fig.axes for t in ax.texts
                     if t.get_gid() == "at risk" and t.get_position()[0] == 0.0)
    n_arm = sorted(endpoints["arm"].value_counts().tolist())
    assert at_zero == sorted(n_arm * 2)
    _png(path, fig, 60)

    with pytest.raises(ValueError, match="kinds"):
        plot_km(endpoints, kinds=("dfs",))


def test_dose_delivery(trial, tmp_path: Path) -> None:
    doses = trial[2]
    path = tmp_path / "doses.png"
    fig = plot_dose_delivery(doses, per="cycle", path=path, dpi=70)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 15  # 0..14 doses per cycle
    started = doses.groupby(["patient", "course"])["status"].transform(
        lambda s: (s == "given").any())
    cycles = doses[started].groupby(["patient", "course", "cycle"]).ngroups
    assert sum(b.get_height() for b in bars) == cycles
    assert [ln.get_xdata()[0] for ln in _lines(fig, "maximum")] == [14.5]
    _png(path, fig, 70)

    per_course = plot_dose_delivery(doses)
    assert len(per_course.axes[0].patches) == 29  # 0..28 doses per course
    assert len(_lines(per_course, "maximum")) == 2  # cycle (14) and course (28) maxima


def test_toxicity(trial, tmp_path: Path) -> None:
    endpoints = trial[0]
    path = tmp_path / "tox.png"
    fig = plot_toxicity(endpoints, reference={"hypotension": 0.71, "oliguria": 0.63},
                        path=path, dpi=70)
    ax = fig.axes[0]
    any_grade = [p for p in ax.patches if p.get_gid() == "any grade"]
    severe = [p for p in ax.patches if p.get_gid() == "grade 3-4"]
    assert len(any_grade) == len(severe) == len(TOXICITIES)
    hyp = endpoints["tox_hypotension_grade"]
    assert any_grade[0].get_width() == pytest.approx(100 * (hyp >= 1).mean())
    assert severe[0].get_width() == pytest.approx(100 * (hyp >= 3).mean())
    (ref,) = _lines(fig, "reference")
    assert list(ref.get_xdata()) == pytest.approx([71.0, 63.0])
    _png(path, fig, 70)


def test_draw_into_given_axes(trial, tmp_path: Path) -> None:
    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    assert plot_waterfall(trial[0], ax=left) is fig
    assert plot_toxicity(trial[0], ax=right, path=tmp_path / "both.png", dpi=50) is fig
    _png(tmp_path / "both.png", fig, 50)
