"""Model events (SBML L3V2 section 4.12 semantics) against exact solutions."""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable
from functools import partial

import numpy as np
import pytest
from numpy.typing import NDArray
from one_compartment import MODEL

from il2sim import (
    Bolus,
    EngineError,
    Event,
    Model,
    ModelError,
    Param,
    Regimen,
    Schedule,
    State,
    simulate,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}
SRC = "test model"


def decay(*events: Event, log: bool = False, x0: float = 1.0) -> Model:
    """x' = -k*x (k = 1), y' = 1: x = x0*exp(-k*t) between events, y = t."""
    return Model("decay", "decay with events", "exact solutions", "day",
                 (State("x", x0, "1", "decaying", log=log), State("y", 0.0, "1", "clock")),
                 (Param("k", 1.0, "1/day", "rate", SRC), Param("q", 0.0, "1", "record", SRC,
                                                              (-math.inf, math.inf))),
                 {"x": "-k*x", "y": "1"}, events=events)


def test_a_state_trigger_fires_at_its_root_and_resets_states_and_parameters() -> None:
    # x crosses 1/2 at ln 2; reset to 1 with k doubled: next crossing ln 2 / 2 later, ...
    model = decay(Event("reset", "x < 0.5", (("x", "1"), ("k", "2*k"))))
    first, second = math.log(2), math.log(2) * 1.5
    times = np.array([0.0, 0.5, first, 1.0, second, 1.2])
    result = simulate(model, None, times=times, **TOL)
    expected = [1.0, math.exp(-0.5), 1.0, math.exp(-2 * (1.0 - first)), 1.0,
                math.exp(-4 * (1.2 - second))]
    np.testing.assert_allclose(result["x"][0], expected, rtol=1e-8)
    assert result.param_values is not None
    np.testing.assert_array_equal(result.param_values[0, :, 0], [1, 1, 2, 2, 4, 4])
    assert result.params["k"][0] == 1.0  # the parameters the run started from


def test_a_log_state_is_assigned_in_natural_units() -> None:
    model = decay(Event("reset", "x < 0.5", (("x", "1"),)), log=True)
    result = simulate(model, None, times=[0.0, 1.0], **TOL)
    np.testing.assert_allclose(result["x"][0, 1], math.exp(-(1.0 - math.log(2))), rtol=1e-8)


def test_time_triggers_and_delays_are_exact() -> None:
    # y' = k until k = 0 at 2 + 1.25 exactly: the output at 3.25 is already after the
    # event (right-continuous), which a time found to within rounding would miss
    model = Model("clock", "clock", "exact", "day", (State("y", 0.0, "1", "clock"),),
                  (Param("k", 1.0, "1", "rate", SRC),), {"y": "k"},
                  events=(Event("stop", "t >= 2", (("k", "0"),), delay="1.25"),))
    times = [0.0, 2.0, 3.25 - 1e-12, 3.25, 5.0]
    result = simulate(model, None, times=times, **TOL)
    assert result.param_values is not None
    assert result.param_values[0, :, 0].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    np.testing.assert_allclose(result["y"][0], [0.0, 2.0, 3.25, 3.25, 3.25], atol=1e-11)


def test_initial_value_decides_whether_a_trigger_true_at_t0_fires() -> None:
    times = [0.0, 1.0]
    fires = simulate(decay(Event("e", "y >= 0", (("q", "5"),), initial_value=False)), None,
                     times=times, **TOL)
    waits = simulate(decay(Event("e", "y >= 0", (("q", "5"),))), None, times=times, **TOL)
    assert fires.param_values is not None and waits.param_values is not None
    assert fires.param_values[0, :, 1].tolist() == [5.0, 5.0]  # reported after the event
    assert waits.param_values[0, :, 1].tolist() == [0.0, 0.0]


def test_values_from_trigger_time_or_from_execution_time() -> None:
    def run(flag: bool) -> float:
        event = Event("e", "t >= 1", (("q", "y"),), delay="1",
                      use_values_from_trigger_time=flag)
        result = simulate(decay(event), None, times=[0.0, 3.0], **TOL)
        assert result.param_values is not None
        return float(result.param_values[0, -1, 1])

    assert run(True) == pytest.approx(1.0, abs=1e-9)
    assert run(False) == pytest.approx(2.0, abs=1e-9)


def test_a_non_persistent_event_is_cancelled_when_its_trigger_turns_false() -> None:
    trigger = "(t >= 1) & (t < 1.2)"
    for persistent, expected in ((True, 7.0), (False, 0.0)):
        event = Event("e", trigger, (("q", "7"),), delay="0.5", persistent=persistent)
        result = simulate(decay(event), None, times=[0.0, 2.0], **TOL)
        assert result.param_values is not None
        assert result.param_values[0, -1, 1] == expected


def test_simultaneous_events_go_by_priority_evaluated_after_each_execution() -> None:
    # SBML Test Suite case 00934: A (priority 10) first; then B (2*S2) and C (2*S1) with
    # S1 = 1, S2 = 0 after A: C first, then B (now 2*S2 = 4 > 2*S1 = 6? no: S1 = 3, S2 = 2:
    # B's priority 4 < C's 6 was decided before; B runs last): final S1 = 2, S2 = 1.
    model = Model("prio", "priorities", "SBML Test Suite 00934", "second",
                  (State("S1", 0.0, "1", "s1"), State("S2", 0.0, "1", "s2")), (),
                  {"S1": "0", "S2": "0"},
                  events=(Event("A", "t >= 0.99", (("S1", "1"), ("S2", "0")), priority="10"),
                          Event("B", "t >= 0.99", (("S1", "2"), ("S2", "1")), priority="2*S2"),
                          Event("C", "t >= 0.99", (("S1", "3"), ("S2", "2")),
                                priority="2*S1")))
    result = simulate(model, None, times=[0.0, 1.0], **TOL)
    assert result["S1"][0].tolist() == [0.0, 2.0]
    assert result["S2"][0].tolist() == [0.0, 1.0]


def test_an_execution_can_trigger_another_event_at_the_same_time() -> None:
    model = decay(Event("first", "t >= 1", (("q", "1"),)),
                  Event("second", "q > 0.5", (("x", "3"),)))
    result = simulate(model, None, times=[0.0, 1.0, 2.0], **TOL)
    np.testing.assert_allclose(result["x"][0], [1.0, 3.0, 3 * math.exp(-1.0)], rtol=1e-8)


def test_each_patient_fires_at_its_own_time() -> None:
    model = decay(Event("reset", "x < 0.5", (("q", "t"),)))
    result = simulate(model, None, params={"k": [1.0, 2.0]}, times=[0.0, 2.0], **TOL)
    assert result.param_values is not None
    np.testing.assert_allclose(result.param_values[:, -1, 1], [math.log(2), math.log(2) / 2],
                               rtol=1e-9)


def test_events_that_retrigger_forever_fail_the_patient() -> None:
    model = decay(Event("up", "q < 0.5", (("q", "1"),), initial_value=False),
                  Event("down", "q > 0.5", (("q", "0"),)))
    result = simulate(model, None, times=[0.0, 1.0], on_failure="record", **TOL)
    assert result.status[0] == "failed" and "keep firing" in result.message[0]


def test_the_native_backend_refuses_delays_with_events_in_one_line() -> None:
    """The one construct of an event model the native backend cannot simulate: delay()."""
    model = dataclasses.replace(decay(Event("reset", "x < 0.5", (("x", "1"),))),
                                equations={"x": "-k*delay(x, 0.5)", "y": "1"})
    simulate(model, None, times=[0.0, 1.0], **TOL)  # the reference backend simulates it
    with pytest.raises(EngineError) as info:
        simulate(model, None, times=[0.0, 1.0], backend="native")
    message = str(info.value)
    assert "delay()" in message and "backend='scipy'" in message and "\n" not in message


def test_models_without_events_report_no_parameter_trajectories() -> None:
    assert simulate(decay(), None, times=[0.0, 1.0]).param_values is None


@pytest.mark.parametrize(("event", "message"), [
    (Event("e", "x < 1", (("z", "1"),)), "target 'z' is neither a state nor a parameter"),
    (Event("e", "x + 1", (("x", "1"),)), "is not a condition"),
    (Event("e", "x < w", (("x", "1"),)), "unknown symbol 'w'"),
    (Event("e", "x < 1", (("x", "1"),), delay="w"), "unknown symbol 'w'"),
])
def test_bad_events_are_named(event: Event, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        decay(event)


def test_an_event_assigning_a_target_twice_is_refused() -> None:
    with pytest.raises(ModelError, match="assigned twice"):
        Event("e", "x < 1", (("x", "1"), ("x", "2")))


def test_events_of_equal_priority_go_in_random_order_reproducibly() -> None:
    model = decay(Event("a", "t >= 1", (("q", "1"),), priority="1"),
                  Event("b", "t >= 1", (("q", "2"),), priority="1"))

    def last(seed: int) -> float:
        result = simulate(model, None, times=[0.0, 2.0], seed=seed, **TOL)
        assert result.param_values is not None
        return float(result.param_values[0, -1, 1])

    outcomes = [last(seed) for seed in range(12)]
    assert set(outcomes) == {1.0, 2.0}  # both orders occur (chance of not: 2 in 4096)
    assert outcomes == [last(seed) for seed in range(12)]  # and a seed fixes the order


def test_a_dose_can_trigger_an_event_at_its_own_time() -> None:
    model = dataclasses.replace(MODEL, events=(Event("stop", "A > 1.5", (("k", "0"),)),))
    regimen = Regimen.of(Bolus(amount="2 IU", route="iv"), Schedule(at=["1 h"]))
    result = simulate(model, regimen, times=[0.0, 0.5, 1.0, 3.0], **TOL)
    assert result["A"][0].tolist() == [0.0, 0.0, 2.0, 2.0]  # no elimination after the dose
    assert result.param_values is not None
    assert result.param_values[0, :, 0].tolist() == [0.1, 0.1, 0.0, 0.0]


def test_the_native_backend_fires_state_triggers_at_their_roots() -> None:
    """The first test's exact solution on the native backend, read just after each root: an
    output exactly at a root is decided by the sign of the integration error (the native
    root of ``x = 1/2`` lies 3e-11 after ln 2 at rtol 1e-10, SciPy's before it)."""
    model = decay(Event("reset", "x < 0.5", (("x", "1"), ("k", "2*k"))))
    first, second = math.log(2), math.log(2) * 1.5
    after = 1e-6
    times = np.array([0.0, 0.5, first + after, 1.0, second + after, 1.2])
    result = simulate(model, None, times=times, backend="native", **TOL)
    expected = [1.0, math.exp(-0.5), math.exp(-2 * after), math.exp(-2 * (1.0 - first)),
                math.exp(-4 * after), math.exp(-4 * (1.2 - second))]
    np.testing.assert_allclose(result["x"][0], expected, rtol=1e-8)
    assert result.param_values is not None
    np.testing.assert_array_equal(result.param_values[0, :, 0], [1, 1, 2, 2, 4, 4])


# every check above except the first (outputs exactly at a state root) and those that do
# not simulate, run again with the native backend
NATIVE_CHECKS = [
    test_a_log_state_is_assigned_in_natural_units,
    test_time_triggers_and_delays_are_exact,
    test_initial_value_decides_whether_a_trigger_true_at_t0_fires,
    test_values_from_trigger_time_or_from_execution_time,
    test_a_non_persistent_event_is_cancelled_when_its_trigger_turns_false,
    test_simultaneous_events_go_by_priority_evaluated_after_each_execution,
    test_an_execution_can_trigger_another_event_at_the_same_time,
    test_each_patient_fires_at_its_own_time,
    test_events_that_retrigger_forever_fail_the_patient,
    test_events_of_equal_priority_go_in_random_order_reproducibly,
    test_a_dose_can_trigger_an_event_at_its_own_time,
]


@pytest.mark.parametrize("check", NATIVE_CHECKS, ids=lambda check: check.__name__)
def test_the_exact_event_checks_hold_with_the_native_backend(
        check: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "simulate", partial(simulate, backend="native"))
    check()


def test_native_integrate_to_root_stops_at_the_first_root_or_runs_to_the_end() -> None:
    """One segment: stopped at the root of ``x - 1/2`` (ln 2) with only the outputs before
    it, or run to the end without root functions (no step handed to Python); a time
    trigger, located without root functions, fires at its exact time."""
    from il2sim.engine.native_backend import NativeBackend
    from il2sim.model.compile import compile_model

    model = decay(Event("late", "t >= 1.5", (("k", "3"),)))
    cm = compile_model(model)
    backend = NativeBackend(threads=1)
    y0 = cm.to_internal(np.array([1.0, 0.0]))
    p = np.array([1.0, 0.0])
    calls: list[float] = []

    def root(t: float, y: NDArray[np.float64]) -> float:
        calls.append(t)
        return float(y[0] - 0.5)

    plain = backend.integrate_to_root(cm, 0.0, 2.0, y0, p, np.zeros(0), np.array([0.0, 1.0]),
                                      (), (), rtol=1e-10, atol=1e-12)
    assert plain.hit == -1 and plain.t == 2.0 and plain.y_eval.shape == (2, 2)
    np.testing.assert_allclose(plain.y[0], math.exp(-2.0), rtol=1e-8)
    watched = backend.integrate_to_root(cm, 0.0, 2.0, y0, p, np.zeros(0),
                                        np.array([0.0, 0.5, 1.0]), (root,), (-1.0,),
                                        rtol=1e-10, atol=1e-12)
    assert watched.hit == 0 and len(calls) > 3
    assert watched.t == pytest.approx(math.log(2), rel=1e-9)
    assert watched.y_eval.shape == (2, 2)  # the outputs before the root only
    np.testing.assert_allclose(watched.y[0], 0.5, rtol=1e-9)
    result = simulate(model, None, times=[0.0, 1.5, 2.0], backend="native", **TOL)
    np.testing.assert_allclose(result["x"][0],
                               [1.0, math.exp(-1.5), math.exp(-1.5 - 3 * 0.5)], rtol=1e-8)
