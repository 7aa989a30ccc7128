"""The Pareto front of efficacy against toxicity.

Pareto optimality: candidate ``a`` dominates ``b`` when ``eff_a >= eff_b`` and
``tox_a <= tox_b`` with at least one strict inequality; the front is the set of
candidates no other candidate dominates (Miettinen, Nonlinear Multiobjective
Optimization, 1999).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from il2sim.analysis.errors import AnalysisError

__all__ = ["pareto_front"]

def pareto_front(frame: pd.DataFrame, efficacy: str = "orr",
                 toxicity: str = "hypotension") -> pd.DataFrame:
    """Mark the non-dominated rows: maximise ``efficacy``, minimise ``toxicity``.

    Row ``a`` dominates row ``b`` when ``eff_a >= eff_b`` and ``tox_a <= tox_b``, one of
    them strictly. Rows with equal values do not dominate each other (both can be on the
    front); ``inf`` compares as a value (a median duration not reached); a row with a
    missing value is not compared: it is never on the front, dominates
    nothing and has ``dominated_by`` 0.

    Returns:
        a copy of ``frame`` with ``pareto`` (bool: on the front) and ``dominated_by`` (how
        many rows dominate it).

    Raises:
        ValueError: a missing column.
    """
    for col in (efficacy, toxicity):
        if col not in frame.columns:
            raise AnalysisError(f"pareto_front: missing column {col!r}")
    eff = pd.to_numeric(frame[efficacy], errors="coerce").to_numpy(float)
    tox = pd.to_numeric(frame[toxicity], errors="coerce").to_numpy(float)
    valid = ~np.isnan(eff) & ~np.isnan(tox)  # inf is a value (a median not reached)
    e, t = np.where(valid, eff, -np.inf), np.where(valid, tox, np.inf)
    # dom[i, j]: row j dominates row i
    dom = ((e[None, :] >= e[:, None]) & (t[None, :] <= t[:, None])
           & ((e[None, :] > e[:, None]) | (t[None, :] < t[:, None])) & valid[None, :])
    out = frame.copy()
    out["dominated_by"] = np.where(valid, dom.sum(axis=1), 0).astype(np.int64)
    out["pareto"] = valid & (out["dominated_by"].to_numpy() == 0)
    return out
