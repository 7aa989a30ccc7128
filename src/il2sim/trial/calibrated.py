"""Calibrated virtual populations for the pivotal trials (Fyfe et al. 1995, Atkins et al. 1999).

The numbers live in ``calibration/<indication>.json``, written by
``scripts/calibrate_trials.py`` (re-runnable; it records its targets, seed and
the simulations it used). This module turns them into a
:class:`~il2sim.population.Population` and a :class:`MortalityModel`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from il2sim.population import CovariateEffect, LogNormal, Population, standard_covariates
from il2sim.trial.endpoints import MortalityModel
from il2sim.trial.errors import TrialError

__all__ = ["calibration", "calibrated_mortality", "calibrated_population",
           "covariate_effects", "posterior_draws", "with_posterior_draw"]

INDICATIONS = ("rcc", "melanoma")


def calibration(indication: str) -> dict[str, Any]:
    """The stored calibration of an indication."""
    if indication not in INDICATIONS:
        raise TrialError(f"unknown indication {indication!r}; known: {', '.join(INDICATIONS)}")
    text = resources.files("il2sim.trial").joinpath(f"calibration/{indication}.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def calibrated_population(indication: str, draw: int | None = None) -> Population:
    """Covariates of the pivotal trial and the calibrated parameter distributions.

    ``draw=None``: the point calibration (``params``); ``draw=k``: the population at draw
    ``k`` of the stored posterior (``scripts/calibrate_posterior.py``), i.e. the medians of
    ``ant``, ``f_res``, ``pmax`` (and of the clone's ``k_C`` where the posterior fits it)
    and the sigma of ``ant`` of that draw, the rest as the point calibration.
    """
    cal = calibration(indication)
    params = _point_params(cal)
    name = f"{indication} (calibrated)"
    if draw is not None:
        params.update(_posterior_params(indication, cal, params, draw))
        name = f"{indication} (calibrated, posterior draw {draw})"
    return Population(params=params, covariates=standard_covariates(indication),
                      effects=covariate_effects(cal.get("effects", [])), name=name)


def posterior_draws(indication: str) -> int:
    """Number of stored posterior draws of an indication (0 when none is stored)."""
    post = calibration(indication).get("posterior")
    return len(post["draws"]["ant"]) if post else 0


def with_posterior_draw(population: Population, indication: str, draw: int) -> Population:
    """``population`` with its calibrated hyperparameters at posterior draw ``draw`` modulo
    the number of draws.

    Only parameters whose distribution is the point calibration's are replaced (one that a
    trial file overrides stays); without a stored posterior ``population`` is returned as
    it is."""
    if indication not in INDICATIONS:
        return population
    cal = calibration(indication)  # read once: the point and the posterior
    post = cal.get("posterior")
    if not post:
        return population
    point = _point_params(cal)
    k = draw % len(post["draws"]["ant"])
    drawn = {name: dist for name, dist in _posterior_params(indication, cal, point, k).items()
             if population.params.get(name) == point[name]}
    if not drawn:
        return population
    return dataclasses.replace(population.with_params(**drawn),
                               name=f"{population.name} (posterior draw {k})")


def _point_params(cal: Mapping[str, Any]) -> dict[str, LogNormal]:
    """The point calibration's log-normals (``bounds`` where the record gives them)."""
    out = {}
    for name, d in cal["params"].items():
        low, high = d.get("bounds", (0.0, math.inf))
        out[name] = LogNormal(float(d["median"]), float(d["sigma"]), (float(low), float(high)))
    return out


def _posterior_params(indication: str, cal: Mapping[str, Any],
                      point: Mapping[str, LogNormal], draw: int) -> dict[str, LogNormal]:
    """The log-normals of the posterior's hyperparameters at ``draw``."""
    where = f"calibration/{indication}.json"
    post = cal.get("posterior")
    if not post:
        raise TrialError(f"{where}: no key 'posterior' (run scripts/calibrate_posterior.py)")
    draws = post["draws"]
    if not 0 <= draw < len(draws["ant"]):
        raise TrialError(f"{where}: posterior.draws has {len(draws['ant'])} draws; "
                         f"no draw {draw}")
    return {"ant": LogNormal(float(draws["ant"][draw]), float(draws["ant_sigma"][draw]),
                             point["ant"].bounds),
            **{name: LogNormal(float(draws[name][draw]), point[name].sigma, point[name].bounds)
               for name in ("f_res", "pmax", "k_C") if name in draws}}


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
