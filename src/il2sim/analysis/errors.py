"""The analysis layer's input error, light to import (the command line imports it on its
error path)."""

from __future__ import annotations

__all__ = ["AnalysisError"]


class AnalysisError(ValueError):
    """A sensitivity, biomarker, optimisation or report analysis was asked for something it
    cannot do: one line saying what. A ``ValueError``, so that callers catching that keep
    working; the command line turns it into its one-line message with exit status 2."""
