"""Calibrate the capillary-leak, kidney and supportive-care parameters of ``il2_qsp``.

Targets: the Proleukin label's adverse-reaction table over the 525 patients of the two
pivotal sets (any grade): hypotension 71%, oliguria 63%, confusion 34%, dyspnoea 43%
(read from hypoxaemia, SpO2 < 92%); and the kidney's filtration during a cycle: the peak
serum creatinine of cycle 1 rose on average by 140% over baseline (x 2.40; 2.6 mg/dL; 135
NCI patients on 600,000 IU/kg every 8 h to tolerance, Belldegrun et al. 1989, J Urol,
"Renal toxicity of interleukin-2 administration in patients with metastatic renal cell
cancer: effect of pre-therapy nephrectomy").

Each target pins one parameter, the one it is most sensitive to (identifiability,
docs/models/il2_qsp.md):

    hypotension 71%   -> a common factor on both populations' median leak sensitivity pmax
    cycle-1 creatinine x2.40 -> g_rv, the renal vasoconstriction per unit fall of the mean
                         pressure (the measured rise, not the label's adverse-event count)
    oliguria 63%      -> n_pn, the steepness of pressure natriuresis
    confusion 34%     -> dc50_cf, the cytokine drive for half-maximal confusion
    dyspnoea 43%      -> x50_o2, the interstitial expansion for half the fall of SpO2

The label's creatinine rise (33%: an adverse-event count; Belldegrun et al. 1987, Ann Intern
Med 106:817, measured a raised creatinine in 90% of 99 patients), weight gain (16%),
peripheral oedema (28%), the doses given in course 1 (median 20 of 28 in RCC, Fyfe et al.
1995, J Clin Oncol 13:688; 18 in melanoma, Atkins et al. 1999, J Clin Oncol 17:2105) and
the kidneys' recovery are not fitted: they are the checks. (Fitting the rescue-fluid rate
to the doses was tried: it ran to its lower bound, 0.005 L/h, with the median still 23; the
doses are not a question of supportive care in this model, see docs/validation.md.)

Method: common random numbers (one cohort per indication: patients sampled from the
calibrated populations, seed 11, turned into the simulation's inputs as a trial's are, by
``il2sim.trial.runner.simulation_inputs``, so with their initial tumours and their scans;
simulated over course 1 only, 30 days, under the label protocol); each target is
written as a quantile condition that is continuous in its parameter (e.g. the 71st
percentile of the lowest systolic pressure equals 90 mmHg; the creatinine target is the
cohort's mean cycle-1 peak over its baseline) and solved by bisection in the log of its
parameter, the others held; five sweeps of this coordinate descent. After each sweep
``g_no`` is re-derived from its anchor (``scripts/derive_g_no.py``), which the fitted
values move (at the typical patient's ``pmax``, recorded as ``g_no_anchor_pmax``). The pmax
factor is written into ``src/il2sim/trial/calibration/<indication>.json``; the other values
are printed (and recorded in ``calibration/leak.json``) to be set as the defaults in
``src/il2sim/model/library/il2_qsp/leak.py``, which a test compares with that record.
``scripts/calibrate_trials.py`` is run afterwards (it refits pmax to hypotension over the
whole follow-up, with the tumour parameters).

Run: ``.venv/bin/python scripts/calibrate_leak.py [--n 200]`` (``--patients`` is ``--n``;
``--out DIR`` writes the three files into DIR instead, e.g. to check the script on a few
patients without touching the package).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from il2sim.engine.simulate import simulate
from il2sim.model.library import get_model
from il2sim.trial.calibrated import calibrated_population
from il2sim.trial.runner import SimulationInputs, TrialSpec, simulation_inputs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from derive_g_no import derive_g_no  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "src/il2sim/trial/calibration"
INDICATIONS = ("rcc", "melanoma")
DAYS = 30.0  # course 1 and its recovery
CYCLE1_DAYS = 10.0  # cycle 1 and the days after it, before cycle 2 (day 14)
TARGETS = {"hypotension": 0.71, "creatinine_cycle1": 2.40, "oliguria": 0.63,
           "confusion": 0.34, "dyspnoea": 0.43}
BOUNDS = {"pmax_factor": (0.2, 50.0), "g_rv": (0.1, 100.0), "n_pn": (0.5, 12.0),
          "dc50_cf": (0.01, 10.0), "x50_o2": (0.05, 2.0)}
FITTED = ("g_rv", "n_pn", "dc50_cf", "x50_o2")  # model defaults; pmax_factor scales the
# populations' pmax


@dataclass(frozen=True)
class Cohort:
    """One indication's sampled patients as a course-1 label trial and its simulation inputs
    (parameters, initial tumours, covariates, the protocol's decider with the scans)."""

    spec: TrialSpec
    inputs: SimulationInputs


def cohort(indication: str, n: int, seed: int) -> Cohort:
    spec = TrialSpec(f"leak calibration, {indication} (n = {n})", n_patients=n, seed=seed,
                     population=calibrated_population(indication), protocol="label",
                     dose="600000 IU/kg", max_courses=1, course_interval_days=84.0,
                     horizon_days=DAYS, backend="native", indication=indication)
    return Cohort(spec, simulation_inputs(spec, get_model(spec.model), spec.cohort()))


def simulate_course1(cohorts: dict[str, Cohort], values: dict[str, float]
                     ) -> dict[str, np.ndarray]:
    """Per-patient extremes and course-1 doses of the pooled cohorts at ``values``
    (hourly output, plus the scan times, to day 30)."""
    model = get_model("il2_qsp")
    out: dict[str, list[np.ndarray]] = {}
    for coh in cohorts.values():
        spec, inputs = coh.spec, coh.inputs
        n = spec.n_patients
        t = np.union1d(np.arange(0.0, 24.0 * DAYS, 1.0), inputs.scan_days * 24.0)  # h
        params = dict(inputs.params)
        params["pmax"] = params["pmax"] * values["pmax_factor"]
        for k in (*FITTED, "g_no"):
            params[k] = np.full(n, values[k])
        r = simulate(model, inputs.regimen, params, t, covariates=inputs.covariates,
                     initial=inputs.initial, backend=spec.backend, rtol=spec.rtol,
                     atol=spec.atol, decider=inputs.decider)
        given = r.dose_log[r.dose_log["status"] == "given"].groupby("patient").size()
        res = {"sbp": np.nanmin(r["sbp"], axis=1), "urine": np.nanmin(r["urine_8h"], axis=1),
               "confusion": np.nanmax(r["confusion"], axis=1),
               "spo2": np.nanmin(r["spo2"], axis=1),
               "creatinine": np.nanmax(r["creatinine"], axis=1),
               "creatinine_cycle1": np.nanmax(r["creatinine"][:, t < 24.0 * CYCLE1_DAYS],
                                              axis=1) / model.param("cr0").value,
               "weight": np.nanmax(r["weight_gain_pct"], axis=1),
               "oedema": np.nanmax(r["interstitial_excess"], axis=1),
               "doses": given.reindex(range(n), fill_value=0).to_numpy(float)}
        for k, v in res.items():
            out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def anchor_pmax(values: dict[str, float]) -> float:
    """The typical patient's leak sensitivity at ``values``: the calibrated RCC population's
    median ``pmax`` times the common factor (``g_no``'s anchor, scripts/derive_g_no.py)."""
    data = json.loads((CALIBRATION / "rcc.json").read_text())
    return float(data["params"]["pmax"]["median"]) * values["pmax_factor"]


def residual(name: str, x: dict[str, np.ndarray]) -> float:
    """Quantile condition of each target, increasing in its parameter's log."""
    if name == "pmax_factor":      # more leak -> lower pressures
        return 90.0 - float(np.quantile(x["sbp"], TARGETS["hypotension"]))
    if name == "g_rv":             # more vasoconstriction -> higher creatinine
        return float(np.mean(x["creatinine_cycle1"])) - TARGETS["creatinine_cycle1"]
    if name == "n_pn":             # steeper natriuresis -> less urine at low pressure
        return 160.0 - float(np.quantile(x["urine"], TARGETS["oliguria"]))
    if name == "dc50_cf":          # higher threshold -> less confusion
        return 1.0 - float(np.quantile(x["confusion"], 1.0 - TARGETS["confusion"]))
    if name == "x50_o2":           # higher threshold -> higher SpO2
        return float(np.quantile(x["spo2"], TARGETS["dyspnoea"])) - 92.0
    raise KeyError(name)


def rates(x: dict[str, np.ndarray]) -> dict[str, float]:
    return {"hypotension": float(np.mean(x["sbp"] < 90)),
            "oliguria": float(np.mean(x["urine"] < 160)),
            "confusion": float(np.mean(x["confusion"] >= 1)),
            "dyspnoea": float(np.mean(x["spo2"] < 92)),
            "doses_median": float(np.median(x["doses"])),
            "creatinine_cycle1": float(np.mean(x["creatinine_cycle1"])),
            "creatinine_rise": float(np.mean(x["creatinine"] > 1.2)),
            "weight_gain": float(np.mean(x["weight"] >= 5)),
            "peripheral_oedema": float(np.mean(x["oedema"] >= 2.5))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", "--patients", dest="n", type=int, default=200,
                    help="patients per indication")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--sweeps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=8, help="bisection steps per parameter")
    ap.add_argument("--out", type=Path, default=CALIBRATION,
                    help="folder to write leak.json, rcc.json and melanoma.json into "
                         "(default: the package's calibration folder, updated in place)")
    args = ap.parse_args()
    cohorts = {ind: cohort(ind, args.n, args.seed) for ind in INDICATIONS}
    model = get_model("il2_qsp")
    values = {"pmax_factor": 1.0, **{k: float(model.param(k).value)
                                     for k in (*FITTED, "g_no")}}
    t0 = time.time()
    for sweep in range(args.sweeps):
        for name in BOUNDS:
            lo, hi = (math.log(b) for b in BOUNDS[name])
            for _ in range(args.steps):
                mid = 0.5 * (lo + hi)
                values[name] = math.exp(mid)
                if residual(name, simulate_course1(cohorts, values)) > 0:
                    hi = mid      # residual rises with the parameter: root below
                else:
                    lo = mid
            values[name] = math.exp(0.5 * (lo + hi))
            print(f"sweep {sweep + 1} {name} = {values[name]:.4g} ({time.time() - t0:.0f} s)",
                  flush=True)
        values["g_no"] = derive_g_no({**{k: values[k] for k in FITTED},
                                      "pmax": anchor_pmax(values)})
        print(f"sweep {sweep + 1} g_no = {values['g_no']:.4g} (anchor)", flush=True)
    achieved = rates(simulate_course1(cohorts, values))
    print(json.dumps({"values": values, "achieved": achieved}, indent=2))
    record = {"targets": TARGETS, "values": {k: round(v, 4) for k, v in values.items()},
              "g_no_anchor_pmax": round(anchor_pmax(values), 4),
              "achieved": achieved, "n_per_indication": args.n, "seed": args.seed,
              "method": "coordinate bisection on quantile conditions, common random numbers"}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "leak.json").write_text(json.dumps(record, indent=2) + "\n")
    for ind in INDICATIONS:
        data = json.loads((CALIBRATION / f"{ind}.json").read_text())
        data["params"]["pmax"]["median"] *= values["pmax_factor"]
        (args.out / f"{ind}.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
