"""Multi-arm trials in the web app: an uploaded file runs every arm and the run page returns
the arms side by side with the comparisons and figures; bad files are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web_fixtures import wait_for

ARMS_TRIAL = """\
name = "Small randomised trial"
indication = "rcc"
seed = 3
design = "randomised"

[followup]
years = 0.5

[simulation]
backend = "native"
chunk_size = 3

[[arms]]
name = "high"
n_patients = 3
[arms.protocol]
kind = "label"
dose = "720000 IU/kg"
max_courses = 1

[[arms]]
name = "low"
n_patients = 3
[arms.protocol]
kind = "label"
dose = "72000 IU/kg"
max_courses = 1
"""


def test_a_multi_arm_upload_shows_arms_and_comparisons(client: TestClient) -> None:
    response = client.post("/api/trials/upload", files={"file": ("arms.toml", ARMS_TRIAL)},
                           data={"n_patients": "4"})
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["job_id"])
    assert job["status"] == "done" and job["total"] == 4, job
    run = client.get(f"/api/runs/{job['run_id']}").json()
    assert run["run"]["kind"] == "analysis"
    (analysis,) = run["analyses"]
    assert analysis["kind"] == "comparison"
    assert [a["name"] for a in analysis["params"]["arms"]] == ["high", "low"]
    arms = analysis["tables"]["arms"]
    assert {"measure", "high", "low"} <= set(arms[0])
    measures = {row["measure"] for row in analysis["tables"]["comparisons"]}
    assert measures == {"ORR difference", "OS hazard ratio", "PFS hazard ratio"}
    for url in analysis["figures"]:
        figure = client.get(url)
        assert figure.status_code == 200 and figure.content[:4] == b"\x89PNG"
    listed = {r["run_id"] for r in client.get("/api/runs").json()}
    assert {a["run_id"] for a in analysis["params"]["arms"]} <= listed


def test_bad_multi_arm_uploads_are_refused_and_nothing_is_stored(client: TestClient) -> None:
    for content, needle in (
        (ARMS_TRIAL.replace('name = "low"', 'name = "high"'),
         "bad.toml: arms[1].name: duplicate arm name 'high'"),
        (ARMS_TRIAL.replace('[arms.protocol]\nkind = "label"\ndose = "72000 IU/kg"\n'
                            'max_courses = 1\n', ''),
         "bad.toml: arms[1].protocol: required key is missing"),
    ):
        response = client.post("/api/trials/upload", files={"file": ("bad.toml", content)})
        assert response.status_code == 422, response.text
        assert needle in response.json()["detail"]
    assert client.get("/api/runs").json() == []
