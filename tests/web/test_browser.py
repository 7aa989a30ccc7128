"""End to end in a real headless Chromium (Debian's package, driven by Playwright).

A real server (uvicorn on loopback) over a fresh store; the browser browses the models,
runs a scenario, starts a small trial, watches it finish and opens its results, as a user
would. Screenshots go to ``test-artifacts/web/`` (or ``$IL2SIM_ARTIFACTS/web``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from web_fixtures import SMALL_TRIAL, save_synthetic_validation

from il2sim.model.library import get_model
from il2sim.web import create_app

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("IL2SIM_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "test-artifacts")) / "web"
# Flags for a sandboxed, offline machine: no background connections to Google services.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium installed")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free local port, in a thread; yields its URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=60)


@pytest.fixture()
def server(tmp_path: Path, examples: Path) -> Iterator[str]:
    with serving(create_app(tmp_path / "web.duckdb", examples=examples, max_patients=50)) as url:
        yield url


@pytest.fixture()
def page(server: str) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      accept_downloads=True)
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.set_default_timeout(60_000)
        yield tab
        browser.close()
        assert errors == [], f"JavaScript errors in the page: {errors}"


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_models_page_lists_models_and_shows_parameters(page: Any, server: str) -> None:
    pg = page
    pg.goto(server + "/#/models")
    pg.get_by_role("link", name="il2_qsp", exact=True).click()
    params = pg.get_by_test_id("params-table")
    params.wait_for()
    assert "Konrad" in params.inner_text()
    pg.get_by_text("as text").click()
    assert "dT/dt" in pg.get_by_test_id("equations").inner_text()
    math = pg.get_by_test_id("mathml").locator("math")
    model = get_model("il2_qsp")  # one block per intermediate and per state equation
    assert math.count() == len(model.intermediates) + len(model.states)
    # rendered as MathML: each block has a real layout box
    assert math.first.bounding_box()["height"] > 10
    _shot(pg, "model")


def test_scenario_plots_and_dose_log(page: Any, server: str) -> None:
    pg = page
    pg.goto(server + "/#/scenario")
    pg.get_by_test_id("regimen").select_option("label_course")
    pg.get_by_test_id("end").fill("28 day")
    pg.get_by_test_id("run-scenario").click()
    pg.get_by_test_id("dose-log").wait_for()
    assert pg.get_by_test_id("scenario-result-status").inner_text() == "simulated"
    rows = pg.get_by_test_id("dose-log").locator("tbody tr")
    assert rows.count() == 28
    # Plotly drew every curated panel with its curves and the dose markers
    traces = pg.evaluate(
        "[...document.querySelectorAll('[data-testid=plot]')].map(d => (d.data || []).length)")
    assert len(traces) >= 9 and min(traces) >= 2
    assert pg.locator(".main-svg").count() >= 9
    _shot(pg, "scenario")
    # a bad value is reported in the page, and the page keeps working
    pg.get_by_test_id("weight").fill("70 parsec")
    pg.get_by_test_id("run-scenario").click()
    error = pg.get_by_test_id("error")
    error.wait_for()
    assert "weight" in error.inner_text()
    _shot(pg, "scenario-error")


def test_trial_from_example_and_upload_then_results(page: Any, server: str,
                                                    tmp_path: Path) -> None:
    pg = page
    pg.goto(server + "/#/trials")
    pg.get_by_test_id("example-patients").fill("4")
    pg.get_by_test_id("start-example").click()
    job = pg.get_by_test_id("job").first
    job.wait_for()
    _shot(pg, "trial-running")
    pg.wait_for_selector("[data-testid=job][data-status=done]", timeout=240_000)
    _shot(pg, "trial-done")
    # a malformed upload shows its error and starts nothing
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    pg.get_by_test_id("upload-file").set_input_files(str(bad))
    pg.get_by_test_id("start-upload").click()
    assert "not valid TOML" in pg.get_by_test_id("error").inner_text()
    assert pg.get_by_test_id("job").count() == 1

    pg.get_by_test_id("open-results").click()
    summary = pg.get_by_test_id("summary-table")
    summary.wait_for()
    assert "ORR" in summary.inner_text()
    assert "hypotension" in pg.get_by_test_id("toxicity-table").inner_text()
    for name in ("kaplan_meier", "waterfall", "swimmer", "toxicity"):  # drawn by Plotly
        figure = pg.get_by_test_id(f"figure-{name}")
        figure.scroll_into_view_if_needed()
        pg.wait_for_function(f"(document.querySelector('[data-testid=figure-{name}]')"
                             ".data || []).length > 0")
    _shot(pg, "results")
    with pg.expect_download() as download:
        pg.get_by_role("link", name="endpoints.csv").click()
    path = download.value.path()
    assert Path(path).read_text().startswith("patient,") or "patient" in Path(path).read_text()
    # the report opens in a new tab and has its sections
    with pg.context.expect_page() as new_tab:
        pg.get_by_test_id("report-link").click()
    report = new_tab.value
    report.wait_for_load_state()
    assert report.locator("section#efficacy").count() == 1
    # a second trial from an uploaded file, then both runs compared
    pg.goto(server + "/#/trials")
    good = tmp_path / "mine.toml"
    good.write_text(SMALL_TRIAL.replace("Small RCC trial", "Uploaded trial"))
    pg.get_by_test_id("upload-file").set_input_files(str(good))
    pg.get_by_test_id("upload-patients").fill("3")
    pg.get_by_test_id("start-upload").click()
    pg.wait_for_function("document.querySelectorAll('[data-testid=job][data-status=done]')"
                         ".length == 2", timeout=240_000)
    pg.goto(server + "/#/results")
    runs = pg.get_by_test_id("runs-table")
    runs.wait_for()
    assert runs.locator("tbody tr").count() == 2
    pg.get_by_test_id("compare").click()
    assert "two or more" in pg.get_by_test_id("error").inner_text()
    for box in runs.locator("input[name=pick]").all():
        box.check()
    pg.get_by_test_id("compare").click()
    compare = pg.get_by_test_id("compare-table")
    compare.wait_for()
    assert "Uploaded trial" in compare.inner_text() and "Small RCC trial" in compare.inner_text()
    pg.wait_for_function(
        "(document.querySelector('[data-testid=compare-km]').data || []).length > 0")
    _shot(pg, "compare")


@pytest.fixture()
def validated(tmp_path: Path) -> str:
    """A validation of C1 and C3 (synthetic arms) in the store the server will open."""
    return save_synthetic_validation(tmp_path / "web.duckdb", ["c1", "c3"])


def test_validation_page_shows_scorecard_misses_and_figures(validated: str, page: Any,
                                                            server: str) -> None:
    page.goto(f"{server}/#/validation")
    score = page.get_by_test_id("validation-score")
    score.wait_for()
    assert "published endpoints are compatible with the model" in score.inner_text()
    assert "null" not in page.locator("main").inner_text().split()  # no part printed as null
    card = page.get_by_test_id("validation-scorecard")
    assert "C1 RCC" in card.inner_text() and "All trials" in card.inner_text()
    rows = page.get_by_test_id("validation-endpoints").locator("tbody tr")
    assert rows.count() == 22
    verdicts = [rows.nth(i).locator("td").last.inner_text() for i in range(rows.count())]
    first_ok = next((i for i, v in enumerate(verdicts) if v.startswith("compatible")),
                    len(verdicts))
    assert all(v.startswith("compatible") for v in verdicts[first_ok:])  # misses first
    images = page.locator("figure img")
    assert images.count() == 3  # calibration, forest C1, forest C3
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=images.nth(i).element_handle())
    with page.expect_popup() as popup:
        page.get_by_test_id("validation-report").click()
    report = popup.value
    report.wait_for_load_state()
    assert "Validation against published IL-2 trials" in report.content()
    _shot(page, "validation")
