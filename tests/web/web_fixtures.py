"""Helpers shared by the web tests: a small example trial, waiting for a job."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

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
