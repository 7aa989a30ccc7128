"""Virtual trials with lesions: a model of several lesions (``il2_qsp_lesions_<L>``) given
each patient's own lesions, injections dosed by lesion size, and lesion-level endpoints.

A patient has ``n_lesions`` lesions (the population's covariate, at most the model's L
slots; a slot beyond them holds one cell that neither grows nor is injected, ``f_perf_k =
0`` and ``f_dose_k = 0``, and is never counted). Their diameters add up to the patient's
baseline sum of diameters ``sod_mm``, split by weights ``w_k ~ LogNormal(0, 0.5)``
[assumption: metastases of one patient differ in size by a factor of about 2-3], drawn
from the patient's stream 3 (:func:`~il2sim.population.streams.patient_rng`); each lesion
is a sphere of ``pi/6*d^3`` at ``cells_per_ml`` with the patient's escape fraction.

Every intratumoral dose of the regimen (route ``it``) is given into every lesion the patient
has (Radny et al. 2003, Br J Cancer 89:1620, injected "the total number of cutaneous and
soft-tissue metastases accessible from the skin"), each lesion receiving the dose of its
size (:func:`lesion_dose`: 0.6-6 MIU, Radny 2003) through the lesion model's dose fraction
``f_dose_k`` = that dose / the regimen's written dose.

Endpoints (one row per patient; the validation atlas's ``treated_lesions_*`` columns):
each lesion's diameter at baseline and at the trial's scans while the patient lives,
measured with the trial's noise and detection limit
(:func:`~il2sim.assessment.response.measure`, stream 4), classified per lesion
(:func:`~il2sim.assessment.recist.local_response`, RECIST 1.1 thresholds applied to a lesion,
confirmed 4 weeks later). ``treated_lesions``: the lesions injected; ``treated_lesions_cr``:
those whose best lesion-level response is CR; ``treated_lesions_all_cr``: 1 when all are
(Radny's "complete response of all treated metastases"); ``treated_lesions_patient``: 1.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from il2sim.assessment.recist import Lesion, local_response
from il2sim.assessment.response import measure
from il2sim.dosing.regimen import Regimen
from il2sim.model.spec import Model
from il2sim.population.streams import patient_rng
from il2sim.trial.errors import TrialError

__all__ = ["LESION_DOSE_MIU", "LESION_SIZE_SIGMA", "lesion_diameters", "lesion_dose",
           "lesion_endpoints", "lesion_inputs", "lesion_slots"]

LESION_DOSE_MIU = (0.6, 6.0)
"""Smallest and largest single injection, MIU (Radny et al. 2003, by lesion size)."""
LESION_DOSE_SPAN_MM = (5.0, 50.0)
"""Diameters given the smallest and the largest injection [assumption: the dose rises
linearly with the diameter between a 5 mm and a 50 mm metastasis; Radny 2003 gives the
range of doses, not the rule]."""
LESION_SIZE_SIGMA = 0.5
"""Log-scale spread of a patient's lesion diameters [assumption]."""
SIZES, SCANS = 3, 4
"""The patients' random streams of lesion sizes and lesion scans (listed with the others in
:func:`~il2sim.population.streams.patient_rng`)."""


def lesion_slots(model: Model) -> int:
    """The number of lesions of a lesion model (routes ``it_1``, ``it_2``, ...); 0 for a
    model of one tumour."""
    names = {r.name for r in model.routes}
    count = 0
    while f"it_{count + 1}" in names:
        count += 1
    return count


def lesion_dose(diameter_mm: NDArray[np.float64]) -> NDArray[np.float64]:
    """Single injection (MIU) into a lesion of ``diameter_mm``: linear in the diameter from
    0.6 MIU at 5 mm to 6 MIU at 50 mm, and within that range outside them."""
    (lo, hi), (d_lo, d_hi) = LESION_DOSE_MIU, LESION_DOSE_SPAN_MM
    dose = lo + (hi - lo) * (np.asarray(diameter_mm, dtype=float) - d_lo) / (d_hi - d_lo)
    return np.asarray(np.clip(dose, lo, hi), dtype=float)


def lesion_diameters(patients: pd.DataFrame, slots: int, seed: int) -> NDArray[np.float64]:
    """Each patient's lesion diameters (mm), ``(N, slots)``, 0 for an empty slot: the
    ``n_lesions`` (at most ``slots``) diameters add up to ``sod_mm``.

    Raises:
        TrialError: ``sod_mm`` or ``n_lesions`` missing, or a patient with more lesions
            than the model has slots.
    """
    missing = [c for c in ("sod_mm", "n_lesions") if c not in patients]
    if missing:
        raise TrialError(f"lesions: the population has no covariate {missing[0]!r}")
    counts = patients["n_lesions"].to_numpy(int)
    if (counts > slots).any() or (counts < 1).any():
        raise TrialError(f"lesions: a patient has {int(counts.max())} lesions; the model has "
                         f"{slots} (use il2_qsp_lesions_<n> with n >= the most lesions)")
    out = np.zeros((len(patients), slots))
    for i, (pid, n, sod) in enumerate(zip(patients["patient"].to_numpy(int), counts,
                                          patients["sod_mm"].to_numpy(float), strict=True)):
        w = patient_rng(seed, int(pid), SIZES).lognormal(0.0, LESION_SIZE_SIGMA, int(n))
        out[i, :n] = sod * w / w.sum()
    return out


def lesion_inputs(model: Model, regimen: Regimen, params: dict[str, NDArray[np.float64]],
                  initial: dict[str, NDArray[np.float64]], diameters: NDArray[np.float64],
                  ) -> tuple[Regimen, dict[str, NDArray[np.float64]],
                             dict[str, NDArray[np.float64]]]:
    """The regimen, parameters and initial states of a lesion model for these patients.

    ``initial`` holds the one-tumour ``T`` and ``T_r`` of the population; they give the
    escape fraction, and the lesions' diameters give their cells. Each ``it`` dose becomes
    one dose per lesion route at the same times.

    Raises:
        TrialError: the regimen's intratumoral doses differ in amount (one written dose is
            scaled per lesion).
    """
    slots = lesion_slots(model)
    per_ml = model.param("cells_per_ml").value
    t0, tr0 = initial.pop("T", None), initial.pop("T_r", None)
    escape = tr0 / (t0 + tr0) if t0 is not None and tr0 is not None else \
        np.full(len(diameters), model.state("T_r_1").initial / (
            model.state("T_1").initial + model.state("T_r_1").initial))
    cells = math.pi / 6 * (diameters / 10.0) ** 3 * per_ml
    present = diameters > 0
    written = {float(a.dose.quantity.to("MIU").magnitude)
               for a in regimen.administrations if a.dose.route == "it"}
    if len(written) > 1:
        raise TrialError(f"lesions: the intratumoral doses differ ({sorted(written)} MIU); "
                         "give one dose, which each lesion's size then scales")
    nominal = written.pop() if written else 1.0
    dose = lesion_dose(diameters)
    for k in range(1, slots + 1):
        here = present[:, k - 1]
        c = np.where(here, cells[:, k - 1], 1.0)
        initial[f"T_{k}"] = c * (1 - escape)
        initial[f"T_r_{k}"] = c * escape
        params[f"f_perf_{k}"] = np.where(here, params.get(f"f_perf_{k}", 1.0), 0.0)
        params[f"f_dose_{k}"] = np.where(here, dose[:, k - 1] / nominal, 0.0)
    items = []
    for a in regimen.administrations:
        if a.dose.route != "it":
            items.append(a)
            continue
        items += [dataclasses.replace(a, dose=dataclasses.replace(a.dose, route=f"it_{k}"))
                  for k in range(1, slots + 1)]
    return Regimen(tuple(items), name=regimen.name), params, initial


def lesion_endpoints(patients: pd.DataFrame, days: NDArray[np.float64],
                     volumes: NDArray[np.float64], diameters: NDArray[np.float64], *,
                     seed: int, scan_days: NDArray[np.float64],
                     death_day: NDArray[np.float64]) -> pd.DataFrame:
    """Lesion-level endpoints, one row per patient (see the module docstring).

    ``volumes``: each lesion's volume (mL) on ``days``, ``(N, slots, n_days)``;
    ``diameters``: the baseline diameters (mm), 0 for an empty slot.
    """
    rows = []
    for i, pid in enumerate(patients["patient"].to_numpy(int)):
        present = np.flatnonzero(diameters[i] > 0)
        scan = np.concatenate([[0.0], scan_days[scan_days < death_day[i]]])
        true = np.array([10.0 * (6 * np.interp(scan, days, volumes[i, k]) / math.pi) ** (1 / 3)
                         for k in present]).T
        rng = patient_rng(seed, int(pid), SCANS)
        measured = np.vstack([true[:1], measure(true[1:], 1, rng)])
        lesions = [Lesion(f"lesion {k + 1}", "skin") for k in present]
        local = local_response(scan, lesions, measured, [les.name for les in lesions])
        cr = sum(b.bor == "CR" for b in local.best)
        rows.append({"patient": pid, "treated_lesions": len(present),
                     "treated_lesions_cr": cr, "treated_lesions_all_cr": int(local.complete),
                     "treated_lesions_patient": 1})
    return pd.DataFrame(rows)
