"""Derive ``g_no`` of ``il2_qsp``'s leak component from its anchor.

Anchor [assumption, leak.py]: at the end of the typical patient's first high-dose cycle
(70 kg, the calibrated RCC population's median leak sensitivity ``pmax``, the label's
600,000 IU/kg every 8 h, day 5, every dose given) the slow, NO part of the vasodilating
drive equals the direct part, ``g_no*E = P`` (NO-synthase inhibition reversed most of
IL-2's hypotension in dogs: Kilbourn et al. 1994, J Appl Physiol 76:1130). The typical
patient, not the permeability anchor's reference patient (``pmax`` 25, three times the
median): in a patient that sensitive the falling pressure constricts the kidney, the kidney
clears less IL-2 and the leak feeds on itself, which is no anchor for the typical course.
``E`` and ``P`` at day 5 depend on ``g_no`` itself (through the pressure, the kidney's
clearance of IL-2 and the pressure support), so ``g_no = P/E`` is solved by fixed-point
iteration at the model's other defaults. ``scripts/calibrate_leak.py`` calls it after each
sweep, since the kidney and leak parameters it fits move the anchor (and the median
``pmax``); the value and the ``pmax`` it was derived at are recorded in
``calibration/leak.json`` and ``g_no`` set as ``G_NO`` in
``il2sim/model/library/il2_qsp/leak.py`` (a test checks the anchor holds).

Run: ``.venv/bin/python scripts/derive_g_no.py pmax=7.6 [name=value ...]`` (overrides of
the model's defaults; give the typical patient's ``pmax``).
"""

from __future__ import annotations

import sys

import numpy as np

from il2sim.dosing import presets
from il2sim.engine.simulate import simulate
from il2sim.model.library import get_model

DAY5 = np.array([0.0, 5 * 24.0])


def derive_g_no(overrides: dict[str, float] | None = None, *, tol: float = 1e-6,
                max_iter: int = 100) -> float:
    """``g_no`` at which ``g_no*E = P`` at day 5 of the first cycle of the patient with
    ``overrides`` (the typical patient: its ``pmax``)."""
    model = get_model("il2_qsp").with_params(**(overrides or {}))
    g = float(model.param("g_no").value)
    for _ in range(max_iter):
        r = simulate(model.with_params(g_no=g), presets.label_high_dose(), times=DAY5,
                     covariates={"weight": 70.0}, rtol=1e-9, atol=1e-12)
        new = float(r["P"][0][-1] / r["E"][0][-1])
        if abs(new - g) <= tol * g:
            return new
        g = new
    raise RuntimeError(f"g_no did not settle in {max_iter} iterations (last {g:.6g})")


def main() -> None:
    overrides = {k: float(v) for k, v in (a.split("=", 1) for a in sys.argv[1:])}
    print(f"g_no = {derive_g_no(overrides):.4f}")


if __name__ == "__main__":
    main()
