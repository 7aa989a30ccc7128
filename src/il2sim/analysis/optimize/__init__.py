"""Regimen optimisation for the therapeutic index: efficacy against toxicity.

One module per step, each importing only those before it:

* :mod:`~il2sim.analysis.optimize.candidates`: :class:`Candidate` regimens (IL-2 cycles,
  optionally interferon-alpha), their regimen and protocol, the label regimen :data:`LABEL`;
* :mod:`~il2sim.analysis.optimize.metrics`: :func:`evaluate`, efficacy and toxicity of
  candidates on the same virtual patients (common random numbers), with intervals;
* :mod:`~il2sim.analysis.optimize.pareto`: :func:`pareto_front`, the non-dominated
  candidates (maximise efficacy, minimise toxicity);
* :mod:`~il2sim.analysis.optimize.space`: :class:`SearchSpace`, the searched ranges and
  their quasi-random designs;
* :mod:`~il2sim.analysis.optimize.search`: :func:`optimize`, the search (Sobol', Latin
  hypercube, differential evolution) for the best candidate under toxicity ceilings, and
  its :class:`OptimizationResult`;
* :mod:`~il2sim.analysis.optimize.display` and :mod:`~il2sim.analysis.optimize.plot`:
  metrics in display units and the Pareto plot.
"""

from il2sim.analysis.optimize.candidates import LABEL, ROUTES, Candidate
from il2sim.analysis.optimize.display import for_file, format_metric, in_units
from il2sim.analysis.optimize.metrics import EFFICACY, METRICS, RATES, TOXICITY, evaluate
from il2sim.analysis.optimize.pareto import pareto_front
from il2sim.analysis.optimize.plot import plot_pareto
from il2sim.analysis.optimize.search import SEARCH_METHODS, OptimizationResult, optimize
from il2sim.analysis.optimize.space import SearchSpace

__all__ = ["EFFICACY", "LABEL", "METRICS", "RATES", "ROUTES", "SEARCH_METHODS", "TOXICITY",
           "Candidate", "OptimizationResult", "SearchSpace", "evaluate", "for_file",
           "format_metric", "in_units", "optimize", "pareto_front", "plot_pareto"]
