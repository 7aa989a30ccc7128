"""An edited model is simulated as edited by every backend (issue 14, item 1).

Each case edits one kind of model content (an observable's expression, an equation, an
intermediate, a dose route, an event, a parameter's default) of a library model and keeps
every name. The unedited model runs first, so a cache keyed by less than the model's full
content hands the edited model the unedited model's code: the native backend used to return
the old ``tumour_fraction`` after the observable was doubled.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from il2sim import Bolus, Event, Infusion, Intermediate, Model, Regimen, Schedule, simulate
from il2sim.model import get_model, model_fingerprint
from il2sim.model.fingerprint import model_version

TOL = {"rtol": 1e-9, "atol": 1e-10}


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


BACKENDS = ["scipy", "native"] + [b for b, m in (("jax", "diffrax"), ("roadrunner", "roadrunner"))
                                  if _have(m)]


class Edit(NamedTuple):
    base: Callable[[], Model]
    edit: Callable[[Model], Model]
    regimen: Regimen | None
    times: list[float]
    output: str
    events: bool = False  # only the SciPy backend simulates model events


def _observable(m: Model) -> Model:
    (fraction,) = m.observables
    return dataclasses.replace(m, observables=(dataclasses.replace(fraction, expr="2*b*T"),))


def _equation(m: Model) -> Model:
    return dataclasses.replace(m, equations={**m.equations, "A_p": "2*k12*A_c - k21*A_p"})


def _with_clearance(m: Model) -> Model:
    """The PK model with its elimination written as an intermediate."""
    elimination = Intermediate("elim", "k10*A_c", "IU/min", "elimination from plasma")
    return dataclasses.replace(m, intermediates=(elimination,), equations={
        **m.equations, "A_c": "-elim - k12*A_c + k21*A_p + ka_sc*A_sc + k_it*A_it"})


def _intermediate(m: Model) -> Model:
    (elim,) = m.intermediates
    return dataclasses.replace(m, intermediates=(dataclasses.replace(elim, expr="2*k10*A_c"),))


def _route(m: Model) -> Model:
    routes = tuple(dataclasses.replace(r, state="A_p") if r.name == "iv" else r
                   for r in m.routes)
    return dataclasses.replace(m, routes=routes)


def _with_event(m: Model) -> Model:
    """The PK model with half the peripheral IL-2 removed at 1 h (a time event)."""
    return dataclasses.replace(m, events=(Event("wash", "t >= 60", (("A_p", "A_p/2"),)),))


def _event(m: Model) -> Model:
    (wash,) = m.events
    return dataclasses.replace(m, events=(dataclasses.replace(wash, assignments=(
        ("A_p", "A_p/4"),)),))


def _default(m: Model) -> Model:
    return m.with_params(mu3=20.0)


def _pk() -> Model:
    return get_model("aldesleukin_pk")


def _kp() -> Model:
    return get_model("kp1998")


INFUSION = Regimen.of(Infusion("600000 IU", "15 min"), Schedule(at=["0 min", "8 h"]))
BOLUS = Regimen.of(Bolus("600000 IU"), Schedule(at=["0 min"]))
PK_TIMES = [0.0, 15.0, 60.0, 180.0, 480.0, 495.0, 600.0]
EDITS = {
    "observable": Edit(_kp, _observable, None, [0.0, 5.0, 10.0], "tumour_fraction"),
    "equation": Edit(_pk, _equation, INFUSION, PK_TIMES, "C_plasma"),
    "intermediate": Edit(lambda: _with_clearance(_pk()), _intermediate, INFUSION, PK_TIMES,
                         "C_plasma"),
    "route": Edit(_pk, _route, INFUSION, PK_TIMES, "C_plasma"),
    "event": Edit(lambda: _with_event(_pk()), _event, BOLUS, PK_TIMES, "C_plasma", events=True),
    "parameter default": Edit(_kp, _default, None, [0.0, 5.0, 10.0], "IL"),
}


@pytest.mark.parametrize("kind", EDITS)
def test_every_backend_simulates_the_edited_model(kind: str) -> None:
    case = EDITS[kind]
    base = case.base()
    edited = case.edit(base)
    assert model_fingerprint(edited) != model_fingerprint(base)
    backends = ["scipy"] if case.events else BACKENDS
    before, after = {}, {}
    for backend in backends:  # the unedited model first: its code is cached when the edit runs
        before[backend] = simulate(base, case.regimen, times=case.times, backend=backend,
                                   **TOL)[case.output][0]
        after[backend] = simulate(edited, case.regimen, times=case.times, backend=backend,
                                  **TOL)[case.output][0]
    changed = np.abs(after["scipy"] - before["scipy"]) > 0.01 * np.abs(before["scipy"])
    assert changed[-1], f"{kind}: the edit should change {case.output}"
    for backend in backends:
        np.testing.assert_allclose(after[backend], after["scipy"], rtol=1e-5, atol=1e-9,
                                   err_msg=f"{kind}: {backend} runs the unedited model")
        np.testing.assert_allclose(before[backend], before["scipy"], rtol=1e-5, atol=1e-9)


def test_the_fingerprint_ignores_prose_and_follows_generators(tmp_path: Path) -> None:
    model = _kp()
    c = model.param("c")
    reworded = dataclasses.replace(
        model, title="another title", notes="", citation="another citation",
        params=tuple(dataclasses.replace(p, meaning="reworded", source="another source")
                     if p is c else p for p in model.params))
    assert model_fingerprint(reworded) == model_fingerprint(_kp())  # a rebuilt copy as well
    assert model_version(reworded) == model_version(model)
    assert model_fingerprint(model.with_params()) == model_fingerprint(model)  # same content
    widened = dataclasses.replace(model, params=tuple(
        dataclasses.replace(p, bounds=(0.0, 2.0)) if p is c else p for p in model.params))
    assert model_fingerprint(widened) != model_fingerprint(model)
    unit = dataclasses.replace(model, time_unit="h")
    assert model_fingerprint(unit) != model_fingerprint(model)
    assert model_version(unit) != model_version(model)
    generator = tmp_path / "generator.py"
    generator.write_text("one")
    first = model_fingerprint(model, str(generator))
    assert first != model_fingerprint(model)
    generator.write_text("two")
    assert model_fingerprint(model, str(generator)) != first
