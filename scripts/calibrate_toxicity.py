"""Fit the thresholds of the exposure-response toxicities to the Proleukin label.

Targets: the any-grade incidences of chills, diarrhoea, vomiting, bilirubin rise and
thrombocytopenia in the label's 525 patients, read from the validation atlas
(``c3_label_toxicity.toml``, the one place they are written).

Method: simulate the two pivotal example trials (``examples/trials/rcc.toml``, 255 patients,
and ``melanoma.toml``, 270) under the label protocol; pool each patient's peak cytokine drive
D_i; with sensitivities s ~ LogNormal(0, ``DRIVE_OMEGA``) (``il2sim.trial.endpoints``), the
expected incidence at threshold theta is

    p(theta) = mean_i Phi((ln D_i - ln theta) / omega)

which falls monotonically in theta; solve p(theta_e) = target_e for each event (Brent).
Writes ``src/il2sim/trial/calibration/toxicity.json``.

Run: ``.venv/bin/python scripts/calibrate_toxicity.py``.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from il2sim.config.trial import load_trial
from il2sim.trial.endpoints import DRIVE_EVENTS, DRIVE_OMEGA
from il2sim.trial.runner import run_trial

ROOT = Path(__file__).resolve().parents[1]
ATLAS = ROOT / "src/il2sim/validation/atlas/c3_label_toxicity.toml"
OUT = ROOT / "src/il2sim/trial/calibration/toxicity.json"
TRIALS = ("rcc", "melanoma")
LABEL_TERM = {"chills": "chills", "diarrhoea": "diarrhoea", "vomiting": "vomiting",
              "bilirubin": "bilirubin_rise", "thrombocytopenia": "thrombocytopenia"}
"""Model event -> the atlas's adverse-event name."""


def label_incidence() -> dict[str, float]:
    """Any-grade incidence of each exposure-response event in the label table."""
    atlas = tomllib.loads(ATLAS.read_text())
    found = {o["event"]: o["count"] / o["n"] for o in atlas["outcomes"]
             if o["endpoint"] == "adverse_event"}
    return {e: float(found[LABEL_TERM[e]]) for e in DRIVE_EVENTS}


def expected_incidence(theta: float, drive: NDArray[np.float64], omega: float) -> float:
    """mean_i Phi((ln D_i - ln theta)/omega): the expected share reaching grade 1."""
    return float(np.mean(stats.norm.cdf((np.log(drive) - math.log(theta)) / omega)))


def fit_threshold(drive: NDArray[np.float64], target: float, omega: float) -> float:
    """theta with expected_incidence(theta) = target (0 < target < 1)."""
    lo = math.log(float(np.min(drive))) - 8 * omega
    hi = math.log(float(np.max(drive))) + 8 * omega
    log_theta = optimize.brentq(
        lambda t: expected_incidence(math.exp(t), drive, omega) - target, lo, hi, xtol=1e-12)
    return math.exp(float(log_theta))


def main() -> None:
    drives = []
    for name in TRIALS:
        spec = load_trial(ROOT / f"examples/trials/{name}.toml")
        result = run_trial(spec)
        d = result.endpoints["cytokine_drive_max"].to_numpy(float)
        print(f"{name}: {len(d)} patients, peak drive median {np.median(d):.3f} "
              f"(5-95%: {np.percentile(d, 5):.3f}-{np.percentile(d, 95):.3f})")
        drives.append(d)
    drive = np.concatenate(drives)
    drive = drive[np.isfinite(drive) & (drive > 0)]
    targets = label_incidence()
    thresholds = {e: fit_threshold(drive, p, DRIVE_OMEGA) for e, p in targets.items()}
    for e, t in thresholds.items():
        print(f"{e}: target {targets[e]:.3f}, theta {t:.4f}, "
              f"expected {expected_incidence(t, drive, DRIVE_OMEGA):.3f}")
    OUT.write_text(json.dumps({
        "fitted_to": "any-grade incidence in the Proleukin label table (525 patients), "
                     "read from src/il2sim/validation/atlas/c3_label_toxicity.toml",
        "trials": [f"examples/trials/{t}.toml" for t in TRIALS],
        "n_patients": int(len(drive)),
        "omega": DRIVE_OMEGA,
        "targets": targets,
        "thresholds": thresholds,
    }, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
