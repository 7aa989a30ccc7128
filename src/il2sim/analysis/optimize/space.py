"""The searched space of regimens: a point of the unit hypercube maps to a candidate, and
quasi-random designs (scrambled Sobol', Latin hypercube; SciPy's ``qmc``) draw points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import qmc

from il2sim.analysis.errors import AnalysisError
from il2sim.analysis.optimize.candidates import (
    DOSE_RANGE,
    IFN_RANGE,
    INTERVAL_RANGE,
    MAX_CYCLES,
    Candidate,
    max_doses_per_cycle,
)

__all__ = ["DIMENSIONS", "SPACE_ROUTES", "SearchSpace"]

def _bounds(value: tuple[float, float], what: str, lo: float, hi: float) -> tuple[float, float]:
    a, b = (float(v) for v in value)
    if not (math.isfinite(a) and math.isfinite(b)) or a > b:
        raise AnalysisError(f"search space {what}: give (low, high) with low <= high, "
                            f"got {value!r}")
    if a < lo or b > hi:
        raise AnalysisError(f"search space {what}: {value!r} is outside {lo:g}-{hi:g}")
    return a, b


SPACE_ROUTES = ("iv", "iv_bolus", "sc", "it")
"""Route options of a :class:`SearchSpace`: IV infusion (duration searched), IV bolus, SC, IT."""
DIMENSIONS = 6
"""Coordinates of a point of the search space's unit hypercube."""


@dataclass(frozen=True)
class SearchSpace:
    """Ranges of the searched regimen parameters (each ``(low, high)``, inclusive) and options.

    A point ``u`` of the 6-dimensional unit hypercube maps to a candidate: dose linear in its
    range (rounded to ``dose_step`` IU/kg), interval and doses per cycle uniform over the
    whole numbers of their ranges, infusion duration linear (rounded to whole minutes), the
    route uniform over ``routes`` and the interferon dose uniform over ``ifn_miu``. Doses
    per cycle are capped to those that fit in days 1-5 at the drawn interval, and the
    infusion to the interval; a route other than ``"iv"`` has no infusion.

    Other arguments:
        routes: route options from :data:`SPACE_ROUTES` (``"iv_bolus"``: IV push).
        ifn_miu: interferon-alpha doses per injection to choose from, MIU (0: none).
    """

    dose_iu_per_kg: tuple[float, float] = (2.0e5, 9.0e5)
    interval_h: tuple[float, float] = (6.0, 12.0)
    doses_per_cycle: tuple[int, int] = (6, 15)
    infusion_min: tuple[float, float] = (15.0, 120.0)
    cycles: int = 2
    dose_step: float = 1.0e4
    routes: tuple[str, ...] = ("iv",)
    ifn_miu: tuple[float, ...] = (0.0,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dose_iu_per_kg",
                           _bounds(self.dose_iu_per_kg, "dose_iu_per_kg", *DOSE_RANGE))
        object.__setattr__(self, "interval_h",
                           _bounds(self.interval_h, "interval_h", *INTERVAL_RANGE))
        n_lo, n_hi = _bounds(self.doses_per_cycle, "doses_per_cycle", 1, 1000)
        if n_lo != int(n_lo) or n_hi != int(n_hi):
            raise AnalysisError("search space doses_per_cycle: give whole numbers")
        object.__setattr__(self, "doses_per_cycle", (int(n_lo), int(n_hi)))
        object.__setattr__(self, "infusion_min",
                           _bounds(self.infusion_min, "infusion_min", 1.0, 60 * INTERVAL_RANGE[1]))
        if self.infusion_min[0] > 60.0 * self.interval_h[0]:
            raise AnalysisError("search space: the shortest infusion is longer than the shortest "
                                "interval")
        if isinstance(self.cycles, bool) or not 1 <= self.cycles <= MAX_CYCLES:
            raise AnalysisError(f"search space cycles: must be 1..{MAX_CYCLES}, got {self.cycles}")
        if not self.dose_step > 0:
            raise AnalysisError(f"search space dose_step: must be positive, got {self.dose_step}")
        routes = tuple(self.routes)
        bad = [r for r in routes if r not in SPACE_ROUTES]
        if not routes or bad or len(set(routes)) != len(routes):
            raise AnalysisError(f"search space routes: give distinct routes from "
                                f"{', '.join(SPACE_ROUTES)}, got {self.routes!r}")
        object.__setattr__(self, "routes", routes)
        ifn = tuple(float(v) for v in self.ifn_miu)
        if not ifn or len(set(ifn)) != len(ifn) or not all(
                IFN_RANGE[0] <= v <= IFN_RANGE[1] for v in ifn):
            raise AnalysisError(f"search space ifn_miu: give distinct doses in "
                                f"{IFN_RANGE[0]:g}-{IFN_RANGE[1]:g} MIU, got {self.ifn_miu!r}")
        object.__setattr__(self, "ifn_miu", ifn)

    def candidate(self, u: Sequence[float] | NDArray[np.float64]) -> Candidate:
        """The candidate at the point ``u`` of the unit hypercube (6 coordinates in [0, 1]:
        dose, interval, doses per cycle, infusion, route, interferon)."""
        point = np.asarray(u, dtype=float)
        if point.shape != (DIMENSIONS,):
            raise AnalysisError(f"search space: a point has {DIMENSIONS} coordinates, got shape "
                                f"{point.shape}")
        u = np.clip(point, 0.0, 1.0 - 1e-12)
        d_lo, d_hi = self.dose_iu_per_kg
        dose = float(np.clip(round((d_lo + u[0] * (d_hi - d_lo)) / self.dose_step)
                             * self.dose_step, d_lo, d_hi))
        i_lo, i_hi = math.ceil(self.interval_h[0]), math.floor(self.interval_h[1])
        interval = (float(i_lo + math.floor(u[1] * (i_hi - i_lo + 1))) if i_lo <= i_hi
                    else self.interval_h[0] + u[1] * (self.interval_h[1] - self.interval_h[0]))
        n_lo, n_hi = self.doses_per_cycle
        n = min(n_lo + math.floor(u[2] * (n_hi - n_lo + 1)), max_doses_per_cycle(interval))
        f_lo, f_hi = self.infusion_min
        infusion = max(min(float(round(f_lo + u[3] * (f_hi - f_lo))), 60.0 * interval), 1.0)
        route = self.routes[math.floor(u[4] * len(self.routes))]
        ifn = self.ifn_miu[math.floor(u[5] * len(self.ifn_miu))]
        if route != "iv":
            infusion = 0.0
        return Candidate(dose, interval, max(n, 1), infusion, cycles=self.cycles,
                         route="iv" if route == "iv_bolus" else route, ifn_miu=ifn)

    def grid(self) -> tuple[int | None, ...]:
        """Per coordinate of :meth:`candidate`: the number of values it takes when it is
        discrete (interval in whole hours, doses per cycle, route, interferon dose), ``None``
        when it is continuous (dose, infusion duration; an interval range without a whole
        hour), 1 when it is fixed (a zero-width range, or infusions without IV routes)."""
        d_lo, d_hi = self.dose_iu_per_kg
        i_lo, i_hi = math.ceil(self.interval_h[0]), math.floor(self.interval_h[1])
        interval = (i_hi - i_lo + 1 if i_lo <= i_hi
                    else None if self.interval_h[0] < self.interval_h[1] else 1)
        f_lo, f_hi = self.infusion_min
        return (None if d_lo < d_hi else 1, interval,
                self.doses_per_cycle[1] - self.doses_per_cycle[0] + 1,
                None if f_lo < f_hi and "iv" in self.routes else 1,
                len(self.routes), len(self.ifn_miu))

    def sample(self, n: int, seed: int, *, method: str = "sobol") -> list[Candidate]:
        """``n`` distinct candidates from a scrambled Sobol' sequence or a Latin hypercube.

        Points mapping to a candidate already drawn are skipped, so fewer than ``n`` come
        back only if the space holds fewer distinct candidates.
        """
        return [c for _, c in self.sample_points(n, seed, method=method)]

    def sample_points(self, n: int, seed: int | Sequence[int], *, method: str = "sobol",
                      centre: Sequence[float] | NDArray[np.float64] | None = None,
                      width: float = 1.0, exclude: Sequence[Candidate] = (),
                      ) -> list[tuple[NDArray[np.float64], Candidate]]:
        """Up to ``n`` distinct candidates with their points of the unit hypercube.

        Points are drawn in the box ``centre +- width / 2`` (clipped to the unit cube;
        default the whole cube) and mapped by :meth:`candidate`; candidates in ``exclude``
        or drawn before are skipped.

        Raises:
            ValueError: ``n < 1``, an unknown method, a width outside (0, 1], or a centre
                without 6 coordinates in [0, 1].
        """
        if n < 1:
            raise AnalysisError(f"search space: n must be >= 1, got {n}")
        if not 0.0 < width <= 1.0:
            raise AnalysisError(f"search space: width must be in (0, 1], got {width}")
        mid = np.full(DIMENSIONS, 0.5) if centre is None else np.asarray(centre, dtype=float)
        if mid.shape != (DIMENSIONS,) or np.any((mid < 0) | (mid > 1)):
            raise AnalysisError(f"search space: the centre is a point of the unit cube with "
                                f"{DIMENSIONS} coordinates, got {centre!r}")
        lo = np.clip(mid - width / 2.0, 0.0, 1.0)
        hi = np.clip(mid + width / 2.0, 0.0, 1.0)
        if method == "sobol":
            engine: qmc.QMCEngine = qmc.Sobol(DIMENSIONS, scramble=True,
                                              rng=np.random.default_rng(seed))
        elif method == "lhs":
            engine = qmc.LatinHypercube(DIMENSIONS, rng=np.random.default_rng(seed))
        else:
            raise AnalysisError(f"search space: method must be 'sobol' or 'lhs', got {method!r}")
        out: list[tuple[NDArray[np.float64], Candidate]] = []
        seen: set[Candidate] = set(exclude)
        for _ in range(8):
            m = max(1, math.ceil(math.log2(max(n, 2))))
            points = engine.random_base2(m) if method == "sobol" else engine.random(2 * n)
            for point in points:
                u = np.asarray(lo + point * (hi - lo), dtype=np.float64)
                c = self.candidate(u)
                if c not in seen:
                    seen.add(c)
                    out.append((u, c))
                if len(out) == n:
                    return out
        return out

    def as_dict(self) -> dict[str, object]:
        """The space as plain values (for storing with the results)."""
        return {"dose_iu_per_kg": list(self.dose_iu_per_kg),
                "interval_h": list(self.interval_h),
                "doses_per_cycle": list(self.doses_per_cycle),
                "infusion_min": list(self.infusion_min), "cycles": self.cycles,
                "dose_step": self.dose_step, "routes": list(self.routes),
                "ifn_miu": list(self.ifn_miu)}
