"""Protocols: hold, stop, cap and discontinue rules, infusion segments, retreatment on the
measured tumour (the label's rules: Proleukin prescribing information, section 2.2)."""

from __future__ import annotations

import numpy as np
import pytest

from il2sim import DoseRoute, Model, Observable, Param, State, simulate
from il2sim.dosing import Administration, Bolus, Infusion, Regimen, Schedule
from il2sim.engine.result import SimulationResult
from il2sim.protocol import (
    LABEL_HOLDS,
    Condition,
    Drug,
    HoldRules,
    Protocol,
    ProtocolDecider,
    ProtocolError,
    Scans,
    label_protocol,
)

SRC = "test"


def toxic_model(recovery: float) -> Model:
    """Each dose raises a toxicity state A that lowers SBP by 10 mmHg per unit; the tumour
    volume (mL) changes at rate ``growth``."""
    obs = {"sbp": "120 - 10*A", "spo2": "98 + 0*A", "confusion": "0*A",
           "heart_rate": "75 + 0*A", "weight_gain_pct": "0*A", "urine_8h": "480 - 0*A",
           "creatinine": "1 + cr*A", "tumour_volume": "T"}
    return Model(
        "toxic", "toy toxicity", "test", "h",
        states=(State("A", 0.0, "1", "toxicity"), State("T", 100.0, "mL", "tumour", log=True)),
        params=(Param("k", recovery, "1/h", "recovery", SRC),
                Param("cr", 0.0, "mg/dL", "creatinine per unit", SRC),
                Param("growth", 0.0, "1/h", "tumour growth rate", SRC, bounds=(-1.0, 1.0))),
        equations={"A": "-k*A", "T": "growth*T"},
        observables=tuple(Observable(n, e, "1", n) for n, e in obs.items()),
        routes=(DoseRoute("iv", "A", "IU", "toxic drug"),),
    )


def run(model: Model, protocol: Protocol, end_h: float, *, scans: Scans | None = None,
        times: np.ndarray | None = None, **params: float) -> SimulationResult:
    grid = times if times is not None else np.array([0.0, end_h])
    return simulate(model, protocol.regimen(), params=params or None, times=grid,
                    covariates={"weight": 1.0}, decider=ProtocolDecider(protocol, scans=scans))


def label(courses: int = 1, **kw: object) -> Protocol:
    return label_protocol("1 IU/kg", courses, 84.0, **kw)  # type: ignore[arg-type]


def test_conditions_read_as_written() -> None:
    c = Condition.parse("80 <= urine_8h < 160")
    assert list(c.met(np.array([79.9, 80.0, 159.9, 160.0, np.nan]))) == [
        False, True, True, False, False]
    assert list(Condition.parse("heart_rate > 130").met(np.array([130.0, 130.1]))) == [
        False, True]
    for bad in ("sbp", "sbp < ninety", "90 > sbp > 80", "3 < x < 2", ""):
        with pytest.raises(ProtocolError):
            Condition.parse(bad)


def test_a_chart_reading_is_the_lowest_highest_or_mean_of_the_hours_before_the_dose() -> None:
    """SBP = 120 - 10 exp(-k t) after a dose at 0 (k = 0.5/h, hourly outputs): at the second
    dose (8 h) the pressure is back to 119.8, but it was 120 - 10 exp(-0.5) = 113.9 at 1 h,
    inside the 8-h chart (the output at 0 h, the dose's own instant, is not)."""
    lowest = Condition.parse("lowest(sbp, 8 h) < 115", "low")
    assert (lowest.observable, lowest.reduce, lowest.span_h) == ("sbp", "lowest", 8.0)
    assert Condition.parse("80 <= mean(urine_8h, 8 h) < 160").reduce == "mean"
    for bad in ("lowest(sbp) < 90", "median(sbp, 8 h) < 90", "lowest(sbp, 8) < 90"):
        with pytest.raises(ProtocolError):
            Condition.parse(bad)
    with pytest.raises(ProtocolError, match="span"):
        Condition("sbp", upper=90.0, reduce="lowest")
    two = Regimen.of(Bolus("1 IU"), Schedule(every="8 h", count=2))
    hourly = np.arange(0.0, 9.0)
    for rule, times, second in ((lowest, hourly, "held: low"),
                                (Condition.parse("sbp < 115", "now"), hourly, ""),
                                (Condition.parse("highest(sbp, 8 h) < 115", "high"), hourly, ""),
                                (Condition.parse("mean(sbp, 8 h) < 118.5", "mean"), hourly,
                                 "held: mean"),
                                (lowest, np.array([0.0, 8.0]), "")):  # no chart between
        drug = Drug.of("IL-2", two, holds=HoldRules(hold=(rule,)))
        r = run(toxic_model(recovery=0.5), Protocol((drug,)), 8.0, times=times)
        assert list(r.dose_log.reason) == ["", second]
    # the mean of hours 1..7 and 8: 120 - 10*mean(exp(-0.5*h)) = 118.1
    assert 118.0 < 120 - 10 * np.mean(np.exp(-0.5 * np.arange(1.0, 9.0))) < 118.5


def test_a_recovering_patient_gets_every_dose() -> None:
    r = run(toxic_model(recovery=5.0), label(), 84 * 24)
    assert (r.dose_log["status"] == "given").all() and len(r.dose_log) == 28
    assert list(r.dose_log["cycle"].unique()) == [1, 2]
    assert (r.dose_log["course"] == 1).all() and (r.dose_log["drug"] == "IL-2").all()


def test_hypotension_holds_doses_and_three_holds_stop_the_cycle() -> None:
    # no recovery: after 3 doses SBP = 90, after 4 it is 80 -> the 5th dose is held
    r = run(toxic_model(recovery=0.0), label(), 84 * 24)
    log = r.dose_log
    c1 = log[log.cycle == 1]
    assert list(c1.status[:4]) == ["given"] * 4
    assert c1.reason.iloc[4] == "held: SBP < 90"
    assert c1.reason.iloc[6] == "held: SBP < 90 (third hold: cycle stopped)"
    assert (c1.reason.iloc[7:] == "cycle stopped").all()
    # cycle 2 starts again (holds count per cycle) but SBP is still low: held 3 times, stopped
    c2 = log[log.cycle == 2]
    assert (c2.status == "held").all()
    assert np.isclose(r["A"][0, -1], 4.0)  # four doses given in all; doses never reduced


def test_an_absolute_criterion_stops_the_cycle_at_once() -> None:
    # creatinine rises 1.1 mg/dL per dose: 3.2 before the 3rd dose stops the cycle
    r = run(toxic_model(recovery=5.0), label(), 84 * 24, cr=1.1, k=0.0)
    c1 = r.dose_log[r.dose_log.cycle == 1]
    assert list(c1.status[:2]) == ["given"] * 2
    assert c1.reason.iloc[2] == "cycle stopped: creatinine >= 3"
    assert (c1.reason.iloc[3:] == "cycle stopped").all()


def test_a_relative_criterion_holds_the_dose_and_counts_toward_the_stop() -> None:
    """Creatinine 1 + 0.8 per dose, no recovery: 1.8 before the 2nd dose, 2.6 before the 3rd.
    The label's rules hold at 2.5-2.9 (a relative criterion; Springerplus 2015, Table 1), and
    the third hold stops the cycle; rules that only count relative criteria give the dose."""
    r = run(toxic_model(recovery=5.0), label(), 84 * 24, cr=0.8, k=0.0)
    c1 = r.dose_log[r.dose_log.cycle == 1]
    assert list(c1.reason[:5]) == ["", "", "held: creatinine 2.5-2.9",
                                   "held: creatinine 2.5-2.9",
                                   "held: creatinine 2.5-2.9 (third hold: cycle stopped)"]
    counting = HoldRules(relative=LABEL_HOLDS.relative, relative_to_stop=3)
    drug = Drug.of("IL-2", q8h(4), holds=counting)
    r = run(toxic_model(recovery=5.0), Protocol((drug,)), 40.0, cr=0.8, k=0.0)
    assert (r.dose_log.status == "given").all()
    with pytest.raises(ProtocolError, match="relative_holds"):
        HoldRules(relative_holds=True)


def q8h(count: int, start: str = "0 h") -> Regimen:
    return Regimen.of(Bolus("1 IU"), Schedule(every="8 h", count=count, start=start))


def test_a_cap_counts_given_doses_and_discontinue_ends_the_drug() -> None:
    # 18 slots, at most 15 doses given per cycle (Yang et al. 2003 practice)
    drug = Drug.of("IL-2", q8h(18), holds=None, max_doses_per_cycle=15)
    r = run(toxic_model(recovery=5.0), Protocol((drug,)), 200.0)
    assert (r.dose_log.status == "given").sum() == 15
    assert (r.dose_log.reason.iloc[15:] == "cycle complete: 15 doses").all()
    # discontinued once SBP < 75: after 5 doses (SBP 70) every later dose, both cycles
    rules = HoldRules(discontinue=(Condition.parse("sbp < 75"),))
    two = Regimen((Administration(Bolus("1 IU"), Schedule(every="8 h", count=6), cycle=1),
                   Administration(Bolus("1 IU"), Schedule(every="8 h", count=3, start="96 h"),
                                  cycle=2)))
    r = run(toxic_model(recovery=0.0), Protocol((Drug.of("IL-2", two, holds=rules),)), 200.0)
    assert list(r.dose_log.reason) == [""] * 5 + ["discontinued: sbp < 75"] + \
        ["discontinued"] * 3
    with pytest.raises(ProtocolError, match="max_doses_per_cycle"):
        Drug.of("IL-2", q8h(3), max_doses_per_cycle=0)
    with pytest.raises(ProtocolError, match="regimen"):
        Drug("IL-2", (Regimen(),))


def test_each_drug_is_held_by_its_own_rules() -> None:
    il2 = Drug.of("IL-2", q8h(6), holds=None)
    partner = Drug("IFN-alpha", (Regimen.of(Bolus("1 IU"), Schedule(every="8 h", count=6,
                                                                     start="4 h")),),
                   holds=HoldRules(hold=(Condition.parse("sbp < 95"),)))
    r = run(toxic_model(recovery=0.0), Protocol((il2, partner)), 60.0)
    log = r.dose_log
    assert (log[log.drug == "IL-2"].status == "given").all()
    # the partner's doses are held once SBP < 95 (3 doses given before its 2nd slot at 12 h)
    assert list(log[log.drug == "IFN-alpha"].reason[:2]) == ["", "held: sbp < 95"]


def test_a_continuous_infusion_split_in_segments_is_interrupted_and_resumed() -> None:
    """A 24-h infusion of 1 IU/h in 8-h segments, each decided at its start; exact amounts."""
    # A' = rate - A (k = 1/h), SBP = 120 - 10 A: infusing, A -> 1 - exp(-t) and SBP < 118
    # at 8 h (held); after 8 h off SBP is back above 118 at 16 h (given again)
    infusion = Regimen.of(Infusion(rate="1 IU/h", duration="24 h"), Schedule(at=["0 h"]))
    drug = Drug.of("IL-2", infusion, holds=HoldRules(hold=(Condition.parse("sbp < 118"),)),
                   segment_h=8.0)
    r = run(toxic_model(recovery=1.0), Protocol((drug,)), 24.0,
            times=np.array([0.0, 8.0, 16.0, 24.0]))
    log = r.dose_log
    assert list(log.time_h) == [0.0, 8.0, 16.0] and np.allclose(log.duration_h, 8.0)
    assert list(log.reason) == ["", "held: sbp < 118", ""]
    a8 = 1 - np.exp(-8.0)
    expected = [0.0, a8, a8 * np.exp(-8.0), a8 * np.exp(-16.0) + 1 - np.exp(-8.0)]
    assert np.allclose(r["A"][0], expected, rtol=1e-4, atol=1e-8)


def growth_per_h(pct_per_course: float) -> float:
    return float(np.log(1 + pct_per_course / 100) / (84 * 24))


@pytest.mark.parametrize("rule", ["shrinkage", "response", "response_or_stable"])
def test_no_course_follows_a_scan_that_shows_progression(rule: str) -> None:
    """Patients whose scans show progression (tumour volume x4 in 12 weeks: the sum of
    diameters +30% at the first scan, RECIST PD) never get another course; shrinking tumours
    (-90% in 12 weeks: PR at every scan) get all of them."""
    model = toxic_model(recovery=5.0)
    protocol = label(3, retreat_if=rule)
    days = np.arange(0.0, 3 * 84 + 1)
    scans = Scans(np.array([7, 8]), np.array([2, 2]), seed=3, times=np.array([47.0, 103.0,
                                                                             159.0]) * 24)
    r = simulate(model, protocol.regimen(), {"growth": [growth_per_h(300), growth_per_h(-90)]},
                 days * 24, covariates={"weight": [1.0, 1.0]},
                 decider=ProtocolDecider(protocol, scans=scans))
    log = r.dose_log
    growing, shrinking = log[log.patient == 0], log[log.patient == 1]
    assert (growing[growing.course == 1].status == "given").all()
    assert (growing[growing.course == 2].reason == "not retreated: progression").all()
    assert (growing[growing.course == 3].reason == "not retreated: course before not given"
            ).all()
    assert (shrinking.status == "given").all() and shrinking.course.max() == 3


def test_restaging_without_scan_days_is_recorded() -> None:
    model = toxic_model(recovery=5.0)
    protocol = label(2, retreat_if="response")
    decider = ProtocolDecider(protocol)
    simulate(model, protocol.regimen(), {"growth": growth_per_h(-40)}, [0.0, 2 * 84 * 24],
             covariates={"weight": 1.0}, decider=decider)
    (row,) = decider.restaging
    # SOD of one lesion of 100 mL then 60 mL: 10 * (6V/pi)^(1/3) mm, measured with 5% noise
    assert row["course"] == 2 and row["time"] == 84 * 24
    assert abs(row["sod_mm"] / (10 * (6 * 60 / np.pi) ** (1 / 3)) - 1) < 0.25


def test_the_label_protocol_is_one_instance() -> None:
    p = label_protocol()
    (drug,) = p.drugs
    assert drug.holds is LABEL_HOLDS and drug.max_doses_per_cycle == 14
    ev = p.regimen().events()
    assert len(ev) == 5 * 28 and list(ev.course.unique()) == [1, 2, 3, 4, 5]
    assert ev.groupby(["course", "cycle"]).size().eq(14).all()
    assert ev[ev.course == 2].time_h.min() == 84 * 24
    with pytest.raises(ProtocolError, match="courses"):
        Protocol(p.drugs, courses=0)
    with pytest.raises(ProtocolError, match="longer than"):
        Protocol(p.drugs, courses=2, course_every_days=10.0)
