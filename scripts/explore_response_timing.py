"""When do the flagship's responses appear? The explorations behind docs/calibration.md,
"When responses appear" (session 11), re-runnable. Nothing here changes the package.

At least 90% of the pivotal trials' responders responded after their first course (the
manufacturer's summary of the pivotal trials; docs/sources.md ``proleukin_results``). The
model's responses build up over courses. Three commands:

- ``timing [TRIAL.toml ...]``: the shipped examples' responders, their median time to
  response, the share seen by the first scan, the courses they were given.
- ``arms --set NAME=VALUE ... [--ant-median M] [--ant-sigma S] [--arms KEY,...]``: ORR, CR,
  PR, the share of responders by the first scan (RECIST response first seen by day 50) and
  the median duration of response on arms of the atlas (``c1_rcc_pivotal:high_dose``,
  ``c4_yang_high_low_dose:low_dose``, ...; a key ending ``/il2_only`` drops the arm's other
  drugs), with population parameters overridden (a model parameter given as ``NAME=VALUE``
  is fixed for every patient).
- ``arms --power N`` sets the power of the intermediate-affinity occupancy in its signal (the
  scan of docs/calibration.md, "Regimen dependence", session 13). The prototype clone of
  session 11 (``arms --clone``) is the model's clone component since session 14.

Run: ``.venv/bin/python scripts/explore_response_timing.py timing`` or e.g.
``... arms --arms rcc --ant-sigma 1.0 --ant-median 0.75 --set p_C=0.6``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

import numpy as np

from il2sim.config.trial import load_trial
from il2sim.model import library
from il2sim.model.compose import Component
from il2sim.model.library.il2_qsp import default_components, il2_qsp
from il2sim.model.library.il2_qsp.receptors import N_INT, receptor_component
from il2sim.population import Fixed
from il2sim.trial.runner import TrialSpec, run_trial
from il2sim.validation.atlas import atlas

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = (ROOT / "examples/trials/rcc.toml", ROOT / "examples/trials/melanoma.toml")
FIRST_SCAN_D = 50.0
"""A response first seen by this day was seen at the first scan (day 47), after course 1."""
IL2_ONLY = "/il2_only"
"""Suffix of an arm key: the arm's IL-2 without its other drugs (e.g. McDermott's SC IL-2
without its interferon, ``x2_mcdermott_hd_vs_sc:sc_il2_ifn/il2_only``; a probe, no trial)."""
RCC_ARMS = ("c1_rcc_pivotal:high_dose", "c4_yang_high_low_dose:high_dose",
            "c4_yang_high_low_dose:low_dose", "c5_negrier_il2_ifn:il2",
            "c5_negrier_il2_ifn:ifn", "c5_negrier_il2_ifn:both",
            "x2_mcdermott_hd_vs_sc:sc_il2_ifn", "x2_mcdermott_hd_vs_sc:sc_il2_ifn" + IL2_ONLY)


def timing(paths: list[Path], n: int, seed: int) -> None:
    for path in paths:
        spec = dataclasses.replace(load_trial(path), n_patients=n, seed=seed)
        e = run_trial(spec).endpoints
        r = e[e["bor"].isin(["CR", "PR"])]
        t = r["time_to_response_d"].to_numpy(float)
        q25, q50, q75 = np.percentile(t, [25, 50, 75]) if len(t) else (math.nan,) * 3
        first = spec.first_scan_day
        print(f"{path.name}: {len(r)} responders of {len(e)} ({int((r['bor'] == 'CR').sum())} "
              f"CR); time to response median {q50:g} days (IQR {q25:g}-{q75:g}); by the "
              f"first scan (day {first:g}) {np.mean(t <= first + 1):.0%}; given all "
              f"{spec.max_courses} courses: {int((r['courses'] == spec.max_courses).sum())}")


def _with(spec: TrialSpec, ant_median: float | None, ant_sigma: float | None,
          fixed: dict[str, float], n: int, seed: int) -> TrialSpec:
    ant = spec.population.params["ant"]
    ant = dataclasses.replace(ant, median=ant.median if ant_median is None else ant_median,
                              sigma=ant.sigma if ant_sigma is None else ant_sigma)
    population = spec.population.with_params(ant=ant, **{k: Fixed(v) for k, v in fixed.items()})
    return dataclasses.replace(spec, n_patients=n, seed=seed, population=population)


def with_power(components: list[Component], power: int) -> list[Component]:
    """The components with the intermediate-affinity signal ``occ_int^power*(1 - X)``
    instead of the receptor component's ``N_INT``."""
    return [receptor_component(power) if c.name == "receptors" else c for c in components]


def arms(keys: list[str], ant_median: float | None, ant_sigma: float | None,
         fixed: dict[str, float], n: int, seed: int, power: int = N_INT) -> None:
    if power != N_INT:  # the library's cached il2_qsp, replaced for this process only
        library._BUILT["il2_qsp"] = il2_qsp(with_power(default_components(), power))
    specs = {a.key: a.spec for t in atlas([k.split(":")[0] for k in keys]) for a in t.arms}
    for key in keys:
        spec = specs[key.removesuffix(IL2_ONLY)]
        assert spec is not None, key
        if key.endswith(IL2_ONLY):  # the arm's IL-2 alone: its other drugs left out
            spec = dataclasses.replace(spec, plan=dataclasses.replace(
                spec.plan, drugs=tuple(d for d in spec.plan.drugs if d.name == "IL-2")))
        e = run_trial(_with(spec, ant_median, ant_sigma, fixed, n, seed)).endpoints
        bor = e["bor_who"]
        resp = bor.isin(["CR", "PR"]).to_numpy()
        t = e["time_to_response_d"].to_numpy(float)[resp]
        early = float(np.mean(t <= FIRST_SCAN_D)) if resp.any() else math.nan
        dor = float(np.nanmedian(e["dor_d"].to_numpy(float)[resp])) / 30.44 if resp.any() \
            else math.nan
        print(f"{key}: ORR {100 * resp.mean():.1f}% (CR {100 * (bor == 'CR').mean():.1f}, "
              f"PR {100 * (bor == 'PR').mean():.1f}); responded by the first scan "
              f"{early:.0%}; median DoR {dor:.0f} months", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("timing", help="the shipped examples' time to response")
    t.add_argument("trials", nargs="*", type=Path, default=list(EXAMPLES))
    t.add_argument("--patients", type=int, default=600)
    t.add_argument("--seed", type=int, default=3)
    a = sub.add_parser("arms", help="atlas arms with overrides")
    a.add_argument("--arms", default=RCC_ARMS[0], help="comma-separated atlas arm keys, "
                   f"or 'rcc' for {', '.join(RCC_ARMS)}")
    a.add_argument("--ant-median", type=float)
    a.add_argument("--ant-sigma", type=float)
    a.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    a.add_argument("--power", type=int, default=N_INT, help="power of the intermediate-"
                   f"affinity occupancy in its signal (model: {N_INT})")
    a.add_argument("--patients", type=int, default=400)
    a.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    if args.command == "timing":
        timing(args.trials, args.patients, args.seed)
        return
    fixed = {k: float(v) for k, v in (s.split("=", 1) for s in args.set)}
    keys = list(RCC_ARMS) if args.arms == "rcc" else args.arms.split(",")
    arms(keys, args.ant_median, args.ant_sigma, fixed, args.patients, args.seed, args.power)


if __name__ == "__main__":
    main()
