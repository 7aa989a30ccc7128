"""Calibrated virtual populations for the pivotal trials (Fyfe et al. 1995, Atkins et al. 1999).

The numbers live in ``calibration/<indication>.json``, written by
``scripts/calibrate_trials.py`` (re-runnable; it records its targets, seed and
the simulations it used). This module turns them into a
:class:`~il2sim.population.Population` and a :class:`MortalityModel`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from il2sim.population import CovariateEffect, LogNormal, Population, standard_covariates
from il2sim.trial.endpoints import MortalityModel
from il2sim.trial.errors import TrialError

__all__ = ["calibration", "calibrated_mortality", "calibrated_population",
           "covariate_effects"]

INDICATIONS = ("rcc", "melanoma")


def calibration(indication: str) -> dict[str, Any]:
    """The stored calibration of an indication."""
    if indication not in INDICATIONS:
        raise TrialError(f"unknown indication {indication!r}; known: {', '.join(INDICATIONS)}")
    text = resources.files("il2sim.trial").joinpath(f"calibration/{indication}.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def calibrated_population(indication: str) -> Population:
    """Covariates of the pivotal trial and the calibrated parameter distributions."""
    cal = calibration(indication)
    params = {name: LogNormal(float(d["median"]), float(d["sigma"]))
              for name, d in cal["params"].items()}
    return Population(params=params, covariates=standard_covariates(indication),
                      effects=covariate_effects(cal.get("effects", [])),
                      name=f"{indication} (calibrated)")


def covariate_effects(specs: Iterable[Mapping[str, Any]]) -> tuple[CovariateEffect, ...]:
    """Covariate effects from their JSON form (factor keys are text: "1", "True")."""
    return tuple(CovariateEffect(e["param"], e["covariate"],
                                 {_key(k): float(v) for k, v in e["factors"].items()})
                 for e in specs)


def calibrated_mortality(indication: str) -> MortalityModel:
    return MortalityModel(**calibration(indication)["mortality"])


def _key(text: str) -> object:
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        return text
