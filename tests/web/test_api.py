"""The web API: every endpoint with good input and with bad input.

Good answers are checked against exact solutions or the library and store they wrap;
bad input must give a 4xx with a readable ``detail`` naming the problem, never a 500,
and never change the store.
"""

from __future__ import annotations

import io
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from scipy import stats
from web_fixtures import SMALL_TRIAL, save_synthetic_validation, wait_for

from il2sim.model.library import get_model, list_models
from il2sim.store import ResultStore
from il2sim.trial.hiv import plot_cd4, visit_means
from il2sim.web import create_app
from il2sim.web.app import SWAGGER_UI_URL


def _detail(response: object, status: int) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    return detail


# ------------------------------------------------------------------------ models

def test_models_list_every_library_model_with_citation(client: TestClient) -> None:
    models = client.get("/api/models").json()
    assert [m["name"] for m in models] == [m.name for m in list_models()]
    assert all(m["citation"] for m in models)


def test_model_detail_has_equations_and_sourced_parameters(client: TestClient) -> None:
    body = client.get("/api/models/kp1998").json()
    model = get_model("kp1998")
    assert body["equations"] == [f"d{s}/dt = {rhs}" for s, rhs in model.equations.items()]
    params = {p["name"]: p for p in body["params"]}
    for p in model.params:
        assert params[p.name]["value"] == p.value
        assert params[p.name]["unit"] == p.unit and params[p.name]["source"] == p.source


def test_model_equations_as_mathml(client: TestClient) -> None:
    """Every intermediate and equation is printed as MathML (none falls back to text)."""
    for name in ("kp1998", "il2_qsp"):
        model = get_model(name)
        mathml = client.get(f"/api/models/{name}").json()["mathml"]
        assert len(mathml) == len(model.intermediates) + len(model.states)
        assert all(m.startswith('<math display="block">') and "<mtext>" not in m
                   for m in mathml)
    kp = client.get("/api/models/kp1998").json()["mathml"]
    assert "<mi>&#956;</mi><mi>2</mi>" in kp[0]  # mu2 printed as a subscripted Greek mu


def test_unknown_model_is_404_naming_the_known_ones(client: TestClient) -> None:
    assert "known: aldesleukin_pk" in _detail(client.get("/api/models/nope"), 404)


def test_presets_have_arguments_with_defaults(client: TestClient) -> None:
    presets = {p["name"]: p for p in client.get("/api/presets").json()}
    assert presets["label_high_dose"]["arguments"] == {"dose": "600000 IU/kg",
                                                       "infusion": "15 min"}


# ---------------------------------------------------------------------- scenario

def test_scenario_bolus_matches_the_biexponential_solution(client: TestClient) -> None:
    """A 1 MIU IV bolus in the two-compartment model: C(t) = D/V1 (A e^-at + B e^-bt)."""
    toml = '[regimen]\nkind = "bolus"\nroute = "iv"\namount = "1 MIU"\n'
    response = client.post("/api/scenarios", json={
        "model": "aldesleukin_pk", "regimen": {"toml": toml}, "end": "600 min",
        "points": 61, "params": {"k10": 0.05}})
    assert response.status_code == 200, response.text
    body = response.json()
    k10, k12, k21, v1 = 0.05, 0.00708, 0.00972, 2.66
    s, p = k10 + k12 + k21, k10 * k21
    alpha, beta = (s + math.sqrt(s * s - 4 * p)) / 2, (s - math.sqrt(s * s - 4 * p)) / 2
    t_h = np.array(body["times"])
    assert body["time_unit"] == "h"
    t = t_h * 60
    exact = 1e6 / (1000 * v1) * ((alpha - k21) * np.exp(-alpha * t)
                                 + (k21 - beta) * np.exp(-beta * t)) / (alpha - beta)
    plasma = next(s for panel in body["panels"] for s in panel["series"]
                  if s["name"] == "C_plasma")
    np.testing.assert_allclose(plasma["values"], exact, rtol=1e-5)
    assert [d["status"] for d in body["doses"]] == ["given"]


def test_label_course_with_hold_rules_logs_every_decision(client: TestClient) -> None:
    response = client.post("/api/scenarios", json={
        "model": "il2_qsp", "regimen": {"label_course": {"dose": "600000 IU/kg"}},
        "weight": "70 kg", "height": "175 cm", "end": "21 day", "points": 253})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["time_unit"] == "day"
    assert len(body["doses"]) == 28  # 14 doses per cycle, two cycles (Proleukin label)
    held = [d for d in body["doses"] if d["status"] == "held"]
    given = [d for d in body["doses"] if d["status"] == "given"]
    assert given and all(d["reason"] == "" for d in given)
    known = ("SBP < 90", "SpO2", "confusion", "heart rate", "weight gain",
             "urine", "creatinine", "stop", "hold", "not retreated")
    assert all(d["reason"] and any(k in d["reason"] for k in known) for d in held)
    titles = [p["title"] for p in body["panels"]]
    assert titles[0].startswith("IL-2") and any("Blood pressure" in t for t in titles)
    sbp = next(s for p in body["panels"] for s in p["series"] if s["name"] == "sbp")
    assert min(v for v in sbp["values"] if v is not None) < 110  # the leak lowers pressure


COMBINATION = """
[[regimen]]
preset = "subcutaneous"
dose = "9 MIU"
weeks = 4

[[regimen]]
kind = "depot"
route = "ifn_sc"
amount = "6 MIU"
schedule = { weekdays = [1, 3, 5], weeks = 4 }
"""


def test_combination_of_il2_and_interferon_from_toml(client: TestClient) -> None:
    response = client.post("/api/scenarios", json={
        "model": "il2_qsp", "regimen": {"toml": COMBINATION}, "weight": "70 kg",
        "end": "35 day", "points": 351})
    assert response.status_code == 200, response.text
    doses = response.json()["doses"]
    routes = [d["route"] for d in doses]
    assert routes.count("sc") == 20 and routes.count("ifn_sc") == 12  # 5 and 3 a week, 4 weeks
    assert all(d["status"] == "given" for d in doses)
    ifn = next(s for p in response.json()["panels"] for s in p["series"]
               if s["name"] == "ifn_plasma")
    assert ifn["values"][0] == 0 and max(ifn["values"]) > 0


# A dose in kg, a 5000 kg patient, 1e8 output times: each refused before anything runs.
ISSUE_14_SCENARIOS: list[tuple[dict[str, object], str]] = [
    ({"model": "aldesleukin_pk", "weight": "70 kg", "regimen": {
        "preset": "label_high_dose", "arguments": {"dose": "600000 kg"}}},
     "regimen.dose: infusion amount: '600000 kg' is not a dose: kg is a unit of body weight"),
    ({"model": "il2_qsp", "weight": "70 kg", "regimen": {"label_course": {"dose": "600000 kg"}}},
     "regimen.label_course.dose: infusion amount: '600000 kg' is not a dose"),
    ({"model": "aldesleukin_pk", "regimen": {"toml": '[regimen]\nkind = "bolus"\n'
                                                     'amount = "600000 kg"'}},
     "regimen.amount: '600000 kg' is not a dose"),
    ({"model": "aldesleukin_pk", "weight": "5000 kg"},
     "weight: 5000 kg is outside the physiological range 2.1 to 635 kg"),
    ({"model": "aldesleukin_pk", "height": "10 cm"},
     "height: 10 cm is outside the physiological range 54.6 to 272 cm"),
    ({"model": "aldesleukin_pk", "points": 100_000_000}, "points"),
]


@pytest.mark.parametrize(("body", "needle"), ISSUE_14_SCENARIOS)
def test_issue_14_scenarios_are_one_sentence_422s(client: TestClient, body: dict[str, object],
                                                  needle: str) -> None:
    detail = _detail(client.post("/api/scenarios", json=body), 422)
    assert needle in detail and "\n" not in detail


def test_physiological_bounds_can_be_lifted_on_the_web(client: TestClient) -> None:
    body = {"model": "aldesleukin_pk", "weight": "5000 kg", "physiological_bounds": False,
            "end": "1 h", "points": 3,
            "regimen": {"toml": '[regimen]\nkind = "bolus"\namount = "1 IU/kg"'}}
    response = client.post("/api/scenarios", json=body)
    assert response.status_code == 200, response.text
    assert [d["amount"] for d in response.json()["doses"]] == [5000.0]


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"model": "nope"}, 422, "unknown model 'nope'"),
    ({"model": "il2_qsp", "points": 1}, 422, "points"),
    ({"model": "il2_qsp", "points": "many"}, 422, "points"),
    ({"model": "il2_qsp", "end": "-3 day"}, 422, "end"),
    ({"model": "il2_qsp", "end": "3 parsec"}, 422, "end"),
    ({"model": "kp1998", "end": "30 year"}, 422, "at most 20 years"),
    ({"model": "il2_qsp", "weight": "70 parsec",
      "regimen": {"preset": "label_high_dose"}}, 422, "weight"),
    ({"model": "il2_qsp", "params": {"zzz": 1}}, 422, "no parameter 'zzz'"),
    ({"model": "il2_qsp", "params": {"k_nec": "x"}}, 422, "params.k_nec"),
    ({"model": "il2_qsp", "weight": "70 kg",
      "regimen": {"preset": "label_high_dose", "arguments": {"dose": "-5 IU/kg"}}},
     422, "must be positive"),
    ({"model": "il2_qsp", "regimen": {"preset": "no_such"}}, 422, "no_such"),
    ({"model": "il2_qsp", "regimen": {"arguments": {"dose": "1 MIU"}}}, 422, "need a preset"),
    ({"model": "il2_qsp", "regimen": {"preset": "label_high_dose", "toml": "x"}}, 422,
     "not preset and toml"),
    ({"model": "il2_qsp", "regimen": {"toml": "[regimen\n"}}, 422, "not valid TOML"),
    ({"model": "il2_qsp", "regimen": {"toml": "a = 1"}}, 422, "no [regimen]"),
    ({"model": "il2_qsp", "regimen": {"toml": '[regimen]\nkind = "bolus"\nroute = "nose"\n'
                                              'amount = "1 MIU"'}}, 422, "nose"),
    ({"model": "kp1998", "regimen": {"label_course": {}}}, 422, "hold rules read"),
    ({"model": "il2_qsp", "regimen": {"label_course": {}}}, 422, "give a weight"),
    ({"model": "il2_qsp", "regimen": {"label_course": {"courses": 9}}}, 422, "courses"),
    ({"model": "il2_qsp", "typo": 1}, 422, "typo"),
    ({}, 422, "model"),
    *[(body, 422, needle) for body, needle in ISSUE_14_SCENARIOS],
])
def test_bad_scenarios_are_422_naming_the_problem(client: TestClient, body: dict[str, object],
                                                   status: int, needle: str) -> None:
    assert needle in _detail(client.post("/api/scenarios", json=body), status)


@pytest.mark.parametrize(("path", "body", "status", "needle"), [
    ("/api/scenarios/pie.csv", {"model": "aldesleukin_pk"}, 404, "no scenario table 'pie'"),
    ("/api/scenarios/doses.xlsx", {"model": "aldesleukin_pk"}, 404, "no format 'xlsx'"),
    ("/api/scenarios/doses.csv", {"model": "nope"}, 422, "unknown model 'nope'"),
    ("/api/scenarios/trajectories.parquet", {"model": "aldesleukin_pk", "weight": "70 parsec"},
     422, "weight"),
    ("/api/scenarios/doses.csv", {"model": "aldesleukin_pk", "assignments": ["k10"]}, 422,
     "assignments[0]: expected name=value"),
])
def test_bad_scenario_downloads(client: TestClient, path: str, body: dict[str, object],
                                status: int, needle: str) -> None:
    assert needle in _detail(client.post(path, json=body), status)


def test_scenario_body_that_is_not_json_is_400(client: TestClient) -> None:
    response = client.post("/api/scenarios", content=b"\xff\x00 not json",
                           headers={"content-type": "application/json"})
    assert "parsing the body" in _detail(response, 400)


# ------------------------------------------------------------------------ trials

def test_example_trial_runs_in_the_background_and_is_stored(client: TestClient,
                                                            tmp_path: Path) -> None:
    assert client.get("/api/examples").json() == [
        {"name": "small", "title": "Small RCC trial", "n_patients": 6}]
    started = client.post("/api/trials", json={"example": "small"})
    assert started.status_code == 202
    job = wait_for(client, started.json()["job_id"])
    assert job["status"] == "done" and job["done"] == job["total"] == 6
    run_id = job["run_id"]
    assert [r["run_id"] for r in client.get("/api/runs").json()] == [run_id]
    summary = client.get(f"/api/runs/{run_id}").json()
    assert summary["summary"][0] == {"measure": "patients", "value": "6"}
    # the downloads are the stored tables: a tumour trial's scans, no visits; the tables'
    # old name is its scans
    assert summary["tables"] == ["patients", "doses", "scans", "endpoints"]
    scans_csv = client.get(f"/api/runs/{run_id}/tables/scans.csv")
    assert scans_csv.status_code == 200 and "sod_mm" in scans_csv.text.splitlines()[0]
    assert client.get(f"/api/runs/{run_id}/tables/observations.csv").text == scans_csv.text
    csv = client.get(f"/api/runs/{run_id}/tables/endpoints.csv")
    parquet = client.get(f"/api/runs/{run_id}/tables/doses.parquet")
    assert csv.status_code == parquet.status_code == 200
    assert "attachment" in csv.headers["content-disposition"]
    from_csv = pd.read_csv(io.StringIO(csv.text))
    from_parquet = pd.read_parquet(io.BytesIO(parquet.content))
    client.__exit__(None, None, None)  # release the store to read it directly
    with ResultStore(tmp_path / "web.duckdb", read_only=True) as store:
        assert from_csv["patient"].tolist() == store.table(run_id, "endpoints")["patient"].tolist()
        pd.testing.assert_frame_equal(from_parquet, store.table(run_id, "doses"),
                                      check_dtype=False)


def test_upload_runs_the_file_with_a_patient_override(client: TestClient) -> None:
    response = client.post("/api/trials/upload", files={"file": ("mine.toml", SMALL_TRIAL)},
                           data={"n_patients": "3"})
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["job_id"])
    assert job["status"] == "done" and job["total"] == 3


@pytest.mark.parametrize(("content", "status", "needle"), [
    (b"name = [", 422, "not valid TOML"),
    (b"\xff\xfe\x00binary", 422, "not a UTF-8"),
    (SMALL_TRIAL.replace("n_patients = 6", "n_patients = -1").encode(), 422, "n_patients"),
    (SMALL_TRIAL.replace('kind = "label"', 'kind = "magic"').encode(), 422, "kind"),
    (SMALL_TRIAL.replace('indication = "rcc"', 'indication = "flu"').encode(), 422, "flu"),
    (SMALL_TRIAL.replace("n_patients = 6", "n_patients = 100000").encode(), 422,
     "more than this server accepts"),
    (SMALL_TRIAL.encode() + b"\nunknown_key = 1\n", 422, "unknown_key"),
    (SMALL_TRIAL.replace('dose = "600000 IU/kg"', 'dose = "600000 kg"').encode(), 422,
     "bad.toml: protocol.dose: '600000 kg' is not a dose: kg is a unit of body weight"),
    (b"#" * (256 * 1024 + 1), 413, "larger than"),
])
def test_bad_uploads_are_refused_and_nothing_is_stored(client: TestClient, content: bytes,
                                                       status: int, needle: str) -> None:
    response = client.post("/api/trials/upload", files={"file": ("bad.toml", content)})
    assert needle in _detail(response, status)
    assert client.get("/api/runs").json() == []


@pytest.mark.parametrize(("kwargs", "status", "needle"), [
    ({"files": {}}, 422, "file"),
    ({"files": {"file": ("t.toml", SMALL_TRIAL)}, "data": {"n_patients": "many"}}, 422,
     "n_patients"),
    ({"files": {"file": ("t.toml", SMALL_TRIAL)}, "data": {"n_patients": "0"}}, 422,
     "n_patients"),
])
def test_bad_upload_forms_are_422(client: TestClient, kwargs: dict[str, object], status: int,
                                  needle: str) -> None:
    response = client.post("/api/trials/upload", **kwargs)
    assert needle in _detail(response, status)


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"example": "nope"}, 404, "known: small"),
    ({"example": "../examples/small"}, 404, "no example"),
    ({"example": "small", "n_patients": 0}, 422, "n_patients"),
    ({"example": "small", "n_patients": 51}, 422, "more than this server accepts"),
    ({"example": "small", "extra": True}, 422, "extra"),
    ({}, 422, "example"),
])
def test_bad_trial_requests(client: TestClient, body: dict[str, object], status: int,
                            needle: str) -> None:
    assert needle in _detail(client.post("/api/trials", json=body), status)


def test_unknown_jobs_are_404(client: TestClient) -> None:
    _detail(client.get("/api/trials/not-a-job"), 404)
    _detail(client.delete("/api/trials/not-a-job"), 404)


def test_unfinished_and_cancelled_runs_stay_private(client: TestClient) -> None:
    """A run is listed once finished; a cancelled job's partial run is never shown, and a
    queued job cancelled before it starts never touches the store."""
    first = client.post("/api/trials", json={"example": "small", "n_patients": 30}).json()
    second = client.post("/api/trials", json={"example": "small", "n_patients": 4}).json()
    assert client.delete(f"/api/trials/{second['job_id']}").json()["status"] == "cancelled"
    seen_running = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get(f"/api/trials/{first['job_id']}").json()
        if status["status"] == "running" and 0 < status["done"] < status["total"]:
            seen_running = True
            assert client.get("/api/runs").json() == []  # unfinished: not listed
            run_id = status["run_id"]
            _detail(client.get(f"/api/runs/{run_id}"), 404)
            client.delete(f"/api/trials/{first['job_id']}")
            break
        time.sleep(0.05)
    assert seen_running
    assert wait_for(client, first["job_id"])["status"] == "cancelled"
    assert wait_for(client, second["job_id"])["status"] == "cancelled"
    assert client.get("/api/runs").json() == []


def test_a_cancelled_trial_resumes_from_its_stored_chunks(client: TestClient) -> None:
    """Starting the same trial again continues the stored run: no patient is lost or
    simulated twice (each chunk is one transaction in the store)."""
    request = {"example": "small", "n_patients": 24}
    first = client.post("/api/trials", json=request).json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get(f"/api/trials/{first['job_id']}").json()
        if status["done"] >= 6:
            client.delete(f"/api/trials/{first['job_id']}")
            break
        time.sleep(0.05)
    stopped = wait_for(client, first["job_id"])
    assert stopped["status"] == "cancelled" and 0 < stopped["done"] < 24
    again = client.post("/api/trials", json=request).json()
    finished = wait_for(client, again["job_id"])
    assert finished["status"] == "done" and finished["run_id"] == stopped["run_id"]
    patients = pd.read_csv(io.StringIO(client.get(
        f"/api/runs/{finished['run_id']}/tables/patients.csv").text))
    assert sorted(patients["patient"]) == list(range(24))


# -------------------------------------------------------------------------- runs

@pytest.fixture()
def finished(client: TestClient) -> str:
    job = wait_for(client, client.post("/api/trials", json={"example": "small"}).json()["job_id"])
    assert job["status"] == "done"
    return str(job["run_id"])


def test_figures_are_png(client: TestClient, finished: str) -> None:
    names = client.get(f"/api/runs/{finished}").json()["figures"]
    assert {"kaplan_meier", "waterfall", "swimmer", "toxicity"} <= set(names)
    for name in names:
        response = client.get(f"/api/runs/{finished}/figures/{name}.png")
        assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_is_the_self_contained_html_report(client: TestClient, finished: str) -> None:
    response = client.get(f"/api/runs/{finished}/report.html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert '<section id="efficacy"' in response.text and "<script" not in response.text


def test_compare_puts_runs_side_by_side(client: TestClient, finished: str) -> None:
    other = wait_for(client, client.post("/api/trials", json={"example": "small",
                                                              "n_patients": 3}).json()["job_id"])
    ids = [finished, str(other["run_id"])]
    rows = client.get("/api/compare", params={"run": ids}).json()
    assert rows[0]["measure"] == "patients"
    assert sorted(rows[0]["values"].values()) == ["3", "6"]
    png = client.get("/api/compare/kaplan_meier.png", params={"run": ids})
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"


@pytest.mark.parametrize(("path", "status", "needle"), [
    ("/api/runs/nope", 404, "no finished run"),
    ("/api/runs/nope/figures/waterfall.png", 404, "no finished run"),
    ("/api/runs/{run}/figures/pie.png", 404, "no figure 'pie'"),
    ("/api/runs/nope/tables/endpoints.csv", 404, "no finished run"),
    ("/api/runs/{run}/tables/secrets.csv", 404, "no table 'secrets'"),
    ("/api/runs/{run}/tables/endpoints.xlsx", 404, "no format 'xlsx'"),
    ("/api/runs/nope/report.html", 404, "no finished run"),
    ("/api/compare?run={run}", 422, "two or more"),
    ("/api/compare?run={run}&run={run}", 422, "two or more"),
    ("/api/compare?run={run}&run=nope", 404, "no finished run"),
    ("/api/compare", 422, "run"),
    ("/api/compare/kaplan_meier.png?run={run}", 422, "two or more"),
    ("/api/compare/kaplan_meier?run={run}", 422, "two or more"),
    ("/api/compare/kaplan_meier?run={run}&run=nope", 404, "no finished run"),
    ("/api/runs/nope/plots", 404, "no finished run"),
    ("/api/compare/kaplan_meier.png?run={run}&run=nope", 404, "no finished run"),
])
def test_bad_run_requests(client: TestClient, finished: str, path: str, status: int,
                          needle: str) -> None:
    assert needle in _detail(client.get(path.format(run=finished)), status)


@pytest.fixture()
def with_analyses(tmp_path: Path, examples: Path) -> Iterator[tuple[TestClient, str, str]]:
    """A store with a small trial carrying a stored analysis, and an analysis-only record."""
    import tomllib

    import matplotlib.figure

    from il2sim.config.trial import trial_from_dict
    from il2sim.trial.runner import run_trial

    fig = matplotlib.figure.Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [0, 1])
    png = io.BytesIO()
    fig.savefig(png, format="png")
    table = pd.DataFrame({"feature": ["sod_mm", "cd8"], "importance": [0.4, np.nan],
                          "upper": [np.inf, 1.0]})
    db = tmp_path / "web.duckdb"
    with ResultStore(db) as store:
        run_trial(trial_from_dict(tomllib.loads(SMALL_TRIAL)), store=store)
        trial = str(store.runs()["run_id"].iloc[0])
        store.save_analysis(trial, "biomarkers", "baseline", {"auc": 0.61, "folds": 5},
                            tables={"importance": table}, figures={"roc": png.getvalue()})
        record = store.create_analysis_run(kind="optimize", name="regimen search",
                                           model="il2_qsp", model_version="test", seed=1,
                                           n_patients=10, params={"candidates": 4})
        store.save_analysis(record, "optimize", "regimen search", {"candidates": 4},
                            tables={"front": pd.DataFrame({"orr": [0.1, 0.2]})})
    app = create_app(db, examples=examples, max_patients=50)
    with TestClient(app) as c:
        yield c, trial, record


def test_analyses_stored_with_a_run_are_shown(
        with_analyses: tuple[TestClient, str, str]) -> None:
    client, trial, record = with_analyses
    kinds = {r["run_id"]: r["kind"] for r in client.get("/api/runs").json()}
    assert kinds == {trial: "trial", record: "analysis"}
    body = client.get(f"/api/runs/{trial}").json()
    [analysis] = body["analyses"]
    assert analysis["kind"] == "biomarkers" and analysis["params"] == {"auc": 0.61, "folds": 5}
    assert analysis["tables"]["importance"] == [
        {"feature": "sod_mm", "importance": 0.4, "upper": "inf"},
        {"feature": "cd8", "importance": None, "upper": 1.0}]
    png = client.get(analysis["figures"][0])
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    only = client.get(f"/api/runs/{record}").json()
    assert only["summary"] == [] and only["figures"] == []
    assert only["analyses"][0]["tables"]["front"] == [{"orr": 0.1}, {"orr": 0.2}]
    assert client.get(f"/api/runs/{record}/report.html").status_code == 200


@pytest.mark.parametrize(("path", "needle"), [
    ("/api/runs/{trial}/analyses/biomarkers/baseline/figures/nope.png", "no figure 'nope'"),
    ("/api/runs/{trial}/analyses/biomarkers/other/figures/roc.png", "no analysis"),
    ("/api/runs/{trial}/analyses/magic/baseline/figures/roc.png", "magic"),
    ("/api/runs/nope/analyses/biomarkers/baseline/figures/roc.png", "no finished run"),
    ("/api/runs/{record}/figures/waterfall.png", "analysis record"),
    ("/api/runs/{record}/tables/endpoints.csv", "analysis record"),
    ("/api/compare?run={trial}&run={record}", "analysis record"),
])
def test_bad_analysis_requests(with_analyses: tuple[TestClient, str, str], path: str,
                               needle: str) -> None:
    client, trial, record = with_analyses
    assert needle in _detail(client.get(path.format(trial=trial, record=record)), 404)


# ----------------------------------------------------------------------- validation


@pytest.fixture()
def with_validation(tmp_path: Path, examples: Path) -> Iterator[tuple[TestClient, str]]:
    """A store holding a validation of C1 and C3 scored on synthetic arms (no simulation)."""
    db = tmp_path / "web.duckdb"
    run_id = save_synthetic_validation(db, ["c1", "c3"])
    with TestClient(create_app(db, examples=examples, max_patients=50)) as c:
        yield c, run_id


def test_a_check_trial_has_its_own_total_on_the_page(tmp_path: Path, examples: Path) -> None:
    """C1 and the check X4 (synthetic arms): the headline counts C1 only; the scorecard
    ends with the calibration set's total, then the checks' total."""
    db = tmp_path / "web.duckdb"
    run_id = save_synthetic_validation(db, ["c1", "x4"])
    with TestClient(create_app(db, examples=examples, max_patients=50)) as client:
        body = client.get(f"/api/validations/{run_id}").json()
    card = body["scorecard"]
    assert [r["trial"] for r in card[-2:]] == ["All trials", "Checks (not in the total)"]
    assert card[-2]["outcomes"] == body["info"]["outcomes"] == card[0]["outcomes"] == 10
    assert card[-1]["outcomes"] == card[1]["outcomes"] == 3


def test_validation_is_served(with_validation: tuple[TestClient, str]) -> None:
    client, run_id = with_validation
    [listed] = client.get("/api/validations").json()
    assert listed["run_id"] == run_id and listed["trials"] == ["c1_rcc_pivotal",
                                                                "c3_label_toxicity"]
    assert listed["outcomes"] == 22 and listed["replicates"] == 3
    body = client.get(f"/api/validations/{run_id}").json()
    assert body["scorecard"][-1]["trial"] == "All trials"
    assert body["scorecard"][-1]["compatible"] == listed["compatible"]
    verdicts = [e["verdict"] for e in body["endpoints"]]
    first_ok = verdicts.index("compatible") if "compatible" in verdicts else len(verdicts)
    assert all(v == "compatible" for v in verdicts[first_ok:])  # misses first
    assert {e["endpoint"] for e in body["endpoints"]} >= {
        "Objective response (CR + PR)", "Diarrhoea, any grade"}
    for url in body["figures"]:
        png = client.get(url)
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    page = client.get(f"/api/validations/{run_id}/report.html")
    assert page.status_code == 200 and "Scorecard" in page.text
    for internal in ("bor_who", "tox_", "dor_d", "os_event", "simulated_lo"):
        assert internal not in page.text


def test_no_validation_lists_nothing(client: TestClient) -> None:
    assert client.get("/api/validations").json() == []


@pytest.mark.parametrize("path", ["/api/validations/nope",
                                  "/api/validations/nope/report.html"])
def test_bad_validation_requests(client: TestClient, path: str) -> None:
    assert "no validation 'nope'" in _detail(client.get(path), 404)


# ----------------------------------------------------------------------- openapi

BAD_INPUT_TESTS = {
    "/api/models": "no input",
    "/api/models/{name}": "test_unknown_model_is_404_naming_the_known_ones",
    "/api/presets": "no input",
    "/api/scenarios": "test_bad_scenarios_are_422_naming_the_problem",
    "/api/scenarios/{name}.{fmt}": "test_bad_scenario_downloads",
    "/api/examples": "no input",
    "/api/trials": "test_bad_trial_requests",
    "/api/trials/upload": "test_bad_uploads_are_refused_and_nothing_is_stored",
    "/api/trials/{job_id}": "test_unknown_jobs_are_404",
    "/api/runs": "no input",
    "/api/runs/{run_id}": "test_bad_run_requests",
    "/api/runs/{run_id}/figures/{name}.png": "test_bad_run_requests",
    "/api/runs/{run_id}/plots": "test_bad_run_requests",
    "/api/runs/{run_id}/tables/{name}.{fmt}": "test_bad_run_requests",
    "/api/runs/{run_id}/report.html": "test_bad_run_requests",
    "/api/runs/{run_id}/analyses/{kind}/{name}/figures/{figure}.png":
        "test_bad_analysis_requests",
    "/api/compare": "test_bad_run_requests",
    "/api/compare/kaplan_meier.png": "test_bad_run_requests",
    "/api/compare/kaplan_meier": "test_bad_run_requests",
    "/api/validations": "no input",
    "/api/validations/{run_id}": "test_bad_validation_requests",
    "/api/validations/{run_id}/report.html": "test_bad_validation_requests",
}


def test_openapi_documents_every_endpoint_and_each_has_a_bad_input_test(
        client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "il2sim"
    assert set(schema["paths"]) == set(BAD_INPUT_TESTS)
    for path, test in BAD_INPUT_TESTS.items():
        assert test == "no input" or test in globals(), path
        for operation in schema["paths"][path].values():
            assert operation.get("summary") and operation.get("description"), path
    assert client.get("/docs").status_code == 200


def test_docs_page_is_served_without_any_external_url(client: TestClient) -> None:
    """/docs works offline: Swagger UI comes from this server, not from a CDN."""
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle(" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {a.rsplit("/", 1)[-1] for a in assets} == {
        "swagger-ui.css", "favicon-32x32.png", "swagger-ui-bundle.js"}
    for url in assets:
        assert url.startswith(SWAGGER_UI_URL + "/"), url
        asset = client.get(url)
        assert asset.status_code == 200 and asset.content, url
    bundle = client.get(f"{SWAGGER_UI_URL}/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
    assert b"SwaggerUIBundle" in bundle.content
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN


def test_page_and_assets_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000


def test_an_hiv_run_is_shown_with_its_cd4_figure(tmp_path: Path, examples: Path) -> None:
    """An HIV arm's page has its summary and the CD4 figure, no toxicity grades and no
    tumour figures (asking for one is a one-sentence 422, not a server error)."""
    import dataclasses

    from il2sim.config.trial import load_trial_file
    from il2sim.trial.runner import stream_trial

    trial = load_trial_file(Path(__file__).parents[2] / "examples/trials/esprit2009.toml")
    arm = dataclasses.replace(trial.resized(4).arms[0], horizon_days=120.0)
    db = tmp_path / "web.duckdb"
    with ResultStore(db) as store:
        run_id = stream_trial(arm, store)
    with TestClient(create_app(db, examples=examples, max_patients=50)) as client:
        body = client.get(f"/api/runs/{run_id}").json()
        assert body["figures"] == ["cd4"] and body["toxicity"] == []
        # an HIV run's visits, no scans; the tables' old name is its visits
        assert body["tables"] == ["patients", "doses", "visits", "endpoints"]
        old_name = client.get(f"/api/runs/{run_id}/tables/observations.csv")
        assert old_name.text == client.get(f"/api/runs/{run_id}/tables/visits.csv").text
        assert any("CD4" in row["measure"] for row in body["summary"])
        png = client.get(f"/api/runs/{run_id}/figures/cd4.png")
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
        # drawn interactively too: the mean and t interval of each visit, from the store
        plots = client.get(f"/api/runs/{run_id}/plots").json()
        assert list(plots) == ["cd4"]
        upper, lower, mean = plots["cd4"]["data"]
        assert mean["name"] == "all"  # one run: all its patients
        assert "cannot be drawn" in _detail(client.get(
            f"/api/runs/{run_id}/figures/waterfall.png"), 422)
        assert client.get(f"/api/runs/{run_id}/report.html").status_code == 200
    with ResultStore(db, read_only=True) as store:
        stored = store.table(run_id, "visits")
    visits = stored.groupby("day")["cd4"].agg(["mean", "std", "count"])
    n = visits["count"].to_numpy()
    assert len(visits) > 3 and (n >= 2).all()  # every patient of the arm at every visit
    half = stats.t.ppf(0.975, n - 1) * visits["std"].to_numpy() / np.sqrt(n)
    np.testing.assert_allclose(mean["x"], visits.index.to_numpy() / 365.25)
    np.testing.assert_allclose(mean["y"], visits["mean"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(upper["y"], visits["mean"].to_numpy() + half, rtol=1e-9)
    np.testing.assert_allclose(lower["y"], visits["mean"].to_numpy() - half, rtol=1e-9)
    # the very curve of the PNG (plot_cd4), same visits
    with ResultStore(db, read_only=True) as store:
        line = next(x for x in plot_cd4(visit_means(store, {"all": run_id})).axes[0].lines
                    if x.get_gid() == "cd4 all")
    np.testing.assert_allclose(line.get_ydata(), mean["y"], rtol=1e-12)
