"""Allocation of one virtual cohort to the arms of a multi-arm trial.

The whole trial's cohort is drawn once (``Population.sample(cohort_size, seed)``), so the
arms' patients come from one population and one draw, as in a real randomised trial:

* ``"randomised"``: complete randomisation with fixed arm sizes (the random allocation
  rule; Rosenberger WF, Lachin JM. Randomization in Clinical Trials, 2nd ed., Wiley 2016,
  section 3.3): a uniformly random permutation ``pi`` of the cohort's ``N = sum(n_k)``
  patients, seeded by the trial's seed alone, and arm ``k`` treats the patients at positions
  ``n_1 + ... + n_(k-1)`` to ``n_1 + ... + n_k - 1`` of ``pi``. Every set of arm sizes
  ``(n_1, ..., n_K)`` is then equally likely to be any partition of the cohort.
* ``"crossover"``: every arm treats the whole cohort (the same patient ids, covariates and
  parameters), so the arms differ only in treatment: the in-silico crossover that no real
  trial can run. Patients' random streams (scan noise, deaths) are seeded by (seed, patient),
  so a patient also meets the same scan noise and death draws in every arm.

Stratified randomisation is not offered [assumption: complete randomisation; with hundreds
of virtual patients per arm the covariates balance in expectation, and the crossover design
removes imbalance altogether].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from il2sim.trial.errors import TrialError

__all__ = ["DESIGNS", "RANDOMISATION_TAG", "Allocation", "split_total"]

DESIGNS = ("randomised", "crossover")
"""The designs of a multi-arm trial."""

RANDOMISATION_TAG = 0x72616E64
"""Second word of the randomisation generator's seed ``[seed, tag]`` ("rand" in ASCII):
a stream of its own, apart from the patients' ``[seed, patient, stream]`` streams."""


@dataclass(frozen=True)
class Allocation:
    """Which patients of the trial's cohort one arm treats.

    Main arguments:
        design: ``"randomised"`` or ``"crossover"``.
        sizes: patients per arm, in arm order (crossover: every arm the whole cohort,
            so all equal).
        arm: this arm's position in ``sizes``.

    Raises:
        ValueError: an unknown design, fewer than two arms, a size below 1, unequal sizes
            under crossover, or ``arm`` out of range.
    """

    design: str
    sizes: tuple[int, ...]
    arm: int

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise TrialError(f"allocation: design must be one of {', '.join(DESIGNS)}, "
                             f"got {self.design!r}")
        if len(self.sizes) < 2:
            raise TrialError("allocation: a multi-arm trial needs at least two arms")
        if any(isinstance(n, bool) or int(n) != n or n < 1 for n in self.sizes):
            raise TrialError(f"allocation: arm sizes must be positive integers, got "
                             f"{self.sizes}")
        if self.design == "crossover" and len(set(self.sizes)) != 1:
            raise TrialError(f"allocation: under crossover every arm treats the whole "
                             f"cohort, got sizes {self.sizes}")
        if not 0 <= self.arm < len(self.sizes):
            raise TrialError(f"allocation: arm {self.arm} out of range 0..{len(self.sizes) - 1}")

    @property
    def cohort_size(self) -> int:
        """Patients drawn for the whole trial."""
        return self.sizes[0] if self.design == "crossover" else sum(self.sizes)

    def rows(self, seed: int) -> NDArray[np.int64]:
        """Positions in the cohort (``Population.sample(cohort_size, seed)``) of this arm's
        patients, ascending."""
        if self.design == "crossover":
            return np.arange(self.cohort_size, dtype=np.int64)
        order = np.random.default_rng([seed, RANDOMISATION_TAG]).permutation(self.cohort_size)
        start = sum(self.sizes[: self.arm])
        return np.sort(order[start: start + self.sizes[self.arm]]).astype(np.int64)


def split_total(total: int, fractions: tuple[float, ...]) -> tuple[int, ...]:
    """Arm sizes of ``total`` patients in the given fractions (summing to 1), rounded by
    largest remainders (Hamilton's method), ties to the earlier arm: the sizes sum to
    ``total`` and each is within 1 of ``total * fraction``."""
    exact = [total * f for f in fractions]
    sizes = [int(np.floor(x)) for x in exact]
    left = total - sum(sizes)
    order = sorted(range(len(exact)), key=lambda k: (-(exact[k] - sizes[k]), k))
    for k in order[:left]:
        sizes[k] += 1
    return tuple(sizes)
