"""Tests for il2sim.model.spec: construction, validation messages, symbolic form."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import numpy as np
import pytest
import sympy

from il2sim.model import (
    DoseRoute,
    Input,
    Intermediate,
    Model,
    ModelError,
    Observable,
    Param,
    State,
    compile_model,
)

SRC = "test source"


def small_model(**overrides: Any) -> Model:
    """Logistic growth X with a saturating intermediate, a decaying Y, an input and routes."""
    fields: dict[str, Any] = {
        "name": "small",
        "title": "small test model",
        "citation": "test citation",
        "time_unit": "day",
        "states": (
            State("X", 2.0, "cell", "growing population", log=True),
            State("Y", 0.5, "1", "decaying signal"),
        ),
        "params": (
            Param("r", 0.7, "1/day", "growth rate", SRC),
            Param("K", 3.0, "cell", "half-saturation", SRC),
            Param("d", 0.2, "1/day", "decay rate", "assumption: chosen for the test"),
            Param("F", 0.4, "1", "bioavailability", SRC, (0.0, 1.0)),
        ),
        "equations": {"X": "r*sat*X - d*X*Y + u_x", "Y": "sat - d*Y"},
        "inputs": (Input("u_x", "cell/day", "source of X"),),
        "intermediates": (Intermediate("sat", "X/(K + X)", "1", "saturation"),),
        "observables": (Observable("occ", "sat*Y", "1", "occupancy"),),
        "routes": (
            DoseRoute("x_in", "X", "cell", "infusion of X", input="u_x"),
            DoseRoute("y_sc", "Y", "1", "depot into Y", fraction="F"),
        ),
    }
    fields.update(overrides)
    return Model(**fields)


def one_state(equation: str, *, state: str = "X", params: tuple[str, ...] = ("k",),
              **overrides: Any) -> Model:
    """One linear state with one equation and parameters valued 0.5."""
    return small_model(
        states=(State(state, 1.0, "1", "state"),),
        params=tuple(Param(p, 0.5, "1", "parameter", SRC) for p in params),
        equations={state: equation},
        inputs=(),
        intermediates=(),
        observables=(),
        routes=(),
        **overrides,
    )


# --------------------------------------------------------------------------- construction


def test_small_model_construction() -> None:
    m = small_model()
    assert m.state_names == ("X", "Y")
    assert m.param_names == ("r", "K", "d", "F")
    assert m.input_names == ("u_x",)
    assert m.observable_names == ("occ",)
    assert m.default_params == {"r": 0.7, "K": 3.0, "d": 0.2, "F": 0.4}
    assert m.initial_state == {"X": 2.0, "Y": 0.5}
    assert m.param("K").value == 3.0
    assert m.param("K").unit == "cell"
    assert m.state("X").log is True
    assert m.route("y_sc").fraction == "F"
    assert m.route("x_in").input == "u_x"


def test_lookup_of_unknown_names_raises() -> None:
    m = small_model()
    with pytest.raises(ModelError, match="no parameter 'zz'"):
        m.param("zz")
    with pytest.raises(ModelError, match="no state 'zz'"):
        m.state("zz")
    with pytest.raises(ModelError, match="no dose route 'zz'"):
        m.route("zz")


def test_with_params_copies_and_validates() -> None:
    m = small_model()
    m2 = m.with_params(r=1.5)
    assert m2.param("r").value == 1.5
    assert m.param("r").value == 0.7  # original untouched
    assert m2.param("r").source == SRC
    with pytest.raises(ModelError, match=r"'F'.*outside its bounds"):
        m.with_params(F=1.5)
    with pytest.raises(ModelError, match="no parameter 'nope'"):
        m.with_params(nope=1.0)


def test_param_is_assumption() -> None:
    m = small_model()
    assert m.param("d").is_assumption is True
    assert m.param("r").is_assumption is False
    assert Param("k", 1.0, "1", "m", "Assumption: calibrated").is_assumption is True
    assert Param("k", 1.0, "1", "m", "derived from an assumption").is_assumption is False


# --------------------------------------------------------------------------- parameter/state fields


def test_param_missing_unit() -> None:
    with pytest.raises(ModelError, match=r"parameter 'k1': missing unit"):
        Param("k1", 1.0, "", "rate", SRC)
    with pytest.raises(ModelError, match=r"parameter 'k1': missing unit"):
        Param("k1", 1.0, "   ", "rate", SRC)


def test_state_missing_unit() -> None:
    with pytest.raises(ModelError, match=r"state 'X1': missing unit"):
        State("X1", 1.0, "", "state")


def test_param_missing_source() -> None:
    with pytest.raises(ModelError, match=r"parameter 'k1': missing source"):
        Param("k1", 1.0, "1/day", "rate", "  ")


def test_param_missing_meaning() -> None:
    with pytest.raises(ModelError, match=r"parameter 'k1': missing meaning"):
        Param("k1", 1.0, "1/day", "", SRC)


def test_param_value_outside_bounds() -> None:
    with pytest.raises(ModelError, match=r"parameter 'k1': value -0.5 lies outside its bounds"):
        Param("k1", -0.5, "1/day", "rate", SRC)  # default bounds (0, inf)
    with pytest.raises(ModelError, match=r"parameter 'frac': value 1.2 lies outside"):
        Param("frac", 1.2, "1", "fraction", SRC, (0.0, 1.0))
    # Negative values are fine when the bounds allow them.
    assert Param("shift", -0.5, "1", "offset", SRC, (-1.0, 1.0)).value == -0.5


def test_param_empty_bounds_and_non_finite_value() -> None:
    with pytest.raises(ModelError, match=r"parameter 'k1': bounds .* are empty"):
        Param("k1", 1.0, "1", "rate", SRC, (2.0, 1.0))
    with pytest.raises(ModelError, match=r"parameter 'k1': value nan is not finite"):
        Param("k1", math.nan, "1", "rate", SRC)


@pytest.mark.parametrize("initial", [0.0, -1.0])
def test_log_state_needs_positive_initial_value(initial: float) -> None:
    with pytest.raises(ModelError, match=r"state 'T0': integrated as log\(state\)"):
        State("T0", initial, "cell", "tumour", log=True)


def test_negative_initial_value_of_linear_state() -> None:
    with pytest.raises(ModelError, match=r"state 'A1': negative initial value"):
        State("A1", -1.0, "IU", "amount")
    assert State("A1", 0.0, "IU", "amount").initial == 0.0


@pytest.mark.parametrize("name", ["t", "exp", "log", "pi", "Max", "lambda"])
def test_reserved_names(name: str) -> None:
    with pytest.raises(ModelError, match=rf"parameter name '{name}' is reserved"):
        Param(name, 1.0, "1", "m", SRC)
    with pytest.raises(ModelError, match=rf"state name '{name}' is reserved"):
        State(name, 1.0, "1", "m")


@pytest.mark.parametrize("name", ["1k", "k-1", "_k", "k 1", "", "kß"])
def test_invalid_identifiers(name: str) -> None:
    with pytest.raises(ModelError, match=rf"parameter name '{re.escape(name)}' is not a valid"):
        Param(name, 1.0, "1", "m", SRC)
    with pytest.raises(ModelError, match=rf"input name '{re.escape(name)}' is not a valid"):
        Input(name, "1", "m")


# --------------------------------------------------------------------------- model-level checks


def test_unknown_symbol_in_equation() -> None:
    with pytest.raises(ModelError, match=r"equation of 'X': unknown symbol 'zeta_q'"):
        one_state("-k*X + zeta_q")


def test_unknown_symbol_in_observable_and_intermediate() -> None:
    with pytest.raises(ModelError, match=r"observable 'occ': unknown symbol 'Q9'"):
        small_model(observables=(Observable("occ", "Q9*Y", "1", "o"),))
    with pytest.raises(ModelError, match=r"intermediate 'sat': unknown symbol 'K2'"):
        small_model(intermediates=(Intermediate("sat", "X/(K2 + X)", "1", "s"),))


def test_intermediate_cannot_use_a_later_intermediate() -> None:
    with pytest.raises(ModelError, match=r"intermediate 'a1': unknown symbol 'a2'"):
        small_model(intermediates=(Intermediate("a1", "2*a2", "1", "a"),
                                   Intermediate("a2", "X", "1", "b"),
                                   Intermediate("sat", "X/(K + X)", "1", "s")))


def test_unknown_function() -> None:
    with pytest.raises(ModelError, match=r"equation of 'X': unknown function 'foo'"):
        one_state("-k*foo(X)")
    with pytest.raises(ModelError, match=r"equation of 'X': unknown function 'gamma'"):
        one_state("gamma(X)")


@pytest.mark.parametrize("text", ["k*X +* (", "k*X)", "k**", "X!"])
def test_unparseable_expression(text: str) -> None:
    with pytest.raises(ModelError, match=rf"equation of 'X': cannot parse '{re.escape(text)}'"):
        one_state(text)


def test_empty_expression() -> None:
    with pytest.raises(ModelError, match=r"equation of 'X': empty expression"):
        one_state("  ")


@pytest.mark.parametrize(
    ("overrides", "kind"),
    [
        ({"params": (Param("X", 1.0, "1", "m", SRC),)}, "parameter"),
        ({"inputs": (Input("r", "1", "m"),)}, "input"),
        ({"inputs": (Input("Y", "1", "m"),)}, "input"),
        ({"observables": (Observable("d", "Y", "1", "m"),)}, "observable"),
        ({"observables": (Observable("u_x", "Y", "1", "m"),)}, "observable"),
        ({"intermediates": (Intermediate("K", "X", "1", "m"),)}, "intermediate"),
    ],
)
def test_duplicate_names(overrides: dict[str, Any], kind: str) -> None:
    clash = next(iter(overrides.values()))[0].name
    with pytest.raises(ModelError, match=rf"duplicate name '{clash}' \({kind} clashes"):
        small_model(**overrides)


def test_duplicate_state_names() -> None:
    with pytest.raises(ModelError, match=r"duplicate name 'X' \(state clashes"):
        small_model(states=(State("X", 1.0, "1", "a"), State("X", 2.0, "1", "b")),
                    equations={"X": "-X"}, routes=(), observables=(), intermediates=())


def test_equation_for_unknown_state() -> None:
    with pytest.raises(ModelError, match=r"equation for unknown state 'Z'"):
        small_model(equations={"X": "-d*X", "Y": "-d*Y", "Z": "1"})


def test_state_without_equation() -> None:
    with pytest.raises(ModelError, match=r"no equation for state 'Y'"):
        small_model(equations={"X": "-d*X"})


def test_route_to_unknown_state() -> None:
    with pytest.raises(ModelError, match=r"route 'bad': unknown state 'Q'"):
        small_model(routes=(DoseRoute("bad", "Q", "1", "m"),))


def test_route_to_unknown_input() -> None:
    with pytest.raises(ModelError, match=r"route 'bad': unknown input 'u_missing'"):
        small_model(routes=(DoseRoute("bad", "X", "1", "m", input="u_missing"),))


def test_route_to_unknown_fraction_parameter() -> None:
    with pytest.raises(ModelError, match=r"route 'bad': unknown fraction parameter 'F_miss'"):
        small_model(routes=(DoseRoute("bad", "Y", "1", "m", fraction="F_miss"),))


def test_duplicate_route_names() -> None:
    with pytest.raises(ModelError, match=r"duplicate name 'x_in' \(route"):
        small_model(routes=(DoseRoute("x_in", "X", "1", "m"), DoseRoute("x_in", "Y", "1", "m")))


def test_missing_citation_and_no_states() -> None:
    with pytest.raises(ModelError, match=r"model 'small': missing citation"):
        small_model(citation=" ")
    with pytest.raises(ModelError, match=r"model 'small': no states"):
        small_model(states=(), equations={}, routes=(), intermediates=(), observables=())


# --------------------------------------------------------------------------- symbols


def test_declared_E_is_a_symbol_not_eulers_number() -> None:
    m = one_state("-k*E", state="E")
    (rhs,) = m.symbolic.rhs
    assert not rhs.has(sympy.E)
    assert rhs.free_symbols == {sympy.Symbol("E", real=True), sympy.Symbol("k", real=True)}
    value = float(rhs.subs({sympy.Symbol("E", real=True): 3.0,
                            sympy.Symbol("k", real=True): 0.5}))
    assert value == pytest.approx(-1.5, rel=1e-15)  # Euler's number would give -1.359...
    # The compiled right-hand side uses the state's value, too.
    c = compile_model(m)
    out = c.rhs_one(0.0, np.array([3.0]), np.array([0.5]), np.zeros(0))
    assert out[0] == pytest.approx(-1.5, rel=1e-15)


def test_E_as_parameter_name() -> None:
    m = one_state("-E*X", params=("E",))
    c = compile_model(m)
    out = c.rhs_one(0.0, np.array([4.0]), np.array([0.25]), np.zeros(0))
    assert out[0] == pytest.approx(-1.0, rel=1e-15)


def test_undeclared_E_is_an_unknown_symbol() -> None:
    with pytest.raises(ModelError, match=r"equation of 'X': unknown symbol 'E'"):
        one_state("-k*X + E")


def test_exp_of_one_is_allowed_as_eulers_number() -> None:
    m = one_state("-k*X*exp(1)")
    c = compile_model(m)
    out = c.rhs_one(0.0, np.array([2.0]), np.array([0.5]), np.zeros(0))
    assert out[0] == pytest.approx(-math.e, rel=1e-15)


def test_intermediates_are_substituted() -> None:
    m = small_model(intermediates=(
        Intermediate("sat", "X/(K + X)", "1", "saturation"),
        Intermediate("act", "r*sat", "1/day", "activity"),  # uses an earlier intermediate
    ), equations={"X": "act*X - d*X*Y + u_x", "Y": "sat - d*Y"})
    sym = m.symbolic
    X, Y, K, r, d, u = (sympy.Symbol(n, real=True) for n in ("X", "Y", "K", "r", "d", "u_x"))
    names = {"sat", "act"}
    for expr in (*sym.rhs, *sym.observables):
        assert not names & {str(s) for s in expr.free_symbols}
    assert sympy.simplify(sym.rhs[0] - (r * X / (K + X) * X - d * X * Y + u)) == 0
    assert sympy.simplify(sym.rhs[1] - (X / (K + X) - d * Y)) == 0
    assert sympy.simplify(sym.observables[0] - X / (K + X) * Y) == 0
    assert sympy.simplify(sym.intermediates["act"] - r * X / (K + X)) == 0
    # numerically, at X = 2, Y = 0.5: sat = 2/5, act = 0.28
    vals = {X: 2.0, Y: 0.5, K: 3.0, r: 0.7, d: 0.2, u: 0.0}
    assert float(sym.rhs[0].subs(vals)) == pytest.approx(0.28 * 2.0 - 0.2 * 2.0 * 0.5, rel=1e-14)
    assert float(sym.observables[0].subs(vals)) == pytest.approx(0.2, rel=1e-14)


def test_model_is_immutable() -> None:
    m = small_model()
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.params[0].value = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(("name", "text"), [("Float", "-0.5*Float*X"),
                                            ("Integer", "-2*Integer*X")])
def test_parser_global_names_are_reserved_or_work(name: str, text: str) -> None:
    try:
        m = one_state(text, params=(name,))
    except ModelError as exc:  # acceptable fix: the name is reserved at declaration
        assert "reserved" in str(exc)
    else:  # other acceptable fix: the name is an ordinary symbol
        c = compile_model(m)
        out = c.rhs_one(0.0, np.array([2.0]), np.array([0.5]), np.zeros(0))
        factor = 0.5 if name == "Float" else 2.0
        assert out[0] == pytest.approx(-factor * 0.5 * 2.0, rel=1e-15)
