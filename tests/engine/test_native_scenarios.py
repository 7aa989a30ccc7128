"""The native backend matches the SciPy reference on every shipped model's reference scenario.

The scenarios are the ones drawn on each model's documentation page
(``scripts/model_docs.py``: treatments included, e.g. de Pillis 2006's chemotherapy, TIL and
IL-2 schedules, the label course, SC depots, intratumoral injections, HIV cycles). Every
``simulate`` call a page makes is run twice here, with SciPy (LSODA, the reference backend)
and with the native backend, both at rtol = atol = 1e-12 (KP98 oscillates through deep
crashes for 1000 days: at 1e-10 LSODA and Rodas5P drift apart by 1e-5); outputs agree to 1e-6
relative (floor: 1e-9 of each variable's peak plus the atol).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib.pyplot as plt
import pytest
from test_native_backend import _assert_agree

from il2sim import list_models, simulate

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "model_docs.py"


def _model_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("model_docs_for_tests", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


DOCS = _model_docs()


def test_every_library_model_has_a_reference_scenario() -> None:
    covered = {name for page in DOCS.PAGES for name in (page.name, *page.variants)}
    assert {m.name for m in list_models()} <= covered


@pytest.mark.slow
@pytest.mark.parametrize("page", DOCS.PAGES, ids=lambda p: p.name)
def test_native_matches_scipy_on_the_reference_scenario(page: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def both(model: Any, regimen: Any = None, **kwargs: Any) -> Any:
        kwargs.update(rtol=1e-12, atol=1e-12)
        reference = simulate(model, regimen, **kwargs)
        fast = simulate(model, regimen, backend="native", **kwargs)
        _assert_agree(fast, reference, atol=1e-12)
        calls.append(model.name)
        return reference

    monkeypatch.setattr(DOCS, "simulate", both)
    fig = plt.figure()
    try:
        page.scenario(fig)
    finally:
        plt.close(fig)
    assert calls  # the page simulated something, and every run agreed
