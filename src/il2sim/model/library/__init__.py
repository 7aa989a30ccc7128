"""The model library: one module per published or own model."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from il2sim.model.library.aldesleukin_pk import aldesleukin_pk
from il2sim.model.library.depillis2006 import depillis2006
from il2sim.model.library.depillis2009 import depillis2009
from il2sim.model.library.fallon2000 import fallon2000
from il2sim.model.library.il2_hiv import il2_hiv
from il2sim.model.library.il2_qsp import il2_qsp
from il2sim.model.library.il2_qsp.lesions import il2_qsp_lesions
from il2sim.model.library.kp1998 import kp1998
from il2sim.model.spec import Model, ModelError

__all__ = ["FAMILIES", "MODELS", "get_model", "list_models"]

MODELS: dict[str, Callable[[], Model]] = {
    "kp1998": kp1998,
    "aldesleukin_pk": aldesleukin_pk,
    "il2_qsp": il2_qsp,
    "il2_hiv": il2_hiv,
    "depillis2006": depillis2006,
    "depillis2006_p10": partial(depillis2006, 10),
    "depillis2009": depillis2009,
    "fallon2000": fallon2000,
    "fallon2000_2d1": partial(fallon2000, "2d1"),
}

FAMILIES: dict[str, tuple[Callable[[int], Model], int]] = {
    "il2_qsp_lesions_": (il2_qsp_lesions, 20),
}
"""Models numbered by a count: ``<prefix><n>`` for n = 1..max (``il2_qsp_lesions_3``: the
flagship model with three lesions). They are built from a listed model's components and
are not in :data:`MODELS` (nor :func:`list_models`), whose every member each backend and
the SBML export are tested on."""

_BUILT: dict[str, Model] = {}


def _factory(name: str) -> Callable[[], Model] | None:
    if name in MODELS:
        return MODELS[name]
    for prefix, (family, largest) in FAMILIES.items():
        count = name.removeprefix(prefix)
        if (name.startswith(prefix) and count.isdigit() and str(int(count)) == count
                and 1 <= int(count) <= largest):
            return partial(family, int(count))
    return None


def get_model(name: str) -> Model:
    """The library model called ``name`` (built once, then shared: models are immutable)."""
    factory = _factory(name)
    if factory is None:
        families = ", ".join(f"{p}<1-{m}>" for p, (_, m) in FAMILIES.items())
        raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}, "
                         f"{families}")
    if name not in _BUILT:
        _BUILT[name] = factory()
    return _BUILT[name]


def list_models() -> list[Model]:
    """All library models, by name."""
    return [get_model(name) for name in sorted(MODELS)]
