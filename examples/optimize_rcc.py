"""Search for an IL-2 regimen with a better therapeutic index than the label (RCC).

Every candidate regimen (dose per kg, dosing interval, doses per cycle, IV infusion
duration or IV bolus or SC depot, with or without interferon-alpha SC three times a
week; two cycles, days 1-5 and 15-19) is simulated with the flagship model ``il2_qsp``
on the *same* calibrated renal cell carcinoma virtual patients (common random numbers),
with the label's bedside rules applied to every candidate (doses withheld for SBP < 90,
SpO2 < 90%, confusion, tachycardia; cycles stopped on absolute criteria or the third
hold). Efficacy is the objective response rate (RECIST CR + PR); the Pareto front is
ORR against grade 3-4 hypotension (SBP < 80 mmHg), and the best candidate must also keep
doses withheld and treatment-related deaths under ceilings.

The script prints the Pareto front with 95% intervals, where the label regimen (600,000
IU/kg over 15 min every 8 h, up to 14 doses per cycle) lies, the candidates that dominate
or match it, and the best feasible candidate; it then re-evaluates the label and the
dominating candidates on a second, independent population (another seed) to show whether
the ordering holds. With ``--db FILE`` the search is stored in the DuckDB result store as
an analysis run (``il2sim results --db FILE`` lists it, ``il2sim report RUN --db FILE``
renders it). Intratumoral injection is left out of this search: the model's local route
acts on an injected lesion, which not every patient has (add ``"it"`` to ``routes`` to
include it).

Run (a few minutes with the native backend; the numbers are fixed by ``SEED``)::

    python examples/optimize_rcc.py [out.png] [--db results.duckdb] [--method de] [--force]

The figure goes to ``optimize_rcc_example.png`` by default (``il2sim optimize`` writes
``optimize_rcc.png``); an existing file is refused unless ``--force``, so that nothing is
replaced silently.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from il2sim.analysis.optimize import Candidate, SearchSpace, evaluate, optimize, plot_pareto
from il2sim.trial.calibrated import calibrated_mortality, calibrated_population

N_PATIENTS = 200        # virtual patients per candidate (the same patients for all)
N_CANDIDATES = 32       # candidates drawn from the search space (plus the label regimen)
SEED = 2024
METHOD = "sobol"        # or "lhs", or "de": differential evolution, N_CANDIDATES its budget
HORIZON_DAYS = 365.0
EFFICACY = "orr"
TOXICITY = "hypotension_g34"
CEILINGS = {"hypotension_g34": 0.30, "held": 0.30, "trd": 0.05}
SPACE = SearchSpace(
    dose_iu_per_kg=(2.0e5, 9.0e5),   # per dose
    interval_h=(6.0, 12.0),          # whole hours
    doses_per_cycle=(6, 15),         # capped to what fits in days 1-5
    infusion_min=(15.0, 120.0),      # IV infusions
    routes=("iv", "iv_bolus", "sc"),
    ifn_miu=(0.0, 3.0, 9.0),         # interferon-alpha per injection, 3 times a week
)
COLUMNS = ["name", "orr", "orr_lo", "orr_hi", "hypotension_g34", "hypotension_g34_lo",
           "hypotension_g34_hi", "held", "trd", "feasible"]


def _pct(row: object, metric: str) -> str:
    r = row  # a pandas row
    return (f"{100 * r[metric]:.1f}% ({100 * r[f'{metric}_lo']:.1f}-"  # type: ignore[index]
            f"{100 * r[f'{metric}_hi']:.1f})")  # type: ignore[index]


def main(out: Path, db: Path | None) -> None:
    start = time.perf_counter()
    population, mortality = calibrated_population("rcc"), calibrated_mortality("rcc")

    def progress(done: int, total: int, candidate: Candidate) -> None:
        print(f"  [{done:2d}/{total}] {candidate.name}  ({time.perf_counter() - start:.0f} s)",
              flush=True)

    print(f"Evaluating {N_CANDIDATES} candidates + the label regimen on {N_PATIENTS} "
          "calibrated RCC virtual patients, label hold rules applied (native backend)...")
    result = optimize(SPACE, population=population, mortality=mortality,
                      n_patients=N_PATIENTS, seed=SEED, n_candidates=N_CANDIDATES,
                      efficacy=EFFICACY, toxicity=TOXICITY, constraints=CEILINGS, holds=True,
                      horizon_days=HORIZON_DAYS, backend="native", method=METHOD,
                      progress=progress)

    front = result.front[COLUMNS].set_index("name")
    rates = [c for c in front.columns if c != "feasible"]
    front[rates] = (100 * front[rates].astype(float)).round(1)
    print("\nPareto front, ORR against grade 3-4 hypotension (%, 95% Clopper-Pearson):")
    print(front.to_string())

    label = result.label
    print(f"\nLabel regimen: ORR {_pct(label, 'orr')}, grade 3-4 hypotension "
          f"{_pct(label, 'hypotension_g34')}, doses withheld {100 * label['held']:.1f}%, "
          f"{'on' if label['pareto'] else 'off'} the front.")
    dominating, matching = result.dominating_label, result.matching_label
    if dominating.empty and matching.empty:
        print("No candidate dominates or matches the label regimen.")
    for kind, rows in (("dominate", dominating), ("match", matching)):
        if not rows.empty:
            print(f"{len(rows)} candidate(s) {kind} the label regimen:")
            for _, row in rows.iterrows():
                print(f"  {row['name']}: ORR {_pct(row, 'orr')}, grade 3-4 hypotension "
                      f"{_pct(row, 'hypotension_g34')}")
    ceilings = ", ".join(f"{k} <= {100 * v:.0f}%" for k, v in CEILINGS.items())
    if result.best is None:
        print(f"No candidate meets every ceiling ({ceilings}).")
    else:
        print(f"Best candidate with {ceilings}: {result.best.name}")

    if not dominating.empty:
        print(f"\nRe-evaluating the label and the dominating candidates on another "
              f"{N_PATIENTS} patients (seed {SEED + 1}):")
        check = evaluate([result.label["candidate"], *dominating["candidate"]],
                         population=population, mortality=mortality, n_patients=N_PATIENTS,
                         seed=SEED + 1, holds=True, horizon_days=HORIZON_DAYS)
        for _, row in check.iterrows():
            print(f"  {row['name']}: ORR {_pct(row, 'orr')}, grade 3-4 hypotension "
                  f"{_pct(row, 'hypotension_g34')}")

    plot_pareto(result.table, out, efficacy=EFFICACY, toxicity=TOXICITY,
                max_toxicity=CEILINGS[TOXICITY],
                title=f"RCC, {N_PATIENTS} virtual patients per regimen, label holds")
    print(f"\nPlot written to {out}.")
    if db is not None:
        from il2sim.analysis.stored import save_optimization
        from il2sim.store import ResultStore

        with ResultStore(db) as store:
            run_id = save_optimization(store, result, name="optimize rcc (example)",
                                       params={"space": SPACE.as_dict(), "seed": SEED,
                                               "n_patients": N_PATIENTS,
                                               "n_candidates": N_CANDIDATES,
                                               "horizon_days": HORIZON_DAYS, "holds": True,
                                               "indication": "rcc", "method": METHOD})
        print(f"Stored in {db} as run {run_id}.")
    print(f"{time.perf_counter() - start:.0f} s in all.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("optimize_rcc_example.png"))
    parser.add_argument("--db", type=Path, help="store the search in this DuckDB file")
    parser.add_argument("--method", choices=("sobol", "lhs", "de"), default=METHOD,
                        help="search method (de: differential evolution)")
    parser.add_argument("--force", action="store_true", help="replace an existing figure")
    args = parser.parse_args()
    if args.out.exists() and not args.force:  # checked before the search, not after
        parser.error(f"{args.out} exists; give another file name or --force to replace it")
    METHOD = args.method
    main(args.out, args.db)
