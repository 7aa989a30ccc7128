"""Parameter distributions for virtual populations, sampled only through a Generator.

- ``LogNormal(median, sigma)``: ``log X ~ N(log median, sigma^2)`` (sigma is the
  standard deviation of log X; CV = sqrt(exp(sigma^2) - 1)).
- ``Normal(mean, sd)``, ``Uniform(low, high)``, ``Categorical(values, probs)``,
  ``Fixed(value)``.
Any continuous one can be truncated to ``[low, high]`` (resampled, not clipped,
so the shape inside the bounds is kept).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["Categorical", "Distribution", "Fixed", "LogNormal", "Normal", "PopulationError",
           "Uniform"]


class PopulationError(ValueError):
    """A population or distribution is malformed."""


class Distribution(Protocol):
    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]: ...

    def standard(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """The value at standard-normal score ``z`` (for correlated sampling)."""
        ...


def _truncate(draw: NDArray[np.float64], bounds: tuple[float, float], name: str,
              redraw: object, rng: np.random.Generator) -> NDArray[np.float64]:
    lo, hi = bounds
    out = draw.copy()
    for _ in range(1000):
        bad = (out < lo) | (out > hi)
        if not bad.any():
            return out
        out[bad] = redraw(int(bad.sum()), rng)  # type: ignore[operator]
    raise PopulationError(f"{name}: bounds [{lo}, {hi}] hold almost none of the distribution")


@dataclass(frozen=True)
class LogNormal:
    median: float
    sigma: float
    bounds: tuple[float, float] = (0.0, math.inf)

    def __post_init__(self) -> None:
        if not self.median > 0 or not self.sigma >= 0:
            raise PopulationError(f"lognormal: median must be > 0 and sigma >= 0, got "
                                  f"{self.median}, {self.sigma}")

    def _raw(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return self.median * np.exp(self.sigma * rng.standard_normal(n))

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return _truncate(self._raw(n, rng), self.bounds, "lognormal", self._raw, rng)

    def standard(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.clip(self.median * np.exp(self.sigma * z), *self.bounds)


@dataclass(frozen=True)
class Normal:
    mean: float
    sd: float
    bounds: tuple[float, float] = (-math.inf, math.inf)

    def __post_init__(self) -> None:
        if not self.sd >= 0:
            raise PopulationError(f"normal: sd must be >= 0, got {self.sd}")

    def _raw(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return self.mean + self.sd * rng.standard_normal(n)

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return _truncate(self._raw(n, rng), self.bounds, "normal", self._raw, rng)

    def standard(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.clip(self.mean + self.sd * z, *self.bounds)


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise PopulationError(f"uniform: low {self.low} must be below high {self.high}")

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return rng.uniform(self.low, self.high, n)

    def standard(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        from scipy.stats import norm

        return np.asarray(self.low + (self.high - self.low) * norm.cdf(z), dtype=float)


@dataclass(frozen=True)
class Fixed:
    value: float

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return np.full(n, float(self.value))

    def standard(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.full(z.shape, float(self.value))


@dataclass(frozen=True)
class Categorical:
    values: tuple[object, ...]
    probs: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        probs = self.probs or tuple(1.0 / len(self.values) for _ in self.values)
        if len(probs) != len(self.values) or not self.values:
            raise PopulationError("categorical: give one probability per value")
        if any(p < 0 for p in probs) or abs(sum(probs) - 1) > 1e-9:
            raise PopulationError(f"categorical: probabilities {probs} must be >= 0 and sum "
                                  "to 1")
        object.__setattr__(self, "probs", tuple(probs))

    def sample_values(self, n: int, rng: np.random.Generator) -> NDArray[np.object_]:
        idx = rng.choice(len(self.values), size=n, p=np.array(self.probs))
        return np.array(self.values, dtype=object)[idx]
