"""Delay differential equations (``delay(x, d)``) on the SciPy backend, refused elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from il2sim import simulate
from il2sim.engine.events import EngineError
from il2sim.model.spec import Model, ModelError, Observable, Param, State

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _model(equation: str = "-delay(x, tau)") -> Model:
    return Model("dde", "x'(t) = -x(t - tau)", "method of steps, by hand", "day",
                 (State("x", 1.0, "1", "x", signed=True),),
                 (Param("tau", 1.0, "day", "delay", "test"),), {"x": equation},
                 observables=(Observable("x_late", "delay(x, 0.5) + delay(t, 0.5)", "1",
                                         "x at t - 0.5, plus t - 0.5"),))


def _exact(t: float) -> float:
    """x' = -x(t - 1), x = 1 for t <= 0, by the method of steps: a polynomial per [k, k+1]
    (sum_k (-1)^k (t - k + 1)^k / k! over the intervals begun)."""
    total, k = 0.0, 0
    while k <= t + 1 and k - 1 <= t:
        if t >= k - 1:
            total += (-1) ** k * (t - k + 1) ** k / float(np.prod(np.arange(1, k + 1)))
        k += 1
    return total


def test_linear_dde_matches_the_method_of_steps_solution() -> None:
    times = np.linspace(0.0, 4.0, 81)
    result = simulate(_model(), None, times=times, **TOL)
    x = result.states[0, :, 0]
    # [0, 1]: 1 - t; [1, 2]: 1 - t + (t - 1)^2/2; [2, 3]: ... - (t - 2)^3/6
    assert _exact(0.5) == pytest.approx(0.5)
    assert _exact(1.5) == pytest.approx(1 - 1.5 + 0.5**2 / 2)
    np.testing.assert_allclose(x, [_exact(t) for t in times], rtol=0, atol=1e-6)
    # the observable reads the history: x and time at t - 0.5, the initial x before 0
    late = result.observables[0, :, 0]
    expected = [_exact(max(t - 0.5, 0.0)) + (t - 0.5) for t in times]
    np.testing.assert_allclose(late, expected, rtol=0, atol=1e-6)


def test_delay_per_patient_parameter() -> None:
    times = np.array([0.0, 1.0, 2.0])
    result = simulate(_model(), None, times=times, params={"tau": [1.0, 2.0]}, **TOL)
    np.testing.assert_allclose(result.states[0, :, 0], [1.0, 0.0, -0.5], atol=1e-6)
    np.testing.assert_allclose(result.states[1, :, 0], [1.0, 0.0, -1.0], atol=1e-6)


@pytest.mark.parametrize("backend", ["native", "jax", "roadrunner"])
def test_other_backends_refuse_delays_in_one_line(backend: str) -> None:
    with pytest.raises(EngineError) as info:
        simulate(_model(), None, times=[0.0, 1.0], backend=backend)
    message = str(info.value)
    assert "delay()" in message and "backend='scipy'" in message and "\n" not in message


@pytest.mark.parametrize(("equation", "words"), [("-delay(x, x)", "must be constant"),
                                                  ("-delay(x, t)", "must be constant"),
                                                  ("-delay(delay(x, 1), 1)", "nested")])
def test_delays_that_are_not_constant_are_refused(equation: str, words: str) -> None:
    with pytest.raises(ModelError, match=words):
        _model(equation)
