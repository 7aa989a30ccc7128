"""The trial layer's input error, light to import (the command line imports it on its error
path)."""

from __future__ import annotations

__all__ = ["TrialError"]


class TrialError(ValueError):
    """A trial, its arms, allocation, endpoints or statistics were asked for something they
    cannot do: one line saying what. A ``ValueError``, so that callers catching that keep
    working; the command line turns it into its one-line message with exit status 2."""
