"""Virtual populations: covariates, parameter distributions with correlations, seeded sampling.

A :class:`Population` draws, for N virtual patients, clinical covariates (weight,
height, ECOG performance status, tumour type and burden, number of lesions,
prior therapy) and model parameters. Parameter draws are correlated through a
Gaussian copula: standard-normal scores ``z = chol(C) @ e`` are mapped through
each distribution. Covariate effects multiply parameters (e.g. a worse
performance status lowers antigenicity), and the tumour burden sets the initial
tumour size. Randomness comes only from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from il2sim.population.distributions import (
    Categorical,
    Distribution,
    LogNormal,
    Normal,
    PopulationError,
)
from il2sim.units import bsa_mosteller

__all__ = ["CovariateEffect", "Population", "lesion_cells", "standard_covariates",
           "sum_of_diameters"]


def lesion_cells(sod_mm: np.ndarray, n_lesions: np.ndarray,
                 cells_per_ml: float = 1e9) -> np.ndarray:
    """Tumour cells of n equal spherical lesions whose diameters add up to ``sod_mm``.

    V = n * pi/6 * (d/10)^3 mL with d = sod/n mm; cells = V * cells_per_ml.
    """
    d_cm = np.asarray(sod_mm, dtype=float) / np.asarray(n_lesions, dtype=float) / 10.0
    return np.asarray(n_lesions * math.pi / 6 * d_cm**3 * cells_per_ml, dtype=float)


def sum_of_diameters(cells: np.ndarray, n_lesions: np.ndarray,
                     cells_per_ml: float = 1e9) -> np.ndarray:
    """Inverse of :func:`lesion_cells`: sum of the n lesions' diameters in mm."""
    volume = np.maximum(np.asarray(cells, dtype=float), 0.0) / cells_per_ml
    n = np.asarray(n_lesions, dtype=float)
    return np.asarray(n * 10.0 * (6 * volume / (n * math.pi)) ** (1 / 3), dtype=float)


@dataclass(frozen=True)
class CovariateEffect:
    """Multiply ``param`` by ``factors[value]`` of a categorical covariate."""

    param: str
    covariate: str
    factors: Mapping[object, float]


@dataclass(frozen=True)
class Population:
    """A virtual population.

    Main arguments:
        params: distribution of each sampled model parameter.
        covariates: distribution of each covariate; ``weight`` (kg), ``height``
            (cm), ``sod_mm`` (baseline sum of diameters) and ``n_lesions`` are
            understood by the trial; others (``ecog``, ``tumour_type``,
            ``prior_therapy``) feed covariate effects and biomarker analyses.

    Other arguments:
        correlations: rank-free Gaussian-copula correlations between parameters,
            by pair of names.
        effects: covariate effects on parameters.
        tumour_state: the model state set from the tumour burden (None: none); a
            sampled ``f_res`` splits the burden with the state ``<tumour_state>_r``
            (immune-escape clone).
    """

    params: Mapping[str, Distribution]
    covariates: Mapping[str, Distribution | Categorical] = field(default_factory=dict)
    correlations: Mapping[tuple[str, str], float] = field(default_factory=dict)
    effects: tuple[CovariateEffect, ...] = ()
    tumour_state: str | None = "T"
    name: str = ""

    def __post_init__(self) -> None:
        names = list(self.params)
        for (a, b), rho in self.correlations.items():
            if a not in self.params or b not in self.params:
                raise PopulationError(f"correlation ({a}, {b}): both must be sampled "
                                      "parameters")
            if not -1 < rho < 1:
                raise PopulationError(f"correlation ({a}, {b}) = {rho} must lie in (-1, 1)")
        self._cholesky(names)
        for e in self.effects:
            if e.param not in self.params:
                raise PopulationError(f"covariate effect on {e.param!r}: not a sampled "
                                      "parameter")
            if e.covariate not in self.covariates:
                raise PopulationError(f"covariate effect of {e.covariate!r}: unknown covariate")

    def with_params(self, **params: Distribution) -> Population:
        """This population with these parameters' distributions set (added or replaced)."""
        return replace(self, params={**self.params, **params})

    def _cholesky(self, names: list[str]) -> np.ndarray:
        c = np.eye(len(names))
        for (a, b), rho in self.correlations.items():
            i, j = names.index(a), names.index(b)
            c[i, j] = c[j, i] = rho
        try:
            return np.linalg.cholesky(c)
        except np.linalg.LinAlgError:
            raise PopulationError("parameter correlations are not positive definite") from None

    def sample(self, n: int, seed: int | np.random.Generator) -> pd.DataFrame:
        """N patients: ``patient``, covariates, ``bsa``, parameters, ``initial_<state>``."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise PopulationError(f"population size must be a positive integer, not {n!r}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        frame = pd.DataFrame({"patient": np.arange(n)})
        for name, dist in self.covariates.items():
            if isinstance(dist, Categorical):
                frame[name] = dist.sample_values(n, rng)
            else:
                frame[name] = dist.sample(n, rng)
        if {"weight", "height"} <= set(frame.columns):
            frame["bsa"] = bsa_mosteller(frame["weight"].to_numpy(float),
                                         frame["height"].to_numpy(float))
        names = list(self.params)
        if names:
            z = rng.standard_normal((n, len(names))) @ self._cholesky(names).T
            for k, name in enumerate(names):
                frame[name] = self.params[name].standard(z[:, k])
        for effect in self.effects:
            factor = frame[effect.covariate].map(lambda v, e=effect: e.factors.get(v, 1.0))
            frame[effect.param] = frame[effect.param] * factor.to_numpy(float)
        if self.tumour_state and {"sod_mm", "n_lesions"} <= set(frame.columns):
            cells = lesion_cells(frame["sod_mm"].to_numpy(float),
                                 frame["n_lesions"].to_numpy(float))
            if "f_res" in frame:  # a resistant clone: the model's state <tumour_state>_r
                f = np.clip(frame["f_res"].to_numpy(float), 1e-9, 1 - 1e-9)
                frame[f"initial_{self.tumour_state}_r"] = cells * f
                cells = cells * (1 - f)
            frame[f"initial_{self.tumour_state}"] = cells
        return frame


def standard_covariates(indication: str) -> dict[str, Distribution | Categorical]:
    """Covariates of patients in the pivotal high-dose IL-2 trials.

    Good performance status was required (ECOG 0-1; RCC: 0 in 65%, 1 in 31%, Fyfe et al.
    1995, J Clin Oncol 13:688); baseline tumour burden as a RECIST sum of diameters,
    median about 80 mm, 1-6 target lesions [assumption]. Melanoma patients had more often
    received prior systemic therapy (Atkins et al. 1999, J Clin Oncol 17:2105).
    """
    prior = {"rcc": 0.15, "melanoma": 0.5}
    if indication not in prior:
        raise PopulationError(f"unknown indication {indication!r}; known: rcc, melanoma")
    return {
        "weight": Normal(80.0, 15.0, (45.0, 150.0)),
        "height": Normal(172.0, 9.0, (150.0, 200.0)),
        "ecog": Categorical((0, 1), (0.65, 0.35)),
        "tumour_type": Categorical((indication,), (1.0,)),
        "prior_therapy": Categorical((False, True), (1 - prior[indication], prior[indication])),
        "sod_mm": LogNormal(80.0, 0.5, (15.0, 300.0)),
        "n_lesions": Categorical((1, 2, 3, 4, 5), (0.15, 0.25, 0.25, 0.2, 0.15)),
    }
