"""Every shipped model: documented parameters, and a simulation of its default scenario."""

from __future__ import annotations

import numpy as np
import pytest

from il2sim import ModelError, get_model, list_models, simulate
from il2sim.units import ureg

MODELS = [m.name for m in list_models()]


def test_the_library_holds_the_core_models() -> None:
    assert {"kp1998", "aldesleukin_pk"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_has_unit_source_and_meaning(name: str) -> None:
    model = get_model(name)
    assert model.citation.strip()
    for p in model.params:
        assert p.source.strip() and p.meaning.strip(), p.name
        ureg.Unit(p.unit.replace("arb", "dimensionless"))  # a unit pint can read
        assert p.bounds[0] <= p.value <= p.bounds[1]
    for s in model.states:
        ureg.Unit(s.unit.replace("arb", "dimensionless"))
    ureg.Unit(model.time_unit)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_simulates_untreated(name: str) -> None:
    model = get_model(name)
    r = simulate(model, None, times=np.linspace(0, 100, 11))
    assert r.status[0] == "ok"
    assert np.all(np.isfinite(r.states))


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(ModelError, match="unknown model 'kp98'.*kp1998"):
        get_model("kp98")
