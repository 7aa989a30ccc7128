"""Which rules withhold the high-dose doses, and is the model's heart rate right? The
measurements behind docs/calibration.md, "Doses delivered" (session 12), re-runnable.
Nothing here changes the package.

Two commands:

- ``doses [TRIAL.toml ...]``: course-1 doses given (median, IQR, share given all 28),
  hypotension and confusion, and the commonest reasons a dose was not given, under the
  label's rules as shipped (:data:`il2sim.protocol.LABEL_HOLDS`) and under variants: the
  relative criteria only counted toward the three that stop a cycle (the rules until session
  11), the guideline's heart-rate criterion read at the dose (100-130/min, Dutcher et al.
  2014, Table 3; 120-130/min, Springerplus 2015, Table 1), mild confusion left out.
- ``heart-rate``: the model's heart rate and systolic pressure, day by day, on the label
  regimen (RCC) and on Negrier's continuous infusion (18 MIU/m2/day for 5 days), against the
  paired means measured after a 120-h infusion of that dose: SBP 128 -> 100 mmHg, heart rate
  84 -> 125/min (Fragasso et al. 1994, Br Heart J 71:166, 22 patients), and during high-dose
  bolus IL-2: heart rate 66 -> 104/min (Lee et al. 1989, J Clin Oncol 7:7).

Run: ``.venv/bin/python scripts/explore_holds.py doses`` or ``... heart-rate``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from il2sim.config.trial import load_trial, load_trial_file
from il2sim.engine.simulate import simulate
from il2sim.model.library import get_model
from il2sim.protocol import LABEL_HOLDS, Condition, HoldRules
from il2sim.trial.runner import TrialSpec, run_trial, simulation_inputs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = (ROOT / "examples/trials/rcc.toml", ROOT / "examples/trials/melanoma.toml")
HR_100_130 = Condition.parse("100 <= heart_rate <= 130", "heart rate 100-130")
HR_120_130 = Condition.parse("120 <= heart_rate <= 130", "heart rate 120-130")


def variants() -> dict[str, HoldRules]:
    """The shipped rules and the variants measured against them."""
    without_confusion = tuple(c for c in LABEL_HOLDS.relative if c.observable != "confusion")
    return {
        "shipped": LABEL_HOLDS,
        "relative criteria only counted (until session 11)": dataclasses.replace(
            LABEL_HOLDS, relative_holds=False),
        "mild confusion left out": dataclasses.replace(LABEL_HOLDS, relative=without_confusion),
        "+ heart rate 100-130 at the dose": dataclasses.replace(
            LABEL_HOLDS, relative=(*LABEL_HOLDS.relative, HR_100_130)),
        "+ heart rate 120-130 at the dose": dataclasses.replace(
            LABEL_HOLDS, relative=(*LABEL_HOLDS.relative, HR_120_130)),
    }


def _with_holds(spec: TrialSpec, holds: HoldRules) -> TrialSpec:
    plan = spec.plan
    assert plan is not None
    drugs = tuple(dataclasses.replace(d, holds=holds) for d in plan.drugs)
    return dataclasses.replace(spec, plan=dataclasses.replace(plan, drugs=drugs))


def doses(paths: list[Path], n: int, seed: int) -> None:
    for path in paths:
        base = dataclasses.replace(load_trial(path), n_patients=n, max_courses=1, seed=seed)
        for name, rules in variants().items():
            res = run_trial(_with_holds(base, rules))
            d, e = res.doses, res.endpoints
            course1 = (d["course"] == 1).to_numpy()
            given = d[course1 & (d["status"] == "given").to_numpy()].groupby("patient").size()
            g = given.reindex(e["patient"], fill_value=0).to_numpy()
            q25, q50, q75 = np.percentile(g, [25, 50, 75])
            reasons = d[course1 & (d["status"] != "given").to_numpy()]["reason"]
            top = reasons.str.replace(r" \(.*", "", regex=True).value_counts().head(6)
            print(f"{path.name}, {name}: doses median {q50:g} (IQR {q25:g}-{q75:g}), all 28 "
                  f"{np.mean(g >= 28):.0%}; hypotension "
                  f"{np.mean(e['tox_hypotension_grade'] >= 1):.0%}, confusion "
                  f"{np.mean(e['tox_confusion_grade'] >= 1):.0%}", flush=True)
            print("   not given: " + ", ".join(f"{k} {v}" for k, v in top.items()), flush=True)


def heart_rate(n: int, seed: int) -> None:
    negrier = load_trial_file(ROOT / "examples/trials/negrier1998.toml")
    infusion = next(a for a in negrier.arms if a.arm == "il2")  # type: ignore[union-attr]
    model = get_model("il2_qsp")
    beta = float(model.param("beta_hr").value)  # HR = hr0*(map0/MAP)^beta, SBP ~ MAP
    for spec, label in ((load_trial(EXAMPLES[0]), "RCC, label regimen (bolus q8h)"),
                        (infusion, "Negrier, continuous infusion 18 MIU/m2/day")):
        spec = dataclasses.replace(spec, n_patients=n, max_courses=1, horizon_days=7.0,
                                   seed=seed, allocation=None)
        inp = simulation_inputs(spec, model, spec.cohort())
        grid = np.arange(0.0, 7.0 + 1e-9, 1 / 24)
        res = simulate(model, inp.regimen, inp.params, grid * 24.0,
                       covariates=inp.covariates, initial=inp.initial, backend="native",
                       on_failure="record", decider=inp.decider)
        hr, sbp = res["heart_rate"], res["sbp"]
        print(f"{label}, {n} patients: baseline heart rate {np.median(hr[:, 0]):.0f}/min, "
              f"SBP {np.median(sbp[:, 0]):.0f} mmHg")
        for day in (1, 2, 3, 4, 5):
            j = int(np.searchsorted(grid, day - 1e-9))
            print(f"  day {day}: heart rate mean {hr[:, j].mean():.0f} (x"
                  f"{hr[:, j].mean() / hr[:, 0].mean():.2f}), SBP mean {sbp[:, j].mean():.0f} "
                  f"(x{sbp[:, j].mean() / sbp[:, 0].mean():.2f}); baroreflex for that SBP: x"
                  f"{(sbp[:, 0].mean() / sbp[:, j].mean()) ** beta:.2f}")
        peak = hr[:, grid < 6].max(axis=1)
        print(f"  highest heart rate in days 0-6: median {np.median(peak):.0f}/min; > 100 in "
              f"{np.mean(peak > 100):.0%}, > 120 in {np.mean(peak > 120):.0%}")
    print("published: Fragasso 1994, after 120 h of 18 MIU/m2/day: SBP 128 -> 100 (x0.78), "
          f"heart rate 84 -> 125 (x1.49; the model's baroreflex for x0.78 is "
          f"x{(128 / 100) ** beta:.2f}); Lee 1989, high-dose bolus: heart rate 66 -> 104 (x1.58)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("doses", help="course-1 doses under the shipped rules and variants")
    d.add_argument("trials", nargs="*", type=Path, default=list(EXAMPLES))
    d.add_argument("--patients", type=int, default=400)
    d.add_argument("--seed", type=int, default=7)
    h = sub.add_parser("heart-rate", help="heart rate and pressure against published means")
    h.add_argument("--patients", type=int, default=200)
    h.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.command == "doses":
        doses(args.trials, args.patients, args.seed)
    else:
        heart_rate(args.patients, args.seed)


if __name__ == "__main__":
    main()
