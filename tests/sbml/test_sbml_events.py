"""SBML events and the math functions added to the spec: import against libRoadRunner,
round trips through export, and SBML quantities that are negative or infinite."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import libsbml
import numpy as np
import pytest

from il2sim import Event, Model, Param, State, simulate
from il2sim.sbml import export_sbml, import_sbml, read_sbml

roadrunner = pytest.importorskip("roadrunner")
roadrunner.Logger.setLevel(roadrunner.Logger.LOG_ERROR)

TOL = {"rtol": 1e-10, "atol": 1e-12}
L3 = ('<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/'
      'version2/core" level="3" version="2"><model id="m">{body}</model></sbml>')


def mathml(formula: str) -> str:
    node = libsbml.parseL3Formula(formula)
    assert node is not None, libsbml.getLastParseL3Error()
    return libsbml.writeMathMLToString(node).split("?>", 1)[1]


def event(eid: str, trigger: str, assignments: dict[str, str], *, delay: str | None = None,
          priority: str | None = None, persistent: bool = True, initial: bool = True,
          trigger_values: bool = True) -> str:
    body = "".join(f'<eventAssignment variable="{v}">{mathml(f)}</eventAssignment>'
                   for v, f in assignments.items())
    return (f'<event id="{eid}" useValuesFromTriggerTime="{str(trigger_values).lower()}">'
            f'<trigger initialValue="{str(initial).lower()}" '
            f'persistent="{str(persistent).lower()}">{mathml(trigger)}</trigger>'
            + (f"<delay>{mathml(delay)}</delay>" if delay else "")
            + (f"<priority>{mathml(priority)}</priority>" if priority else "")
            + f"<listOfEventAssignments>{body}</listOfEventAssignments></event>")


def run_roadrunner(sbml: str, times: Sequence[float], names: Sequence[str]) -> np.ndarray:
    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-14
    return np.asarray(rr.simulate(float(times[0]), float(times[-1]), len(times),
                                  ["time", *names]))[:, 1:]


# A species in a compartment that an event resizes, a reaction, parameters set by events
# with delays, priorities, persistence and values from trigger or execution time, and the
# functions sin, cos, arctan, arccot, floor, ceiling, quotient, rem and factorial of
# variables.
EVENTS = L3.format(body=(
    '<listOfCompartments><compartment id="c" size="2" constant="false"/></listOfCompartments>'
    '<listOfSpecies><species id="S" compartment="c" initialConcentration="4" '
    'hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>'
    '</listOfSpecies><listOfParameters>'
    '<parameter id="k" value="0.5" constant="false"/>'
    '<parameter id="n" value="0" constant="false"/>'
    '<parameter id="late" value="0" constant="false"/>'
    '<parameter id="gone" value="0" constant="false"/>'
    '<parameter id="w" value="0" constant="false"/>'
    '<parameter id="f" constant="false"/>'
    '</listOfParameters><listOfRules>'
    '<rateRule variable="w">' + mathml("sin(time) * cos(S) + arctan(S) - arccot(S + 1)")
    + "</rateRule>"
    '<assignmentRule variable="f">'
    + mathml("floor(2.5 * time) + ceiling(S) + quotient(-7, n + 2) + rem(-7.5, n + 2) "
             "+ factorial(n + 1)")
    + "</assignmentRule></listOfRules>"
    '<listOfReactions><reaction id="r" reversible="false"><listOfReactants>'
    '<speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>'
    "<kineticLaw>" + mathml("k * S * c") + "</kineticLaw></reaction></listOfReactions>"
    "<listOfEvents>"
    + event("low", "S < 1", {"S": "4", "n": "n + 1"}, priority="1")
    + event("resize", "time >= 3", {"c": "1"}, priority="2")
    + event("slow", "n >= 2", {"k": "k / 2", "late": "w"}, delay="0.5",
            trigger_values=False)
    + event("cancelled", "(time > 1) && (S > 2)", {"gone": "1"}, delay="10",
            persistent=False)
    + "</listOfEvents>"))


@pytest.mark.parametrize("backend", ["scipy", "native"])
def test_events_and_functions_import_and_match_libroadrunner(tmp_path: Path,
                                                             backend: str) -> None:
    path = tmp_path / "events.xml"
    path.write_text(EVENTS)
    imported = read_sbml(path)
    assert {e.name for e in imported.model.events} == {"low", "resize", "slow", "cancelled"}
    times = np.linspace(0, 12, 241)
    result = simulate(imported.model, None, times=times, backend=backend, **TOL)
    ids = ["S", "k", "n", "late", "gone", "w", "f", "c"]
    ours = np.stack([imported.trajectory(result, "S", "concentration")[0],
                     *[imported.trajectory(result, i)[0] for i in ids[1:]]], 1)
    theirs = run_roadrunner(EVENTS, times, ["[S]", *ids[1:]])
    assert ours[-1, 2] >= 3  # the reset fired repeatedly
    assert np.all(ours[:, 4] == 0)  # the non-persistent event never executed
    # outputs at an event time: both report the state after the event (right-continuous);
    # away from event times the two integrators agree to their tolerance
    for j, name in enumerate(ids):
        np.testing.assert_allclose(ours[:, j], theirs[:, j], rtol=1e-6, atol=1e-8,
                                   err_msg=name)


def test_a_model_with_events_survives_export_import_and_matches_libroadrunner(
        tmp_path: Path) -> None:
    src = "test"
    model = Model(
        "ev", "events", "exact", "day",
        (State("x", 1.0, "1", "decaying", log=True), State("y", 0.0, "1", "clock")),
        (Param("k", 1.0, "1/day", "rate", src), Param("q", 0.0, "1", "record", src,
                                                      (-math.inf, math.inf))),
        {"x": "-k*x", "y": "1"},
        events=(Event("reset", "(x < 0.5) | (t >= 3)", (("x", "1"), ("k", "2*k")),
                      delay="0.1", priority="k", persistent=False, initial_value=False,
                      use_values_from_trigger_time=False, meaning="reset"),
                Event("mark", "y > 2.05", (("q", "floor(y*10) + sin(x)"),))))
    path = tmp_path / "ev.xml"
    text = export_sbml(model, path)
    again = import_sbml(path)
    for a, b in zip(again.events, model.events, strict=True):  # same event, same flags
        assert (a.name, a.persistent, a.initial_value, a.use_values_from_trigger_time,
                a.meaning) == (b.name, b.persistent, b.initial_value,
                               b.use_values_from_trigger_time, b.meaning)
    assert again.symbolic.events == model.symbolic.events  # same expressions
    assert [s.log for s in again.states] == [True, False]
    times = np.linspace(0, 5, 51)
    ours = simulate(model, None, times=times, **TOL)
    back = simulate(again, None, times=times, **TOL)
    np.testing.assert_array_equal(back.states, ours.states)
    np.testing.assert_array_equal(back.param_values, ours.param_values)
    assert ours.param_values is not None
    theirs = run_roadrunner(text, times, ["x", "y", "k", "q"])
    mine = np.concatenate([ours.states[0], ours.param_values[0]], axis=1)
    np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-9)


def test_negative_and_infinite_sbml_values(tmp_path: Path) -> None:
    path = tmp_path / "signs.xml"
    path.write_text(L3.format(body=(
        '<listOfParameters><parameter id="a" value="-2" constant="false"/>'
        '<parameter id="big" value="INF" constant="true"/>'
        '<parameter id="v" constant="false"/></listOfParameters><listOfRules>'
        f'<rateRule variable="a">{mathml("-a")}</rateRule>'
        f'<assignmentRule variable="v">{mathml("min(big, a)")}</assignmentRule>'
        "</listOfRules>")))
    imported = read_sbml(path)
    assert imported.model.state("a").signed
    result = simulate(imported.model, None, times=[0.0, 1.0], **TOL)
    np.testing.assert_allclose(result["a"][0], [-2.0, -2.0 * math.exp(-1.0)], rtol=1e-8)
    assert imported.trajectory(result, "big")[0].tolist() == [math.inf, math.inf]
    np.testing.assert_allclose(imported.trajectory(result, "v")[0], result["a"][0])


def test_the_jacobian_of_new_functions_is_exact() -> None:
    from scipy.special import digamma

    from il2sim import compile_model

    model = Model("g", "gamma", "exact", "day", (State("x", 2.5, "1", "x"),), (),
                  {"x": "-factorial(x - 1) + floor(x) + sin(x)"})
    compiled = compile_model(model)
    x = np.array([2.5])
    none = np.zeros(0)
    jac = compiled.jac_one(0.0, x, none, none)[0, 0]
    assert jac == pytest.approx(-math.gamma(2.5) * digamma(2.5) + math.cos(2.5), rel=1e-12)
    batch = compiled.rhs(0.0, x[None, :], np.zeros((1, 0)), np.zeros((1, 0)))
    assert batch[0, 0] == pytest.approx(-math.gamma(2.5) + 2 + math.sin(2.5), rel=1e-12)


def t0_model(initial: bool) -> str:
    """``p1`` starts exactly at 1 and falls (``dp1/dt = -1``); the event ``p1 >= 1`` sets
    ``p2 = 3`` (``dp2/dt = p2``, ``p2(0) = 1``)."""
    return L3.format(body=(
        '<listOfParameters>'
        '<parameter id="p1" value="1" constant="false"/>'
        '<parameter id="p2" value="1" constant="false"/>'
        '</listOfParameters><listOfRules>'
        f'<rateRule variable="p1">{mathml("-1")}</rateRule>'
        f'<rateRule variable="p2">{mathml("p2")}</rateRule>'
        '</listOfRules><listOfEvents>'
        + event("E", "p1 >= 1", {"p2": "3"}, initial=initial)
        + '</listOfEvents>'))


@pytest.mark.parametrize("initial", [False, True])
def test_a_trigger_true_only_at_t0_fires_there_when_its_initial_value_is_false(
        tmp_path: Path, initial: bool) -> None:
    """SBML L3V2 section 4.12.2: with ``initialValue="false"`` a trigger true at t0 fires
    at t0, even when it is false right after. Exact solution: ``p1 = 1 - t`` and
    ``p2 = 3 e^t`` (fired) or ``e^t`` (``initialValue="true"``: no transition, no firing)."""
    path = tmp_path / "t0.xml"
    path.write_text(t0_model(initial))
    imported = read_sbml(path)
    times = np.linspace(0.0, 2.0, 21)
    result = simulate(imported.model, None, times=times, **TOL)
    p1 = imported.trajectory(result, "p1")[0]
    p2 = imported.trajectory(result, "p2")[0]
    np.testing.assert_allclose(p1, 1 - times, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(p2, (1.0 if initial else 3.0) * np.exp(times), rtol=1e-8)
