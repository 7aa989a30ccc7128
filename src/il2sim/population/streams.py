"""Per-patient random streams.

Every random draw of a virtual patient after sampling comes from its own generator,
``numpy.random.default_rng((seed, patient, stream))``, so results do not depend on how
patients are chunked or distributed, and one kind of draw never shifts another.
"""

from __future__ import annotations

import numpy as np

__all__ = ["patient_rng"]


def patient_rng(seed: int, patient: int, stream: int, *sub: int) -> np.random.Generator:
    """The generator of one patient's ``stream`` (0: scans, 1: deaths, 2: toxicity; 2 with a
    course number in ``sub``: restaging at that course when there are no scan days; 3: lesion
    sizes, 4: lesion scans, :mod:`il2sim.trial.lesions`; 5 with a course number: sepsis,
    :func:`il2sim.trial.endpoints.sepsis_death_days`)."""
    return np.random.default_rng([seed, patient, stream, *sub])
