"""Run published trials virtually and score every observed endpoint against the simulation.

Each arm is simulated at its published size ``R`` times with seeds ``seed, seed + 1, ...``
(replicate 0 is the trial with the atlas' seed), replicate ``r`` of a calibrated population
at the calibration posterior's draw ``r`` when one is stored (:func:`replicate_spec`). Each
replicate gives one value of every endpoint, so the ``R`` values sample what the model
predicts a trial of that size would report: its spread holds the patients' sampling
variation, the model's own randomness and, with a posterior, the calibration's
uncertainty. The simulated 95% prediction interval runs between order statistics of the ``R``
values chosen so that a further trial falls inside with probability at least 95% when
``R >= 39`` (:func:`prediction_interval`).

Compatibility rule (one rule for every endpoint): an observation is **compatible** with
the model when the values it allows meet the simulated 95% prediction interval, i.e. when
``max(obs_lo, sim_lo) <= min(obs_hi, sim_hi)``. The values an observation allows are its
reported value (a count of ``n`` patients as the fraction ``count / n``, since the
simulated arm has the same ``n``), ``[bound, inf)`` for "at least" (a median not reached),
or the reported range of estimates.

Every arm's simulation is stored in the result store (a trial run per arm and replicate,
written chunk by chunk), so an interrupted validation resumes where it stopped and arms
shared between trials (the toxicity table pools the two pivotal sets) are simulated once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from il2sim.store import ResultStore
from il2sim.trial.calibrated import with_posterior_draw
from il2sim.trial.runner import TrialSpec, stream_trial
from il2sim.validation.atlas import Outcome, PublishedTrial
from il2sim.validation.endpoints import NotSimulated, SimulatedArm

__all__ = ["DEFAULT_REPLICATES", "LEVEL", "Validation", "compatible", "coverage",
           "prediction_interval", "replicate_spec", "score", "validate"]

DEFAULT_REPLICATES: Final = 40
"""Replicates per arm: the smallest number whose prediction interval (the lowest and highest
of 40 values) holds a new trial with probability at least 95% (39/41)."""

LEVEL: Final = 0.95
"""Level of the simulated prediction interval."""

_REL: Final = 1e-9
"""Relative slack of the comparison, for fractions computed two ways."""


def prediction_interval(values: Sequence[float] | np.ndarray[Any, Any], *,
                        level: float = LEVEL) -> tuple[float, float, float]:
    """(median, low, high) of the ``R`` values that are not NaN.

    The ends are the order statistics ``x_(k)`` and ``x_(R+1-k)`` with
    ``k = max(1, floor((R + 1)(1 - level)/2))``: a new value exchangeable with the ``R``
    falls between them with probability ``(R + 1 - 2k)/(R + 1)`` whatever the distribution
    (Wilks SS, Ann Math Stat 12:91, 1941), 39/41 = 0.951 for ``R = 40``
    (:func:`coverage`). Order statistics keep a median not reached (``inf``)."""
    x = np.asarray(values, dtype=float)
    x = np.sort(x[~np.isnan(x)])
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    k = _rank(len(x), level)
    mid = x[(len(x) - 1) // 2] if len(x) % 2 else 0.5 * (x[len(x) // 2 - 1] + x[len(x) // 2])
    return float(mid), float(x[k - 1]), float(x[len(x) - k])


def _rank(r: int, level: float) -> int:
    return max(1, math.floor((r + 1) * (1.0 - level) / 2))


def coverage(replicates: int, *, level: float = LEVEL) -> float:
    """The probability that :func:`prediction_interval` of ``replicates`` values holds one
    more exchangeable value: ``(R + 1 - 2k)/(R + 1)``."""
    return (replicates + 1 - 2 * _rank(replicates, level)) / (replicates + 1)


def compatible(observed: tuple[float, float], simulated: tuple[float, float]) -> bool:
    """Whether the observed values ``[lo, hi]`` meet the simulated interval ``[lo, hi]``."""
    lo, hi = max(observed[0], simulated[0]), min(observed[1], simulated[1])
    scale = max(abs(v) for v in (*observed, *simulated) if math.isfinite(v)) if any(
        math.isfinite(v) for v in (*observed, *simulated)) else 1.0
    return bool(lo <= hi + _REL * scale)


def replicate_spec(spec: TrialSpec, key: str, replicate: int) -> TrialSpec:
    """The virtual trial of one replicate of an arm (seed + replicate).

    A calibrated population takes the calibration posterior's draw ``replicate`` (modulo
    the draws stored; :func:`~il2sim.trial.calibrated.with_posterior_draw`), so the
    prediction interval holds the parameters' uncertainty as well; without a stored
    posterior the population is the point calibration's."""
    return dataclasses.replace(
        spec, name=f"validation {key}", seed=spec.seed + replicate,
        population=with_posterior_draw(spec.population, spec.indication, replicate))


@dataclass(frozen=True)
class Validation:
    """A scored validation.

    Attributes:
        scores: one row per outcome (see :func:`validate`).
        values: one row per outcome and replicate: ``trial``, ``outcome``, ``replicate``,
            ``value`` (in the endpoint's unit; a fraction for %).
        replicates: replicates per arm.
    """

    scores: pd.DataFrame
    values: pd.DataFrame
    replicates: int

    def scorecard(self) -> pd.DataFrame:
        """Compatible outcomes per trial and overall (not simulated ones count as misses).

        The last row, ``all``, totals the calibration set; a check trial (``role`` "check":
        no calibration used it, so it scores a prediction) has its own row and is left out
        of the total."""
        s = self.scores
        roles = s["role"] if "role" in s else pd.Series("calibration", index=s.index)
        rows = [{"trial": t, "title": g["title"].iloc[0], "short": g["short"].iloc[0],
                 "role": str(roles[g.index].iloc[0]),
                 "compatible": int((g["status"] == "compatible").sum()), "outcomes": len(g),
                 "not_simulated": int((g["status"] == "not simulated").sum())}
                for t, g in s.groupby("trial", sort=False)]
        counted = [r for r in rows if r["role"] == "calibration"]
        rows.append({"trial": "all", "title": "All trials of the calibration set",
                     "short": "All trials",
                     "role": "calibration",
                     "compatible": sum(r["compatible"] for r in counted),
                     "outcomes": sum(r["outcomes"] for r in counted),
                     "not_simulated": sum(r["not_simulated"] for r in counted)})
        return pd.DataFrame(rows)

    def scorecard_shown(self) -> pd.DataFrame:
        """The scorecard as a reader sees it: one row per trial, the calibration set's total
        when a calibration trial was run, and the checks' total (``trial`` "checks",
        "Checks (not in the total)") when a check was."""
        card = self.scorecard()
        trials, total = card.iloc[:-1], card.iloc[-1:]
        checks = trials[trials["role"] == "check"]
        parts = [trials]
        if (trials["role"] == "calibration").any():
            parts.append(total)
        if len(checks):
            parts.append(pd.DataFrame([{
                "trial": "checks", "title": "Check trials (not in the total)",
                "short": "Checks (not in the total)", "role": "check",
                **{k: int(checks[k].sum()) for k in ("compatible", "outcomes",
                                                     "not_simulated")}}]))
        return pd.concat(parts, ignore_index=True)


def _simulate(store: ResultStore, spec: TrialSpec, *, client: object | None,
              progress: Callable[[int], None] | None) -> SimulatedArm:
    run_id = stream_trial(spec, store, client=client, progress=progress)
    endpoints = store.table(run_id, "endpoints")
    given = store.query(
        "SELECT patient, count(*) AS n FROM doses WHERE run_id = ? AND course = 1 "
        "AND status = 'given' GROUP BY patient", [run_id])
    per_patient = dict(zip(given["patient"].astype(int), given["n"].astype(float)))
    doses = np.array([per_patient.get(int(p), 0.0) for p in endpoints["patient"]])
    return SimulatedArm(endpoints, doses)


def validate(trials: Sequence[PublishedTrial], store: ResultStore, *,
             replicates: int = DEFAULT_REPLICATES, client: object | None = None,
             progress: Callable[[int, int], None] | None = None) -> Validation:
    """Simulate every arm ``replicates`` times and score every outcome.

    Main arguments:
        trials: published trials (:func:`il2sim.validation.atlas.atlas`).
        store: where the arms' simulations are stored (and found again).

    Other arguments:
        replicates: replicates per arm (at least 1; 40 or more for a 95% interval).
        client: a Dask client; each arm's chunks run on it.
        progress: called with (patients done, patients in all) as chunks finish.

    Returns:
        :class:`Validation`; ``scores`` has per outcome ``trial``, ``title``, ``short``,
        ``outcome``
        (index within the trial), ``endpoint``, ``label`` (clinical words), ``arm`` (the
        arm's label), ``unit``, ``observed``, ``observed_lo``, ``observed_hi`` (95% CI of a
        count, else the values the observation allows), ``allowed_lo``, ``allowed_hi``,
        ``simulated``, ``simulated_lo``, ``simulated_hi`` (median and 95% prediction
        interval), ``n_values`` (replicates giving a value), ``compatible`` (None when not
        simulated), ``status`` (``compatible``, ``not compatible``, ``not simulated`` or
        ``not estimable``), ``reason``, ``source`` (citation) and ``note``.
    """
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1, got {replicates}")
    runnable = {a.key: a.spec for t in trials for a in t.arms if a.spec is not None}
    total = replicates * sum(s.n_patients for s in runnable.values())
    done = 0

    def advance(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress(done, total)

    simulated: dict[tuple[str, int], SimulatedArm] = {}
    for key, spec in runnable.items():
        for r in range(replicates):
            simulated[(key, r)] = _simulate(store, replicate_spec(spec, key, r),
                                            client=client, progress=advance)
    return score(trials, simulated, replicates)


def score(trials: Sequence[PublishedTrial], simulated: Mapping[tuple[str, int], SimulatedArm],
          replicates: int) -> Validation:
    """Score every outcome of ``trials`` on simulated arms (arm key, replicate) -> arm."""
    scores, values = [], []
    for trial in trials:
        for i, outcome in enumerate(trial.outcomes):
            row, vals = _score(trial, i, outcome, simulated, replicates)
            scores.append(row)
            values += [{"trial": trial.id, "outcome": i, "replicate": r, "value": v}
                       for r, v in enumerate(vals)]
    return Validation(pd.DataFrame(scores), pd.DataFrame(
        values, columns=["trial", "outcome", "replicate", "value"]), replicates)


def _score(trial: PublishedTrial, i: int, outcome: Outcome,
           simulated: Mapping[tuple[str, int], SimulatedArm],
           replicates: int) -> tuple[dict[str, Any], list[float]]:
    obs = outcome.observed
    arm_label = ("all arms" if outcome.arm == "all" else trial.arm(outcome.arm).label)
    row: dict[str, Any] = {
        "trial": trial.id, "title": trial.title, "short": trial.short, "role": trial.role,
        "outcome": i,
        "endpoint": outcome.endpoint.name, "label": outcome.label, "arm": arm_label,
        "unit": outcome.endpoint.unit, "observed": obs.point,
        "observed_lo": obs.interval()[0], "observed_hi": obs.interval()[1],
        "allowed_lo": obs.bounds()[0], "allowed_hi": obs.bounds()[1],
        "simulated": math.nan, "simulated_lo": math.nan, "simulated_hi": math.nan,
        "n_values": 0, "compatible": None, "status": "not simulated", "reason": "",
        "source": outcome.citation, "note": outcome.note,
    }
    involved = [a for a in trial.arms
                if outcome.arm in ("all", a.name) or a.name == outcome.params.get("control")]
    blocked = next((a.why_not for a in involved if a.spec is None), "")
    if blocked:
        row["reason"] = blocked
        return row, []
    vals: list[float] = []
    for r in range(replicates):
        arms = {a.name: simulated[(a.key, r)] for a in involved}
        try:
            vals.append(outcome.endpoint.compute(arms, outcome.arm, outcome.params,
                                                 trial.criteria))
        except NotSimulated as exc:
            row["reason"] = str(exc)
            return row, []
    mid, lo, hi = prediction_interval(vals)
    n_values = int(np.sum(~np.isnan(vals)))
    row.update(simulated=mid, simulated_lo=lo, simulated_hi=hi, n_values=n_values)
    if n_values < max(1, replicates // 2):
        row.update(status="not estimable", compatible=False,
                   reason=f"a value in only {n_values} of {replicates} replicates")
        return row, vals
    ok = compatible(obs.bounds(), (lo, hi))
    row.update(compatible=ok, status="compatible" if ok else "not compatible")
    return row, vals
