"""Tumour assessment: scans measured with noise and a detection limit, and the response
criteria (RECIST 1.1, WHO) that classify them; used by the protocol's retreatment rules and
the trial's endpoints alike. :mod:`il2sim.assessment.recist` applies RECIST 1.1 to
individual lesions (targets, non-targets, new lesions, lesion-level and local response)."""

from il2sim.assessment.response import (
    RECIST,
    RESPONSE_CATEGORIES,
    WHO,
    BestResponse,
    Criteria,
    ResponseCriteriaError,
    best_of_calls,
    best_response,
    classify_scans,
    is_responder,
    measure,
)

__all__ = ["RECIST", "RESPONSE_CATEGORIES", "WHO", "BestResponse", "Criteria",
           "ResponseCriteriaError", "best_of_calls", "best_response", "classify_scans",
           "is_responder", "measure"]
