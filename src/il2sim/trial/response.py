"""Tumour measurement and response criteria (RECIST 1.1, WHO) as the trial reads them:
defined in :mod:`il2sim.assessment.response` (below the protocol layer, whose retreatment
rules classify scans too) and re-exported here under their old import path."""

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
