"""Regimen dependence of the flagship's beta-gamma signal: the mechanism alone, no tumour.

For one reference patient (70 kg, 175 cm), every dose given, over the first 5 days: the
time-averaged intermediate-affinity signal ``sig_int = occ_int^n_int*(1 - X)`` (receptor
component of ``il2_qsp``) and the peak cytokine drive, for the high-dose bolus of Yang et
al. 2003 (720,000 IU/kg every 8 h), its low-dose arm (72,000 IU/kg) and the continuous
infusion of Negrier et al. 1998 (18 MIU/m2/day), each relative to the high dose. Variants
change the receptor component's power of occupancy (``N_INT``) or one of its parameters
(``Kd_int``, ``k_cis``, ``k_cis_off``) to
show what each mechanism contributes (docs/calibration.md, "Regimen dependence").

Run: ``.venv/bin/python scripts/regimen_signal.py``
"""

from __future__ import annotations

import numpy as np
from explore_response_timing import with_power  # scripts/ is on the path as a script's folder

from il2sim.dosing.presets import continuous_infusion, label_high_dose, low_dose_iv
from il2sim.dosing.regimen import Regimen
from il2sim.engine.simulate import simulate
from il2sim.model.library import get_model
from il2sim.model.library.il2_qsp import default_components, il2_qsp
from il2sim.model.library.il2_qsp.receptors import N_INT

PATIENT = {"weight": 70.0, "height": 175.0, "bsa": 1.85}
HOURS = np.arange(0.0, 5 * 24 + 1e-9, 0.05)
REGIMENS: dict[str, Regimen] = {
    "high dose": label_high_dose("720000 IU/kg"),
    "low dose": low_dose_iv("72000 IU/kg"),
    "continuous": continuous_infusion("18 MIU/m**2/day", 5),
}
VARIANTS: dict[str, dict[str, float]] = {
    "model (power 4, Kd_int 1.9 nM, CIS k 0.1/h, off 0.05/h)": {},
    "power 2 (until session 12)": {"power": 2.0},
    "power 2, Kd_int 1 nM (until session 8)": {"power": 2.0, "Kd_int": 1000.0},
    "no CIS feedback": {"k_cis": 0.0},
    "fast CIS feedback (k 1/h, off 0.5/h)": {"k_cis": 1.0, "k_cis_off": 0.5},
}


def signals(values: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Per regimen: (time-averaged sig_int, peak cytokine drive) over 5 days."""
    values = dict(values)
    power = int(values.pop("power", N_INT))
    model = (get_model("il2_qsp") if power == N_INT
             else il2_qsp(with_power(default_components(), power)))
    model = model.with_params(**values) if values else model
    out = {}
    for name, regimen in REGIMENS.items():
        r = simulate(model, regimen, {}, HOURS, covariates=PATIENT, rtol=1e-8, atol=1e-10)
        occ, x = r["occupancy_int"][0], r["cis_feedback"][0]
        sig = occ ** power * (1.0 - x)
        mean = float(np.sum((sig[1:] + sig[:-1]) / 2 * np.diff(HOURS)) / HOURS[-1])
        out[name] = (mean, float(r["cytokine_drive"][0].max()))
    return out


def main() -> None:
    print(f"{'variant':58s} {'LD/HD signal':>12s} {'CIV/HD signal':>13s} "
          f"{'LD/HD drive':>11s} {'CIV/HD drive':>12s}")
    for label, values in VARIANTS.items():
        s = signals(values)
        hd = s["high dose"]
        print(f"{label:58s} {s['low dose'][0] / hd[0]:12.2f} {s['continuous'][0] / hd[0]:13.2f} "
              f"{s['low dose'][1] / hd[1]:11.2f} {s['continuous'][1] / hd[1]:12.2f}")


if __name__ == "__main__":
    main()
