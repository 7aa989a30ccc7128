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
from il2sim.population.selection import acceptance_rejection

__all__ = ["Categorical", "CovariateEffect", "Fixed", "LogNormal", "Normal", "Population",
           "PopulationError", "Uniform", "acceptance_rejection", "lesion_cells",
           "standard_covariates", "sum_of_diameters"]
