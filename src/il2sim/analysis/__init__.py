"""Analyses on top of the simulator: global sensitivity (Morris, Sobol'), response
biomarkers (cross-validated classifiers), regimen optimisation on a Pareto front of
efficacy against toxicity, the HTML report of a stored run, and the storing of analyses
with their run in the DuckDB result store."""

from il2sim.analysis.biomarkers import (
    BiomarkerResult,
    biomarker_analysis,
    compare_feature_sets,
    plot_importance,
    plot_roc,
    trial_features,
)
from il2sim.analysis.optimize import (
    EFFICACY,
    LABEL,
    TOXICITY,
    Candidate,
    OptimizationResult,
    SearchSpace,
    evaluate,
    optimize,
    pareto_front,
    plot_pareto,
)
from il2sim.analysis.report import report_html, write_report
from il2sim.analysis.sensitivity import (
    ModelOutput,
    Problem,
    SensitivityError,
    TrialOutput,
    convergence_change,
    model_output,
    morris,
    plot_sensitivity,
    sobol,
    sobol_convergence,
    trial_output,
)
from il2sim.analysis.stored import (
    figure_png,
    save_biomarkers,
    save_optimization,
    save_sensitivity,
)

__all__ = [
    "EFFICACY", "LABEL", "TOXICITY", "Candidate", "OptimizationResult", "SearchSpace",
    "evaluate", "optimize", "pareto_front", "plot_pareto",
    "BiomarkerResult", "ModelOutput", "Problem", "SensitivityError", "TrialOutput",
    "biomarker_analysis", "compare_feature_sets", "convergence_change", "figure_png",
    "model_output", "morris", "plot_importance", "plot_roc", "plot_sensitivity", "report_html",
    "save_biomarkers", "save_optimization", "save_sensitivity", "sobol", "sobol_convergence",
    "trial_features", "trial_output", "write_report",
]
