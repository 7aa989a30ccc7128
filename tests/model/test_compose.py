"""Composition of models from components."""

from __future__ import annotations

import pytest

from il2sim import ModelError, Observable, Param, State
from il2sim.model.compose import Component, compose
from il2sim.model.library.il2_qsp import default_components, il2_qsp


def source() -> Component:
    return Component("source", "a constant source", states=(State("x", 1.0, "1", "x"),),
                     params=(Param("k_in", 2.0, "1/h", "inflow", "test"),),
                     terms={"x": "k_in"})


def sink() -> Component:
    return Component("sink", "first-order loss of x",
                     params=(Param("k_out", 0.5, "1/h", "outflow", "test"),),
                     observables=(Observable("x2", "2*x", "1", "twice x"),),
                     terms={"x": "-k_out*x"})


def test_terms_from_components_add_up() -> None:
    model = compose("two", "two parts", "test", "h", [source(), sink()])
    assert model.equations["x"] == "(k_in) + (-k_out*x)"
    assert "source: a constant source" in model.notes


def test_a_state_with_no_terms_is_constant() -> None:
    model = compose("one", "one part", "test", "h",
                    [Component("c", "only a state", states=(State("y", 3.0, "1", "y"),))])
    assert model.equations["y"] == "0"


def test_terms_for_an_unknown_state_or_a_repeated_component_are_errors() -> None:
    with pytest.raises(ModelError, match="component 'sink' adds a term to unknown state 'x'"):
        compose("bad", "bad", "test", "h", [sink()])
    with pytest.raises(ModelError, match="component 'source' appears twice"):
        compose("bad", "bad", "test", "h", [source(), source()])
    with pytest.raises(ModelError, match="unknown symbol 'k_in'"):
        compose("bad", "bad", "test", "h",
                [Component("c", "c", states=(State("x", 1.0, "1", "x"),), terms={"x": "k_in"})])


def test_the_flagship_model_swaps_a_component() -> None:
    parts = default_components()
    names = [c.name for c in parts]
    assert names == ["pk", "ifn", "local", "receptors", "immune", "clone", "tumour", "leak"]
    no_ifn = [c if c.name != "ifn" else Component(
        "ifn", "no interferon", intermediates=(), terms={},
        params=(Param("imax_ifn", 0.0, "1", "no effect", "test"),),
        states=(State("e_ifn", 0.0, "1", "no effect"),),
    ) for c in parts]
    # mhc is still needed by the tumour component: the swap must provide it
    with pytest.raises(ModelError, match="unknown symbol 'mhc'"):
        il2_qsp(no_ifn)
    assert len(il2_qsp().states) == 28
