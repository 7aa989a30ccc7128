"""Helpers shared by the web tests: a small example trial, waiting for a job, a stored
validation scored on synthetic arms."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from il2sim.store import ResultStore
from il2sim.trial.statistics import TOXICITIES
from il2sim.validation.atlas import atlas
from il2sim.validation.endpoints import SimulatedArm
from il2sim.validation.run import score
from il2sim.validation.stored import save_validation

# A small trial on the calibrated RCC population: few patients, two years, so a test
# can run it to the end in seconds.
SMALL_TRIAL = """\
name = "Small RCC trial"
model = "il2_qsp"
indication = "rcc"
n_patients = 6
seed = 3

[protocol]
kind = "label"
dose = "600000 IU/kg"
max_courses = 2

[followup]
years = 2

[simulation]
backend = "native"
chunk_size = 3
"""


def wait_for(client: TestClient, job_id: str, timeout: float = 240.0) -> dict[str, object]:
    """Poll a trial job until it ends; returns its final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, object] = client.get(f"/api/trials/{job_id}").json()
        if status["status"] in ("done", "failed", "cancelled"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def synthetic_arm(n: int, rng: np.random.Generator) -> SimulatedArm:
    """A simulated arm with every column the pivotal endpoints read (random values)."""
    bor = rng.choice(["CR", "PR", "SD", "PD"], size=n, p=[0.07, 0.08, 0.35, 0.5])
    frame = pd.DataFrame({
        "bor": bor, "bor_who": bor, "dor_d": np.where(np.isin(bor, ["CR", "PR"]),
                                                      rng.uniform(30, 1500, n), np.nan),
        "dor_event": rng.uniform(size=n) < 0.5, "os_d": rng.uniform(10, 1800, n),
        "os_event": rng.uniform(size=n) < 0.8, "pfs_d": rng.uniform(10, 900, n),
        "pfs_event": rng.uniform(size=n) < 0.9,
        "death_cause": rng.choice(["", "disease", "treatment"], size=n, p=[0.2, 0.76, 0.04]),
        **{f"tox_{t}_grade": rng.integers(0, 4, n) for t in TOXICITIES},
    })
    return SimulatedArm(frame, rng.integers(10, 29, n).astype(float))


def save_synthetic_validation(db: Path, trials: list[str], replicates: int = 3) -> str:
    """Store a validation of ``trials`` (atlas ids) scored on synthetic arms (no simulation);
    returns its run id."""
    published = atlas(trials)
    rng = np.random.default_rng(5)
    arms = {(a.key, r): synthetic_arm(a.n, rng) for t in published for a in t.arms
            for r in range(replicates)}
    with ResultStore(db) as store:
        return save_validation(store, score(published, arms, replicates), published)
