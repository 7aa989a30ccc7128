"""What a new user tripped on in the web app (issue 19), checked over the API: run names
that follow the patient count, scenario downloads, quantities in the parameter box, the
dose log in days and clock times with the prescribed dose, panels with their own axes,
equations with explicit products, interactive result figures, the trials list shared by
every browser, and a store the command line can read while the server runs."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from web_fixtures import SMALL_TRIAL, wait_for

from il2sim.model.library import get_model
from il2sim.store import ResultStore
from il2sim.trial.statistics import DAYS_PER_MONTH
from il2sim.web import create_app

COMBINATION = """
[[regimen]]
preset = "subcutaneous"
dose = "9 MIU"
weeks = 1

[[regimen]]
kind = "depot"
route = "ifn_sc"
amount = "6 MIU"
schedule = { weekdays = [1, 3, 5], weeks = 1 }
"""


@pytest.fixture()
def counted(tmp_path: Path) -> tuple[Path, Path]:
    """An example folder whose trial is named with its count, and the store's path."""
    folder = tmp_path / "counted"
    folder.mkdir()
    (folder / "small.toml").write_text(
        SMALL_TRIAL.replace("Small RCC trial", "Small RCC trial (n = 6)"))
    return folder, tmp_path / "counted.duckdb"


@pytest.fixture()
def finished(counted: tuple[Path, Path]) -> tuple[TestClient, str, Path]:
    """A server over a store with one finished 4-patient run of the "n = 6" trial."""
    folder, db = counted
    with TestClient(create_app(db, examples=folder, max_patients=50)) as client:
        job = client.post("/api/trials", json={"example": "small", "n_patients": 4}).json()
        status = wait_for(client, job["job_id"])
        assert status["status"] == "done", status
        yield client, str(status["run_id"]), db


# ------------------------------------------------------------------ run names, trials list

def test_a_run_is_named_after_the_patients_it_has(finished: tuple[TestClient, str, Path]
                                                  ) -> None:
    client, run_id, _ = finished
    runs = client.get("/api/runs").json()
    assert [r["name"] for r in runs] == ["Small RCC trial (n = 4)"]
    assert runs[0]["n_patients"] == 4
    assert client.get(f"/api/runs/{run_id}").json()["run"]["name"] == "Small RCC trial (n = 4)"
    report = client.get(f"/api/runs/{run_id}/report.html").text
    assert "Small RCC trial (n = 4)" in report and "n = 6" not in report


def test_every_client_sees_every_trial_started(finished: tuple[TestClient, str, Path]) -> None:
    """The list of trials is the server's, not a browser tab's: newest first."""
    client, run_id, _ = finished
    second = client.post("/api/trials", json={"example": "small", "n_patients": 3}).json()
    wait_for(client, second["job_id"])
    listed = client.get("/api/trials").json()
    assert [j["job_id"] for j in listed][0] == second["job_id"]
    assert [j["run_id"] for j in listed][1] == run_id
    assert [j["name"] for j in listed] == ["Small RCC trial (n = 3)", "Small RCC trial (n = 4)"]


# ------------------------------------------------------------------------- scenario

def test_parameter_overrides_accept_quantities_as_the_cli_set_does(client: TestClient) -> None:
    """'k10 = 3 1/h' is k10 = 0.05 1/min in aldesleukin_pk (minutes): same trajectory."""
    assert get_model("aldesleukin_pk").param("k10").unit == "1/min"
    base = {"model": "aldesleukin_pk", "weight": "70 kg", "end": "12 h", "points": 50,
            "regimen": {"preset": "label_high_dose"}}
    quantity = client.post("/api/scenarios", json={**base, "assignments": ["k10 = 3 1/h"]})
    number = client.post("/api/scenarios", json={**base, "params": {"k10": 0.05}})
    default = client.post("/api/scenarios", json=base)
    assert quantity.status_code == number.status_code == 200, quantity.text

    def plasma(response: object) -> np.ndarray:
        panel = response.json()["panels"][0]  # type: ignore[attr-defined]
        return np.array(panel["series"][0]["values"], dtype=float)
    np.testing.assert_allclose(plasma(quantity), plasma(number), rtol=1e-9)
    assert not np.allclose(plasma(quantity), plasma(default))
    bad = client.post("/api/scenarios", json={**base, "assignments": ["k10 3 1/h"]})
    assert bad.status_code == 422 and "assignments[0]" in bad.json()["detail"]
    wrong = client.post("/api/scenarios", json={**base, "assignments": ["k10 = 3 kg"]})
    assert wrong.status_code == 422 and "k10" in wrong.json()["detail"]


def test_dose_log_in_days_clock_times_and_the_prescribed_dose(client: TestClient) -> None:
    body = client.post("/api/scenarios", json={
        "model": "il2_qsp", "regimen": {"label_course": {"dose": "600000 IU/kg"}},
        "weight": "70 kg", "end": "3 day", "points": 40, "backend": "native"}).json()
    first = body["doses"][:4]  # every 8 h from time 0 (day 1, 00:00)
    assert [(d["day"], d["clock"]) for d in first] == [(1, "00:00"), (1, "08:00"),
                                                        (1, "16:00"), (2, "00:00")]
    assert all(d["dose"] == "600,000 IU/kg" for d in body["doses"])
    assert first[0]["given"] == "42 MIU" and first[0]["amount"] == 600000 * 70
    combo = client.post("/api/scenarios", json={
        "model": "il2_qsp", "regimen": {"toml": COMBINATION}, "weight": "70 kg",
        "end": "7 day", "points": 40, "backend": "native"}).json()
    ifn = [d for d in combo["doses"] if d["route"] == "ifn_sc"]
    assert ifn and all(d["dose"] == "6 MIU" and d["label"] == "subcutaneous interferon-alpha"
                       for d in ifn)
    assert [(d["day"], d["clock"]) for d in ifn] == [(1, "00:00"), (3, "00:00"), (5, "00:00")]
    assert "-:" not in combo["description"]
    assert "subcutaneous interferon-alpha: depot 6 MIU" in combo["description"]


def test_panels_separate_plasma_and_site_il2_and_give_interferon_its_own_axis(
        client: TestClient) -> None:
    body = client.post("/api/scenarios", json={
        "model": "il2_qsp", "regimen": {"toml": COMBINATION}, "weight": "70 kg",
        "end": "7 day", "points": 40, "backend": "native"}).json()
    exposure = body["panels"][0]
    axes = {s["name"]: s["axis"] for s in exposure["series"]}
    assert axes == {"il2_tumour_site": "left", "il2_plasma": "left", "ifn_plasma": "right"}
    assert [s["name"] for s in exposure["series"]][:2] == ["il2_tumour_site", "il2_plasma"]
    assert exposure["subtitle"] == "interferon-alpha level (IU/mL) on the right axis"
    untreated = client.post("/api/scenarios", json={
        "model": "il2_qsp", "weight": "70 kg", "end": "2 day", "points": 20,
        "backend": "native"}).json()["panels"][0]  # no interferon: no right axis
    assert [s["name"] for s in untreated["series"]] == ["il2_tumour_site", "il2_plasma"]
    assert untreated["subtitle"] == ""
    tumour = next(p for p in body["panels"] if p["series"][0]["name"] == "tumour_diameter")
    assert "sphere" in tumour["title"] and "sum of diameters" not in tumour["title"]
    assert tumour["from_zero"] is True


def test_scenario_downloads_as_csv_and_parquet(client: TestClient) -> None:
    request = {"model": "aldesleukin_pk", "weight": "70 kg", "end": "12 h", "points": 25,
               "regimen": {"preset": "label_high_dose"}}
    shown = client.post("/api/scenarios", json=request).json()
    csv = client.post("/api/scenarios/trajectories.csv", json=request)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert 'filename="aldesleukin_pk-trajectories.csv"' in csv.headers["content-disposition"]
    frame = pd.read_csv(io.StringIO(csv.text))
    plasma = next(s for p in shown["panels"] for s in p["series"] if s["name"] == "C_plasma")
    column = next(c for c in frame.columns if c.split(" ")[0] == "C_plasma")
    np.testing.assert_allclose(frame[column], plasma["values"], rtol=1e-12)
    doses = client.post("/api/scenarios/doses.parquet", json=request)
    assert doses.status_code == 200
    log = pd.read_parquet(io.BytesIO(doses.content))
    assert {"day", "clock", "dose", "given", "status", "time (min)"} <= set(log.columns)
    assert log["time (min)"].tolist() == [0.0, 480.0]  # every 8 h, in 12 h
    assert log["clock"].tolist() == [d["clock"] for d in shown["doses"]]
    assert client.post("/api/scenarios/spreadsheet.csv", json=request).status_code == 404
    assert client.post("/api/scenarios/doses.xlsx", json=request).status_code == 404
    bad = client.post("/api/scenarios/doses.csv", json={**request, "weight": "70 parsec"})
    assert bad.status_code == 422 and "weight" in bad.json()["detail"]


# ------------------------------------------------------------------------ equations

def test_equations_write_products_and_multi_letter_names_plainly(client: TestClient) -> None:
    model = get_model("il2_qsp")
    mathml = client.get("/api/models/il2_qsp").json()["mathml"]
    assert not any("InvisibleTimes" in m for m in mathml)  # every product shows a dot
    kill = mathml[[i.name for i in model.intermediates].index("kill_mem")]
    names = re.findall(r'<mi mathvariant="normal">([^<]+)</mi>', kill)
    assert {"ant", "access"} <= set(names)  # kill_mem = k_M*M*ant*access
    assert re.search(r'<mi mathvariant="normal">(ant|access)</mi><mo>&#xB7;</mo>'
                     r'<mi mathvariant="normal">(ant|access)</mi>', kill)
    # a name with a long stem is one identifier, spelled as in the parameter table
    every = "".join(mathml)
    assert '<mi mathvariant="normal">occ_int_site</mi>' in every
    assert "<mi>occ</mi>" not in every


# ------------------------------------------------------------------------- results

def _km(endpoints: pd.DataFrame, time: str, event: str) -> tuple[np.ndarray, np.ndarray]:
    """The product-limit estimate by hand: S(t) = prod over event times <= t of (1 - d/n)."""
    t = endpoints[time].to_numpy(dtype=float) / DAYS_PER_MONTH
    e = endpoints[event].astype(bool).to_numpy()
    times = np.unique(t[e])
    s = np.cumprod([1 - np.sum((t == u) & e) / np.sum(t >= u) for u in times])
    return times, s


def test_result_figures_are_interactive_with_numbers_at_risk(
        finished: tuple[TestClient, str, Path]) -> None:
    client, run_id, db = finished
    figures = client.get(f"/api/runs/{run_id}/plots").json()
    assert set(figures) == {"kaplan_meier", "waterfall", "swimmer", "spider", "dose_delivery",
                            "toxicity"}
    with ResultStore(db, read_only=True) as store:
        endpoints = store.table(run_id, "endpoints")
    km = figures["kaplan_meier"]
    curve = next(tr for tr in km["data"] if tr.get("name", "").startswith("all patients")
                 and tr.get("xaxis", "x") == "x")
    times, survival = _km(endpoints, "os_d", "os_event")
    x, y = np.array(curve["x"], dtype=float), np.array(curve["y"], dtype=float)
    for u, s in zip(times, survival, strict=True):
        assert y[np.searchsorted(x, u, side="right") - 1] == pytest.approx(s)
    at_risk = [tr for tr in km["data"] if tr.get("mode") == "text"]
    assert len(at_risk) == 2  # OS and PFS, one group each
    os_months = endpoints["os_d"].to_numpy(dtype=float) / DAYS_PER_MONTH
    os_row = at_risk[0]
    assert [int(v) for v in os_row["text"]] == [int(np.sum(os_months >= tick))
                                                for tick in os_row["x"]]
    assert int(os_row["text"][0]) == len(endpoints) == 4
    assert os_row["textfont"]["size"] >= 12  # readable, not 8-point text in a thumbnail
    bars = figures["waterfall"]["data"]
    assert sum(len(b["x"]) for b in bars) == int(np.isfinite(endpoints["best_change_pct"]).sum())


def test_compare_draws_survival_by_run(finished: tuple[TestClient, str, Path]) -> None:
    client, first, _ = finished
    job = client.post("/api/trials", json={"example": "small", "n_patients": 3}).json()
    second = wait_for(client, job["job_id"])["run_id"]
    km = client.get(f"/api/compare/kaplan_meier?run={first}&run={second}").json()
    names = {tr["name"] for tr in km["data"] if tr.get("showlegend") is not False
             and tr.get("mode") != "text" and "name" in tr}
    assert any("(n = 4)" in n and first in n for n in names)
    assert any("(n = 3)" in n and second in n for n in names)
    assert client.get(f"/api/compare/kaplan_meier?run={first}").status_code == 422


# ----------------------------------------------------------------------- the store

def test_the_cli_reads_the_store_while_the_server_runs(finished: tuple[TestClient, str, Path]
                                                       ) -> None:
    """DuckDB allows one writing process per file, or several read-only ones: the server
    opens the file only while it reads or writes, so `il2sim results` gets in."""
    client, run_id, db = finished
    assert client.get("/api/runs").status_code == 200  # the server is up, store in use
    cli = [sys.executable, "-m", "il2sim.cli", "results", "--db", str(db)]
    listed = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout
    one = subprocess.run([*cli, run_id], capture_output=True, text=True, timeout=120)
    assert one.returncode == 0, one.stderr
    assert "ORR" in one.stdout
    # and the server still answers afterwards
    assert client.get(f"/api/runs/{run_id}").status_code == 200


def test_unfinished_runs_are_listed_with_the_patients_stored(client: TestClient) -> None:
    """A cancelled job's run stays in the store, listed as unfinished (resumable)."""
    job = client.post("/api/trials", json={"example": "small", "n_patients": 30}).json()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = client.get(f"/api/trials/{job['job_id']}").json()
        if status["done"] > 0 or status["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    client.delete(f"/api/trials/{job['job_id']}")
    final = wait_for(client, job["job_id"])
    assert final["status"] == "cancelled"
    assert client.get("/api/runs").json() == []
    unfinished = client.get("/api/runs", params={"unfinished": True}).json()
    assert [r["run_id"] for r in unfinished] == [final["run_id"]]
    row = unfinished[0]
    assert row["status"] == "cancelled" and row["n_patients"] == 30
    assert 0 < row["patients_done"] < 30 and row["patients_done"] % 3 == 0  # whole chunks


def test_a_store_another_process_writes_is_a_503_not_a_crash(
        finished: tuple[TestClient, str, Path]) -> None:
    """While another process holds the store for writing (il2sim trial --db), the server
    says so in one sentence, and answers again once that process is done."""
    client, run_id, db = finished
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from il2sim.store import ResultStore; "
         f"s = ResultStore({str(db)!r}); print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        busy = client.get("/api/runs")
        assert busy.status_code == 503
        assert "another process has it open" in busy.json()["detail"]
    finally:
        holder.communicate("", timeout=60)
    assert [r["run_id"] for r in client.get("/api/runs").json()] == [run_id]
