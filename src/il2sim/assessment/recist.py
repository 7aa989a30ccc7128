"""RECIST 1.1 from the diameters of individual lesions, and lesion-level local response.

Eisenhauer et al. 2009, Eur J Cancer 45:228 (RECIST 1.1), with the EORTC RECIST working
group's clarifications (recist.eortc.org: paired organs, the SD definition):

- Baseline. A non-nodal lesion is measurable with a longest diameter of at least 10 mm; a
  lymph node is pathological with a short axis of at least 10 mm and measurable from 15 mm
  (its short axis is what is measured). Up to 5 measurable lesions, at most 2 per organ,
  are target lesions, chosen by size and "representative of all involved organs": here
  the largest lesion of each organ first (organs in order of their largest lesion), then
  the next largest while an organ has fewer than 2 [assumption: the guideline's
  representativeness, made a rule]. Lymph nodes count as one organ, wherever they are.
  Every other lesion present at baseline is a non-target lesion.
- Target lesions, by their sum of diameters S (nadir: the smallest S before the scan,
  baseline included): CR when every non-nodal target is gone and every pathological node
  (target or not) has a short axis below 10 mm; PD when S >= 1.2*nadir and S - nadir >=
  5 mm; PR when S <= 0.7*S_baseline; SD otherwise.
- Non-target lesions: CR when all are gone (nodes below 10 mm); PD on "unequivocal
  progression", which RECIST sizes as the rise that would be PD for measurable disease,
  a 73% increase in volume (equivalent to 20% in diameter): here the volume of all
  non-target lesions (sum of d^3) at least 1.73 times its nadir and their equivalent
  diameter (cube root of that sum) at least 5 mm above the nadir's [assumption: the
  guideline leaves "unequivocal" to the reader; the 5 mm mirrors the target rule];
  otherwise non-CR/non-PD.
- New lesions: a lesion absent at baseline (not seen; a node below 10 mm) that is seen
  later (a node from 10 mm) is a new lesion, and the overall response is PD.
- Overall response: Table 1 of the guideline (target and non-target disease), or Table 2
  (non-target disease only: CR, non-CR/non-PD or PD).
- Lesion-level response: the same thresholds applied to one lesion's own diameter (CR gone,
  PR 30% below its baseline, PD 20% and 5 mm above its nadir) [assumption: RECIST defines
  response for a patient; trials of local therapy count the response of each treated
  lesion, as Radny et al. 2003, Br J Cancer 89:1620 did (209 of 245 treated metastases in
  complete response)]. The local response of a patient is complete when every treated
  lesion's best lesion-level response is CR ("complete response of all treated
  metastases", Radny 2003: 15 of 24 patients).

Best responses use :func:`il2sim.assessment.response.best_of_calls` (confirmation of CR and
PR by a scan at least 4 weeks later, as RECIST asks of non-randomised trials).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from il2sim.assessment.response import (
    RECIST,
    BestResponse,
    Criteria,
    ResponseCriteriaError,
    best_of_calls,
)

__all__ = ["LYMPH_NODES", "MEASURABLE_MM", "NODE_MEASURABLE_MM", "NODE_NORMAL_MM",
           "NON_TARGET_PD_VOLUME", "STABLE_NON_TARGET", "Lesion", "LocalResponse",
           "RecistScans", "TargetSelection", "assess", "best_lesion_responses",
           "best_overall_response", "lesion_calls", "local_response", "select_targets"]

MEASURABLE_MM = 10.0
"""Smallest measurable longest diameter of a non-nodal lesion on CT (Eisenhauer 2009)."""
NODE_NORMAL_MM = 10.0
"""Short axis below which a lymph node is normal (Eisenhauer 2009)."""
NODE_MEASURABLE_MM = 15.0
"""Smallest short axis of a measurable (target-eligible) lymph node (Eisenhauer 2009)."""
NON_TARGET_PD_VOLUME = 0.73
"""Volume rise of non-target disease taken as unequivocal progression (Eisenhauer 2009:
73% in volume, equivalent to 20% in diameter)."""
LYMPH_NODES = "lymph nodes"
"""The one organ all lymph nodes count as (EORTC RECIST FAQ, paired organs)."""
STABLE_NON_TARGET = "non-CR/non-PD"
"""Response of non-target disease that neither disappeared nor progressed."""


@dataclass(frozen=True)
class Lesion:
    """One lesion: a name, the organ it is in, and whether it is a lymph node (measured in
    its short axis)."""

    name: str
    organ: str
    node: bool = False

    @property
    def organ_key(self) -> str:
        """The organ for the two-per-organ rule."""
        return LYMPH_NODES if self.node else self.organ


@dataclass(frozen=True)
class TargetSelection:
    """Indices of the target, non-target and absent (not seen at baseline) lesions."""

    targets: tuple[int, ...]
    non_targets: tuple[int, ...]
    absent: tuple[int, ...]


@dataclass(frozen=True)
class RecistScans:
    """RECIST 1.1 at each scan after the baseline (``target_sum`` includes the baseline).

    ``target``: CR, PR, SD, PD, or NA (no target lesions); ``non_target``: CR,
    non-CR/non-PD, PD, or NA (none); ``new_lesions``: whether a new lesion is seen;
    ``overall``: CR, PR, SD, non-CR/non-PD or PD.
    """

    selection: TargetSelection
    target_sum: NDArray[np.float64]
    target: NDArray[np.str_]
    non_target: NDArray[np.str_]
    new_lesions: NDArray[np.bool_]
    overall: NDArray[np.str_]


@dataclass(frozen=True)
class LocalResponse:
    """Best lesion-level response of each treated lesion, and whether all are CR."""

    lesions: tuple[str, ...]
    best: tuple[BestResponse, ...]

    @property
    def complete(self) -> bool:
        """Complete response of all treated lesions."""
        return all(b.bor == "CR" for b in self.best)


def _diameters(lesions: Sequence[Lesion], diameters: ArrayLike) -> NDArray[np.float64]:
    d = np.asarray(diameters, dtype=float)
    if d.ndim != 2 or d.shape[1] != len(lesions) or d.shape[0] < 1:
        raise ResponseCriteriaError(
            f"lesion scans: need diameters as (scans, {len(lesions)} lesions), not shape "
            f"{d.shape}")
    if not np.isfinite(d).all() or (d < 0).any():
        raise ResponseCriteriaError("lesion scans: diameters must be finite and >= 0 mm")
    return d


def _seen(lesions: Sequence[Lesion], d: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each lesion is there at each scan (a node: pathological, >= 10 mm)."""
    node = np.array([les.node for les in lesions], dtype=bool)
    return np.where(node, d >= NODE_NORMAL_MM, d > 0)


def select_targets(lesions: Sequence[Lesion], baseline_mm: ArrayLike, *,
                   max_targets: int = 5, max_per_organ: int = 2) -> TargetSelection:
    """Target and non-target lesions at baseline (see the module docstring)."""
    base = _diameters(lesions, np.atleast_2d(np.asarray(baseline_mm, dtype=float)))[0]
    seen = _seen(lesions, base[None, :])[0]
    measurable = [k for k, les in enumerate(lesions) if seen[k] and base[k] >= (
        NODE_MEASURABLE_MM if les.node else MEASURABLE_MM)]
    by_size = sorted(measurable, key=lambda k: (-base[k], k))
    chosen: list[int] = []
    per_organ: dict[str, int] = {}

    def take(k: int) -> None:
        if len(chosen) < max_targets and per_organ.get(lesions[k].organ_key, 0) < max_per_organ \
                and k not in chosen:
            chosen.append(k)
            per_organ[lesions[k].organ_key] = per_organ.get(lesions[k].organ_key, 0) + 1

    firsts: dict[str, int] = {}
    for k in by_size:
        firsts.setdefault(lesions[k].organ_key, k)
    for k in firsts.values():  # the largest lesion of each organ, organs by that size
        take(k)
    for k in by_size:
        take(k)
    targets = tuple(sorted(chosen))
    non_targets = tuple(k for k in range(len(lesions)) if seen[k] and k not in chosen)
    absent = tuple(k for k in range(len(lesions)) if not seen[k])
    return TargetSelection(targets, non_targets, absent)


def _sum_calls(total: NDArray[np.float64], gone: NDArray[np.bool_],
               criteria: Criteria) -> NDArray[np.str_]:
    """CR/PR/SD/PD at each post-baseline scan of a sum of diameters (``gone``: CR there)."""
    calls = []
    for k in range(1, len(total)):
        nadir = total[:k].min()
        if total[k] >= nadir * (1 + criteria.pd_rise) and \
                total[k] - nadir >= criteria.pd_min_mm and total[k] > 0:
            calls.append("PD")
        elif gone[k]:
            calls.append("CR")
        elif total[k] <= total[0] * (1 - criteria.pr_drop):
            calls.append("PR")
        else:
            calls.append("SD")
    return np.array(calls, dtype=str)


def assess(lesions: Sequence[Lesion], diameters: ArrayLike, criteria: Criteria = RECIST, *,
           selection: TargetSelection | None = None) -> RecistScans:
    """RECIST 1.1 at each scan of the lesions' diameters (mm; row 0 the baseline).

    Raises:
        ResponseCriteriaError: diameters of the wrong shape, negative or not finite;
            no lesion at baseline; criteria that are not RECIST's sum of diameters.
    """
    if criteria.use_products:
        raise ResponseCriteriaError(f"lesion scans: {criteria.name} sums products of "
                                    "diameters; lesion-level RECIST needs a sum of diameters")
    d = _diameters(lesions, diameters)
    sel = selection if selection is not None else select_targets(lesions, d[0])
    if not sel.targets and not sel.non_targets:
        raise ResponseCriteriaError("lesion scans: no lesion is seen at baseline")
    seen = _seen(lesions, d)
    node = np.array([les.node for les in lesions], dtype=bool)
    present = list(sel.targets) + list(sel.non_targets)
    # CR needs every baseline lesion gone and every pathological node back below 10 mm
    nodes_normal = np.all(np.where(node[present], d[:, present] < NODE_NORMAL_MM,
                                   True), axis=1)
    t = list(sel.targets)
    total = d[:, t].sum(axis=1)
    if t:
        gone = nodes_normal & np.all(np.where(node[t], True, d[:, t] == 0), axis=1)
        target = _sum_calls(total, gone, criteria)
    else:
        target = np.full(len(d) - 1, "NA")
    nt = list(sel.non_targets)
    if nt:
        volume = (d[:, nt] ** 3).sum(axis=1)
        nt_calls = []
        for k in range(1, len(d)):
            nadir = volume[:k].min()
            rise = volume[k] >= nadir * (1 + NON_TARGET_PD_VOLUME) and \
                np.cbrt(volume[k]) - np.cbrt(nadir) >= criteria.pd_min_mm
            nt_calls.append("PD" if rise else "CR" if not seen[k, nt].any()
                            else STABLE_NON_TARGET)
        non_target = np.array(nt_calls, dtype=str)
    else:
        non_target = np.full(len(d) - 1, "NA")
    new: NDArray[np.bool_] = np.asarray(seen[1:, list(sel.absent)].any(axis=1), dtype=bool) \
        if sel.absent else np.zeros(len(d) - 1, dtype=bool)
    overall = np.asarray([_overall(str(tc), str(nc), bool(nw))
                          for tc, nc, nw in zip(target, non_target, new, strict=True)],
                         dtype=np.str_)
    return RecistScans(sel, total, target, non_target, new, overall)


def _overall(target: str, non_target: str, new: bool) -> str:
    """Eisenhauer 2009, Table 1 (targets) and Table 2 (non-target disease only)."""
    if new or target == "PD" or non_target == "PD":
        return "PD"
    if target == "NA":
        return non_target
    if target == "CR":
        return "CR" if non_target in ("CR", "NA") else "PR"
    return target


def best_overall_response(days: ArrayLike, scans: RecistScans,
                          criteria: Criteria = RECIST) -> BestResponse:
    """Best overall response (confirmed CR/PR) of :func:`assess`'s scans; the change is that
    of the target sum (NaN without targets)."""
    total = scans.target_sum
    change = 100 * (total[1:] - total[0]) / total[0] if total[0] > 0 else \
        np.full(len(total) - 1, np.nan)
    stable = STABLE_NON_TARGET if not scans.selection.targets else "SD"
    return best_of_calls(days, scans.overall, change, criteria, stable=stable)


def lesion_calls(lesions: Sequence[Lesion], diameters: ArrayLike,
                 criteria: Criteria = RECIST) -> NDArray[np.str_]:
    """Lesion-level response (CR, PR, SD, PD) of each lesion seen at baseline at each scan
    after it, ``(scans - 1, lesions)``; NA for a lesion absent at baseline."""
    d = _diameters(lesions, diameters)
    seen = _seen(lesions, d)
    out = np.full((len(d) - 1, len(lesions)), "NA", dtype=object)
    for k in range(len(lesions)):
        if seen[0, k]:
            out[:, k] = _sum_calls(d[:, k], ~seen[:, k], criteria)
    return np.asarray(out, dtype=str)


def best_lesion_responses(days: ArrayLike, lesions: Sequence[Lesion], diameters: ArrayLike,
                          criteria: Criteria = RECIST) -> tuple[BestResponse, ...]:
    """Each lesion's best lesion-level response (NE for a lesion absent at baseline)."""
    d = _diameters(lesions, diameters)
    calls = lesion_calls(lesions, d, criteria)
    at_baseline = _seen(lesions, d)[0]
    out = []
    for k in range(len(lesions)):
        if not at_baseline[k]:
            out.append(BestResponse("NE", np.nan, np.nan, np.nan))
            continue
        change = 100 * (d[1:, k] - d[0, k]) / d[0, k]
        out.append(best_of_calls(days, calls[:, k], change, criteria))
    return tuple(out)


def local_response(days: ArrayLike, lesions: Sequence[Lesion], diameters: ArrayLike,
                   treated: Sequence[str], criteria: Criteria = RECIST) -> LocalResponse:
    """Best lesion-level response of each treated lesion (by name) and whether all are CR.

    Raises:
        ResponseCriteriaError: a treated name that is no lesion, or no treated lesion.
    """
    names = [les.name for les in lesions]
    unknown = [t for t in treated if t not in names]
    if unknown or not treated:
        raise ResponseCriteriaError(f"local response: treated lesion {unknown[0]!r} is not "
                                    f"one of {names}" if unknown else
                                    "local response: no treated lesion")
    best = best_lesion_responses(days, lesions, diameters, criteria)
    return LocalResponse(tuple(treated), tuple(best[names.index(t)] for t in treated))
