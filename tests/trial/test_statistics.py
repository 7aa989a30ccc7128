"""Trial statistics against exact binomial intervals, hand-computed Kaplan-Meier estimates and
constructed toxicity and dose tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from il2sim.trial.plots import plot_toxicity
from il2sim.trial.statistics import (
    DAYS_PER_YEAR,
    TOXICITIES,
    clopper_pearson,
    dor_summary,
    dose_delivery,
    km_summary,
    recorded_toxicities,
    response_rates,
    summary_table,
    time_to_response,
    toxicity_table,
)


def endpoints_table(bor: list[str], *, arm: list[str] | None = None) -> pd.DataFrame:
    """A complete endpoints table with the given best responses and simple, valid values."""
    n = len(bor)
    responder = np.isin(bor, ["CR", "PR"])
    frame = pd.DataFrame({
        "patient": np.arange(n),
        "arm": arm if arm is not None else ["A"] * n,
        "bor": bor,
        "best_change_pct": np.where(responder, -50.0, 10.0),
        "time_to_response_d": np.where(responder, 60.0, np.nan),
        "dor_d": np.where(responder, 100.0 + 10 * np.arange(n), np.nan),
        "dor_event": responder & (np.arange(n) % 2 == 0),
        "pfs_d": 50.0 + 5 * np.arange(n),
        "pfs_event": np.arange(n) % 3 != 0,
        "os_d": 400.0 + 7 * np.arange(n),
        "os_event": np.arange(n) % 4 != 0,
        "death_cause": ["disease" if i % 4 else "" for i in range(n)],
        "doses_given": 20, "doses_scheduled": 28, "courses": 1,
    })
    for name in TOXICITIES:
        frame[f"tox_{name}_grade"] = 0
    return frame


# --------------------------------------------------------------------------- Clopper-Pearson


def test_clopper_pearson_matches_beta_quantiles() -> None:
    # 38 of 255: the renal cell carcinoma ORR (15%; Fyfe et al. 1995, J Clin Oncol 13:688)
    k, n = 38, 255
    lo, hi = clopper_pearson(k, n)
    assert lo == pytest.approx(beta.ppf(0.025, k, n - k + 1), rel=1e-9)
    assert hi == pytest.approx(beta.ppf(0.975, k + 1, n - k), rel=1e-9)
    assert (round(lo, 3), round(hi, 3)) == (0.108, 0.199)
    lo90, hi90 = clopper_pearson(k, n, confidence=0.90)
    assert lo90 == pytest.approx(beta.ppf(0.05, k, n - k + 1), rel=1e-9)
    assert lo < lo90 < hi90 < hi


def test_clopper_pearson_textbook_edges() -> None:
    # 0/10: the upper bound solves (1 - p)^10 = 0.025, p = 1 - 0.025^(1/10) = 0.3085
    lo, hi = clopper_pearson(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(1 - 0.025 ** 0.1, rel=1e-9)
    assert round(hi, 4) == 0.3085
    lo, hi = clopper_pearson(10, 10)
    assert (round(lo, 4), hi) == (0.6915, 1.0)


@pytest.mark.parametrize(("k", "n"), [(-1, 10), (11, 10), (1, 0), (1.5, 10)])
def test_clopper_pearson_rejects_bad_counts(k: float, n: int) -> None:
    with pytest.raises(ValueError):
        clopper_pearson(k, n)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- response rates


def test_response_rates_counts_and_intervals() -> None:
    bor = ["CR"] * 18 + ["PR"] * 20 + ["SD"] * 100 + ["PD"] * 110 + ["NE"] * 7  # n = 255
    table = response_rates(endpoints_table(bor))
    row = table.loc["A"]
    assert (row["n"], row["orr_n"], row["cr_n"], row["pr_n"]) == (255, 38, 18, 20)
    assert (row["sd_n"], row["pd_n"], row["ne_n"]) == (100, 110, 7)
    assert row["orr"] == pytest.approx(38 / 255)
    assert row["orr_lo"] == pytest.approx(beta.ppf(0.025, 38, 218))
    assert row["orr_hi"] == pytest.approx(beta.ppf(0.975, 39, 217))
    assert row["cr_hi"] == pytest.approx(beta.ppf(0.975, 19, 237))
    assert table.index.name == "arm"


def test_response_rates_by_group_and_pooled() -> None:
    frame = endpoints_table(["CR", "PD", "PR", "PD", "SD", "PD"], arm=list("ABABAB"))
    by_arm = response_rates(frame)
    assert list(by_arm.index) == ["A", "B"]
    assert by_arm.loc["A", "orr_n"] == 2 and by_arm.loc["B", "orr_n"] == 0
    assert by_arm.loc["B", "orr_hi"] == pytest.approx(1 - 0.025 ** (1 / 3))
    pooled = response_rates(frame, by=None)
    assert list(pooled.index) == ["all"] and pooled.loc["all", "orr"] == pytest.approx(2 / 6)


def test_response_rates_validates() -> None:
    frame = endpoints_table(["CR", "PD"])
    with pytest.raises(ValueError, match="'bor'"):
        response_rates(frame.drop(columns="bor"))
    with pytest.raises(ValueError, match="'arm'"):
        response_rates(frame.drop(columns="arm"))
    with pytest.raises(ValueError, match="'MR'"):
        response_rates(frame.assign(bor=["CR", "MR"]))


# --------------------------------------------------------------------------- Kaplan-Meier


def product_limit(t: list[float], e: list[bool]) -> dict[float, float]:
    """S(t) at each distinct event time, by hand: prod (1 - d_i / n_i)."""
    s, out = 1.0, {}
    for ti in sorted({x for x, ev in zip(t, e) if ev}):
        at_risk = sum(x >= ti for x in t)
        deaths = sum(x == ti and ev for x, ev in zip(t, e))
        s *= 1 - deaths / at_risk
        out[ti] = s
    return out


def km_frame(t: list[float], e: list[bool], arm: str = "A") -> pd.DataFrame:
    return pd.DataFrame({"os_d": t, "os_event": e, "arm": arm})


def test_km_median_matches_hand_computation() -> None:
    t = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    e = [True, True, False, True, True, True]
    s = product_limit(t, e)
    # 5/6, 4/6, (3 censored), 4/6 * 2/3 = 4/9, 4/9 * 1/2 = 2/9, 0
    assert s == pytest.approx({1: 5 / 6, 2: 4 / 6, 4: 4 / 9, 5: 2 / 9, 6: 0.0})
    median = min(ti for ti, si in s.items() if si <= 0.5)
    assert median == 4.0
    at = 4.5 / DAYS_PER_YEAR  # a landmark between the 4th and 5th day, in years
    table = km_summary(km_frame(t, e), landmarks_y=(at,))
    row = table.loc["A"]
    assert (row["n"], row["events"]) == (6, 5)
    assert row["median_d"] == median
    assert row["median_lo_d"] <= median <= row["median_hi_d"]
    surv = [c for c in table.columns if c.startswith("surv_") and not c.endswith(("_lo", "_hi"))]
    assert len(surv) == 1
    assert row[surv[0]] == pytest.approx(4 / 9)
    assert row[surv[0] + "_lo"] < 4 / 9 < row[surv[0] + "_hi"]


def test_km_not_reached_and_beyond_follow_up() -> None:
    t = [10.0, 20.0, 30.0, 40.0, 400.0]
    e = [True, False, False, False, False]
    row = km_summary(km_frame(t, e), landmarks_y=(0.5, 2.0)).loc["A"]
    assert math.isinf(row["median_d"])  # S stays at 0.8: median not reached
    assert row["surv_0.5y"] == pytest.approx(0.8)
    assert math.isnan(row["surv_2y"])  # 730 d is beyond the last follow-up (400 d)
    # a curve that reaches 0 is known beyond the last time
    row = km_summary(km_frame([1.0, 2.0], [True, True]), landmarks_y=(1.0,)).loc["A"]
    assert row["surv_1y"] == 0.0


def test_km_groups_are_separate_and_pfs_columns() -> None:
    frame = pd.concat([km_frame([1, 2, 3], [True] * 3, "A"), km_frame([5, 6, 7], [True] * 3, "B")])
    table = km_summary(frame)
    assert table.loc["A", "median_d"] == 2.0 and table.loc["B", "median_d"] == 6.0
    pfs = frame.rename(columns={"os_d": "pfs_d", "os_event": "pfs_event"})
    assert km_summary(pfs, "pfs_d", "pfs_event", None).loc["all", "median_d"] == 5.0


def test_km_validates() -> None:
    with pytest.raises(ValueError, match="'os_event'"):
        km_summary(pd.DataFrame({"os_d": [1.0], "arm": ["A"]}))
    with pytest.raises(ValueError, match="'os_d'"):
        km_summary(km_frame([1.0, np.nan], [True, True]))
    with pytest.raises(ValueError, match="negative"):
        km_summary(km_frame([1.0, -2.0], [True, True]))


# --------------------------------------------------------------------------- duration of response


def test_dor_summary_responders_and_complete_responders() -> None:
    frame = endpoints_table(["CR", "CR", "CR", "PR", "PR", "SD"])
    frame["dor_d"] = [100.0, 300.0, 500.0, 50.0, 200.0, np.nan]
    frame["dor_event"] = [True, True, False, True, True, False]
    table = dor_summary(frame)
    cr = table.loc[("A", "CR")]
    assert (cr["n"], cr["events"]) == (3, 2)
    # CR: S = 2/3 after 100 d, 1/3 after 300 d -> median 300 d; the longest (500 d) is ongoing
    assert cr["median_d"] == 300.0
    assert (cr["min_d"], cr["max_d"], cr["max_censored"]) == (100.0, 500.0, True)
    resp = table.loc[("A", "responders")]
    s = product_limit([100, 300, 500, 50, 200], [True, True, False, True, True])
    assert resp["n"] == 5
    assert resp["median_d"] == min(ti for ti, si in s.items() if si <= 0.5)

    none = dor_summary(frame.assign(bor=["PR"] * 5 + ["SD"])).loc[("A", "CR")]
    assert none["n"] == 0 and math.isnan(none["median_d"])


def test_dor_summary_requires_durations_of_responders() -> None:
    frame = endpoints_table(["CR", "PD"])
    frame.loc[0, "dor_d"] = np.nan
    with pytest.raises(ValueError, match="'dor_d'"):
        dor_summary(frame)


# --------------------------------------------------------------------------- toxicity


def test_toxicity_table_percentages() -> None:
    frame = endpoints_table(["SD"] * 10)
    frame["tox_hypotension_grade"] = [0, 1, 2, 3, 4, 4, 2, 1, 0, 0]  # any 7, grade 3-4: 3
    frame["tox_oliguria_grade"] = [0] * 9 + [3]
    frame["death_cause"] = ["treatment"] + ["disease"] * 2 + [""] * 7
    table = toxicity_table(frame)
    assert list(table.index) == [*TOXICITIES, "treatment_related_death"]
    hyp = table.loc["hypotension"]
    assert (hyp["n"], hyp["any_grade_n"], hyp["grade3_4_n"]) == (10, 7, 3)
    assert (hyp["any_grade"], hyp["grade3_4"]) == (pytest.approx(0.7), pytest.approx(0.3))
    assert table.loc["oliguria", "any_grade"] == table.loc["oliguria", "grade3_4"] == 0.1
    assert table.loc["confusion", "any_grade"] == 0.0
    death = table.loc["treatment_related_death"]
    assert death["any_grade"] == pytest.approx(0.1) and pd.isna(death["grade3_4"])
    assert math.isnan(table["grade3_4"].iloc[-1]) and pd.isna(table["grade3_4_n"].iloc[-1])

    by_arm = toxicity_table(frame.assign(arm=["A"] * 5 + ["B"] * 5), by="arm")
    assert by_arm.loc[("A", "hypotension"), "any_grade"] == pytest.approx(4 / 5)
    assert by_arm.loc[("B", "hypotension"), "grade3_4"] == pytest.approx(1 / 5)
    assert by_arm.loc[("A", "treatment_related_death"), "any_grade"] == pytest.approx(1 / 5)


def test_toxicity_table_validates() -> None:
    frame = endpoints_table(["SD", "PD"])
    with pytest.raises(ValueError, match="'tox_hypoxia_grade'"):
        toxicity_table(frame.drop(columns="tox_hypoxia_grade"))
    with pytest.raises(ValueError, match="'tox_confusion_grade'"):
        toxicity_table(frame.assign(tox_confusion_grade=[0, 5]))
    with pytest.raises(ValueError, match="'death_cause'"):
        toxicity_table(frame.assign(death_cause=["", "accident"]))
    only = toxicity_table(frame, toxicities=["hypotension"])
    assert list(only.index) == ["hypotension", "treatment_related_death"]


# --------------------------------------------------------------------------- dose delivery


def dose_log() -> pd.DataFrame:
    rows = []
    # patient 0: course 1 = cycle 1 with 10 given then 1 held (SBP) and 3 "cycle stopped",
    # cycle 2 all 14 given; course 2 never started ("not retreated")
    reasons = [""] * 10 + ["held: SBP < 90"] + ["cycle stopped"] * 3 + [""] * 14
    for i, why in enumerate(reasons):
        rows.append((0, i, 1, 1 + i // 14, "held" if why else "given", why))
    for i in range(28):
        rows.append((0, 28 + i, 2, 1 + i // 14, "held", "not retreated"))
    # patient 1: course 1 all given except one blank-reason hold
    for i in range(28):
        rows.append((1, i, 1, 1 + i // 14, "held" if i == 27 else "given", ""))
    return pd.DataFrame(rows, columns=["patient", "dose_id", "course", "cycle", "status",
                                       "reason"])


def test_dose_delivery_per_course() -> None:
    dd = dose_delivery(dose_log())
    assert list(dd.counts.index) == [(0, 1), (1, 1)]  # course 2 of patient 0 never started
    assert dd.counts.loc[(0, 1)].tolist() == [24, 4, 28]  # given, held, listed
    assert dd.counts.loc[(1, 1)].tolist() == [27, 1, 28]
    assert (dd.n_listed, dd.n_given, dd.n_held) == (56, 51, 5)
    assert dd.held_fraction == pytest.approx(5 / 56)
    assert dd.reasons["n"].to_dict() == {"cycle stopped": 3, "held: SBP < 90": 1,
                                         "unspecified": 1}
    assert dd.reasons.loc["cycle stopped", "of_held"] == pytest.approx(3 / 5)

    everything = dose_delivery(dose_log(), started_only=False)
    assert everything.counts.loc[(0, 2), "given"] == 0
    assert everything.reasons.loc["not retreated", "n"] == 28


def test_dose_delivery_per_cycle_and_validation() -> None:
    dd = dose_delivery(dose_log(), per="cycle")
    assert dd.given.to_dict() == {(0, 1, 1): 10, (0, 1, 2): 14, (1, 1, 1): 14, (1, 1, 2): 13}
    with pytest.raises(ValueError, match="'reason'"):
        dose_delivery(dose_log().drop(columns="reason"))
    with pytest.raises(ValueError, match="'skipped'"):
        dose_delivery(dose_log().replace({"status": {"held": "skipped"}}))
    with pytest.raises(ValueError, match="per"):
        dose_delivery(dose_log(), per="day")


# --------------------------------------------------------------------------- summary


def test_summary_table_formats_headline_numbers() -> None:
    bor = ["CR"] * 18 + ["PR"] * 20 + ["SD"] * 100 + ["PD"] * 117  # 38/255 = 14.9%
    frame = endpoints_table(bor, arm=["RCC"] * 255)
    frame.loc[:9, "death_cause"] = "treatment"  # 10/255 = 3.9%
    frame.loc[:9, "os_event"] = True
    doses = dose_log()
    table = summary_table(frame, doses)
    col = table["RCC"]
    lo, hi = clopper_pearson(38, 255)
    assert col["patients"] == "255"
    assert col["ORR, % (95% CI)"] == f"14.9 ({100 * lo:.1f}-{100 * hi:.1f})" == "14.9 (10.8-19.9)"
    assert col["treatment-related deaths, %"] == "3.9"
    assert col["doses given per course, median (range)"] == "25.5 (24-27)"
    assert col["doses held, %"] == "8.9"
    assert col["hypotension, % any grade / grade 3-4"] == "0 / 0"
    assert "+)" in col["median CR duration, years (range)"]  # the longest CR is ongoing
    # every responder of the table responds at day 60: 60 / 30.4375 = 1.97 months
    assert col["median time to response, months (range)"] == "2.0 (2.0-2.0), n=38"
    assert table.index.name == "measure"
    assert summary_table(frame, by=None).columns.tolist() == ["all"]


def test_a_run_stored_before_a_toxicity_was_modelled_is_still_summarised() -> None:
    """Runs stored before the cytokine-drive events had no ``tox_diarrhoea_grade`` etc.:
    the summary and the toxicity figure show the terms they recorded (toxicity_table with
    an explicit list still names a missing column)."""
    frame = endpoints_table(["CR", "PD", "SD"]).drop(columns="tox_diarrhoea_grade")
    assert "diarrhoea" not in recorded_toxicities(frame)
    assert recorded_toxicities(endpoints_table(["CR"])) == TOXICITIES
    text = summary_table(frame).index
    assert not any("diarrhoea" in t for t in text) and any("hypotension" in t for t in text)
    plot_toxicity(frame)
    with pytest.raises(ValueError, match="'tox_diarrhoea_grade'"):
        toxicity_table(frame)


def test_time_to_response_is_the_responders_median_and_range() -> None:
    frame = endpoints_table(["CR", "PR", "PR", "SD", "PD"], arm=["A", "A", "B", "B", "B"])
    frame["time_to_response_d"] = [47.0, 159.0, 103.0, np.nan, np.nan]
    t = time_to_response(frame)
    assert t.loc["A"].tolist() == [2, 103.0, 47.0, 159.0]
    assert t.loc["B", "n"] == 1 and t.loc["B", "median_d"] == 103.0
    none = time_to_response(endpoints_table(["SD", "PD"]), by=None)
    assert none.loc["all", "n"] == 0 and math.isnan(none.loc["all", "median_d"])
    frame.loc[1, "time_to_response_d"] = np.nan
    with pytest.raises(ValueError, match="no time_to_response_d"):
        time_to_response(frame)
    with pytest.raises(ValueError, match="'time_to_response_d'"):
        time_to_response(frame.drop(columns="time_to_response_d"))
