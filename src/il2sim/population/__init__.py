"""Virtual populations: distributions, covariates, seeded sampling."""

from il2sim.population.distributions import (
    Categorical,
    Fixed,
    LogNormal,
    Normal,
    PopulationError,
    Uniform,
)
from il2sim.population.population import (
    CovariateEffect,
    Population,
    lesion_cells,
    standard_covariates,
    sum_of_diameters,
)

__all__ = ["Categorical", "CovariateEffect", "Fixed", "LogNormal", "Normal", "Population",
           "PopulationError", "Uniform", "lesion_cells", "standard_covariates",
           "sum_of_diameters"]
