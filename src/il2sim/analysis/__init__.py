"""Analyses on top of the simulator: global sensitivity (Morris, Sobol'), response
biomarkers (cross-validated classifiers), regimen optimisation on a Pareto front of
efficacy against toxicity, and the HTML report of a stored trial."""

from il2sim.analysis.biomarkers import (
    BiomarkerResult,
    biomarker_analysis,
    compare_feature_sets,
    plot_importance,
    plot_roc,
    trial_features,
)
from il2sim.analysis.optimize import (
    LABEL,
    Candidate,
    OptimisationResult,
    SearchSpace,
    evaluate,
    optimise,
    pareto_front,
    plot_pareto,
)
from il2sim.analysis.report import report_html, write_report
from il2sim.analysis.sensitivity import (
    ModelOutput,
    Problem,
    SensitivityError,
    model_output,
    morris,
    plot_sensitivity,
    sobol,
    sobol_convergence,
)

__all__ = [
    "LABEL", "Candidate", "OptimisationResult", "SearchSpace", "evaluate", "optimise",
    "pareto_front", "plot_pareto",
    "BiomarkerResult", "ModelOutput", "Problem", "SensitivityError", "biomarker_analysis",
    "compare_feature_sets", "model_output", "morris", "plot_importance", "plot_roc",
    "plot_sensitivity", "report_html", "sobol", "sobol_convergence", "trial_features",
    "write_report",
]
