"""Analyses on top of the simulator: global sensitivity (Morris, Sobol') and response
biomarkers (cross-validated classifiers)."""

from il2sim.analysis.biomarkers import (
    BiomarkerResult,
    biomarker_analysis,
    compare_feature_sets,
    plot_importance,
    plot_roc,
    trial_features,
)
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
    "BiomarkerResult", "ModelOutput", "Problem", "SensitivityError", "biomarker_analysis",
    "compare_feature_sets", "model_output", "morris", "plot_importance", "plot_roc",
    "plot_sensitivity", "sobol", "sobol_convergence", "trial_features",
]
