"""The web app as a new user saw it (issue 19), in headless Chromium at 1280 and 420 px.

A real server over a store that already holds a small finished trial (named "(n = 6)" in
its file, run with 4 patients). Screenshots go to ``test-artifacts/web/`` (or
``$IL2SIM_ARTIFACTS/web``), named ``issue19-<page>-<width>.png``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_browser import ARTIFACTS, CHROMIUM, FLAGS, serving
from web_fixtures import SMALL_TRIAL

from il2sim.config.trial import trial_file_from_dict
from il2sim.store import ResultStore
from il2sim.trial.runner import TrialSpec, stream_trial

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium installed")]

WIDTHS = (1280, 420)

COMBINATION = """[[regimen]]
preset = "subcutaneous"
dose = "9 MIU"
weeks = 2

[[regimen]]
kind = "depot"
route = "ifn_sc"
amount = "6 MIU"
schedule = { weekdays = [1, 3, 5], weeks = 2 }
"""


@pytest.fixture()
def stored(tmp_path: Path) -> tuple[Path, str]:
    """A store with one finished 4-patient run of a trial file that says "n = 6"."""
    import tomllib

    data = tomllib.loads(SMALL_TRIAL.replace("Small RCC trial", "Small RCC trial (n = 6)"))
    spec = trial_file_from_dict(data, source="small.toml")
    assert isinstance(spec, TrialSpec)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4))  # an analysis figure, as il2sim biomarkers stores one
    figure.add_subplot().plot([0, 1], [0, 1], label="ROC")
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    db = tmp_path / "web.duckdb"
    with ResultStore(db) as store:
        run_id = stream_trial(spec.resized(4), store)
        store.save_analysis(run_id, "biomarkers", "baseline", {"folds": 5},
                            figures={"roc": png.getvalue()})
    return db, run_id


@pytest.fixture()
def site(stored: tuple[Path, str], examples: Path) -> Iterator[str]:
    from il2sim.web import create_app

    with serving(create_app(stored[0], examples=examples, max_patients=50)) as url:
        yield url


@pytest.fixture()
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _tab(browser: Any, width: int) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.set_default_timeout(60_000)
    tab.errors = errors
    return tab


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(ARTIFACTS / f"issue19-{name}-{width}.png"), full_page=True)
    assert page.errors == [], f"JavaScript errors in the page: {page.errors}"


def _plotted(page: Any, testid: str) -> None:
    page.wait_for_function(
        f"(document.querySelector('[data-testid={testid}]').data || []).length > 0")


def _fits(page: Any) -> None:
    """Nothing of the page sticks out to the right of the window."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow} px wider than the window"


@pytest.mark.parametrize("width", WIDTHS)
def test_navigation_fits_the_window(browser: Any, site: str, width: int) -> None:
    page = _tab(browser, width)
    page.goto(site + "/#/models")
    page.get_by_test_id("models-table").wait_for()
    for link in page.locator("header a").all():
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, \
            f"{link.inner_text()!r} is cut off at {width} px"
    assert page.get_by_role("link", name="API").is_visible()
    _shot(page, "nav")


@pytest.mark.parametrize("width", WIDTHS)
def test_results_are_interactive_wide_and_named_after_the_patients(
        browser: Any, site: str, stored: tuple[Path, str], width: int) -> None:
    _, run_id = stored
    page = _tab(browser, width)
    page.goto(site + "/#/results")
    runs = page.get_by_test_id("runs-table")
    runs.wait_for()
    assert "Small RCC trial (n = 4)" in runs.inner_text() and "n = 6" not in runs.inner_text()
    page.goto(f"{site}/#/results/{run_id}")
    assert page.locator("h1").inner_text() == "Small RCC trial (n = 4)"
    for name in ("kaplan_meier", "waterfall", "swimmer", "spider", "dose_delivery",
                 "toxicity"):
        page.get_by_test_id(f"figure-{name}").scroll_into_view_if_needed()
        _plotted(page, f"figure-{name}")
    km = page.get_by_test_id("figure-kaplan_meier")
    main = page.locator("main").bounding_box()
    assert km.bounding_box()["width"] > 0.9 * (main["width"] - 32)  # full width
    # the numbers at risk are SVG text of a readable size: 4 patients at time 0, twice
    at_risk = km.locator("g.textpoint text")
    texts = at_risk.evaluate_all("ts => ts.map(t => t.textContent)")
    assert texts.count("4") >= 2
    size = float(at_risk.first.evaluate("t => parseFloat(getComputedStyle(t).fontSize)"))
    assert size >= 12
    # legends are whole: no "..." in any legend text
    legends = page.locator(".legendtext").evaluate_all("ts => ts.map(t => t.textContent)")
    assert legends and not any(t.endswith("...") or t.endswith("\u2026") for t in legends)
    # an analysis' stored PNG is shown at the full width of the page (up to 1000 px)
    image = page.get_by_test_id("analysis").locator("img")
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=image.element_handle())
    assert image.bounding_box()["width"] > 0.9 * min(main["width"] - 32, 1000)
    assert "null" not in page.locator("main").inner_text().split()
    _fits(page)
    _shot(page, "results")


@pytest.mark.parametrize("width", WIDTHS)
def test_scenario_quantities_downloads_dose_log_and_axes(browser: Any, site: str,
                                                         width: int) -> None:
    page = _tab(browser, width)
    page.goto(site + "/#/scenario?model=aldesleukin_pk")
    page.get_by_test_id("params").fill("k10 = 3 1/h")
    page.get_by_test_id("end").fill("12 h")
    page.get_by_test_id("run-scenario").click()
    page.get_by_test_id("dose-log").wait_for()
    assert page.get_by_test_id("scenario-result-status").inner_text() == "simulated"
    assert "k10 = 0.05" in page.locator("pre").first.inner_text()  # 3 1/h in 1/min
    with page.expect_download() as download:
        page.get_by_test_id("download-trajectories-csv").click()
    frame = pd.read_csv(download.value.path())
    assert any(c.startswith("C_plasma") for c in frame.columns) and len(frame) > 10
    with page.expect_download() as download:
        page.get_by_test_id("download-doses-parquet").click()
    log = pd.read_parquet(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert log["dose"].iloc[0] == "600,000 IU/kg" and log["clock"].iloc[1] == "08:00"
    # IL-2 and interferon-alpha: dose log in days, clock times and prescribed units
    page.goto(site + "/#/scenario?model=il2_qsp")
    page.get_by_test_id("regimen").select_option("toml")
    page.get_by_test_id("regimen-toml").fill(COMBINATION)
    page.get_by_test_id("end").fill("14 day")
    page.get_by_test_id("run-scenario").click()
    page.get_by_test_id("dose-log").wait_for()
    rows = page.get_by_test_id("dose-log").locator("tbody tr")
    first = rows.first.inner_text()
    assert "day 1 00:00" in first and "subcutaneous interferon-alpha" in first
    assert "6 MIU" in first and "e+" not in page.get_by_test_id("dose-log").inner_text()
    assert "day 1 08:00" in rows.nth(1).inner_text() and "9 MIU" in rows.nth(1).inner_text()
    assert "-:" not in page.locator("pre").first.inner_text()
    plots = page.get_by_test_id("plot")
    exposure, tumour = plots.nth(0), plots.nth(2)
    _plotted(page, "plot")
    layout = exposure.evaluate("d => d.layout")
    traces = exposure.evaluate("d => d.data.map(t => [t.name, t.yaxis, t.line && t.line.dash])")
    assert layout["yaxis3"]["side"] == "right"  # interferon on its own axis
    on_y3 = [name for name, axis, _ in traces if axis == "y3"]
    assert on_y3 == ["ifn_plasma (right axis)"]
    dashes = {name: dash for name, _, dash in traces}
    assert dashes["il2_tumour_site"] != dashes["il2_plasma"]  # both curves stay visible
    t_layout = tumour.evaluate("d => d.layout")
    assert "sphere" in t_layout["title"]["text"] and t_layout["yaxis"]["rangemode"] == "tozero"
    low, high = tumour.evaluate("d => d._fullLayout.yaxis.range")
    assert low <= 0 and high > 30  # not a 38.6-38.9 mm axis
    _fits(page)
    _shot(page, "scenario")


@pytest.mark.parametrize("width", WIDTHS)
def test_equations_show_products(browser: Any, site: str, width: int) -> None:
    page = _tab(browser, width)
    page.goto(site + "/#/models/il2_qsp")
    math = page.get_by_test_id("mathml")
    math.wait_for()
    text = math.inner_text()
    assert "accessant" not in text.replace(" ", "").replace("\n", "")
    assert "\u00b7" in text
    _shot(page, "equations")


def test_trials_started_are_listed_in_every_tab(browser: Any, site: str) -> None:
    first = _tab(browser, 1280)
    first.goto(site + "/#/trials")
    first.get_by_test_id("example-patients").fill("2")
    first.get_by_test_id("start-example").click()
    first.wait_for_selector("[data-testid=job][data-status=done]", timeout=240_000)
    other = _tab(browser, 420)  # another browser context: its own session storage
    other.goto(site + "/#/trials")
    job = other.get_by_test_id("job")
    job.first.wait_for()
    assert job.count() == 1 and "Small RCC trial" in job.first.inner_text()
    # a trial cancelled after its first chunk is listed as unfinished, in every tab
    other.get_by_test_id("example-patients").fill("30")
    other.get_by_test_id("start-example").click()
    other.wait_for_function("[...document.querySelectorAll('[data-testid=job]')].some(j => "
                            "j.dataset.status == 'running' && "
                            "!/ 0 \\/ 30/.test(j.innerText))", timeout=240_000)
    other.get_by_test_id("cancel-job").click()
    other.wait_for_selector("[data-testid=job][data-status=cancelled]", timeout=240_000)
    first.goto(site + "/#/models")
    first.goto(site + "/#/trials")
    unfinished = first.get_by_test_id("unfinished-runs")
    unfinished.wait_for()
    assert re.search(r"\b([1-9]|[12]\d) of 30\b", unfinished.inner_text())  # partly stored
    assert "cancelled" in unfinished.inner_text()
    assert first.get_by_test_id("job").count() == 2
    _fits(other)
    _shot(other, "trials")
    _shot(first, "trials")


@pytest.fixture(scope="module")
def hiv_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[str, str, tuple[str, str]]]:
    """A server over a store with a small HIV arm (ESPRIT, 4 patients, 120 days) and two
    small RCC runs to compare; yields the URL, the HIV run and the two RCC runs."""
    import dataclasses
    import tomllib

    from il2sim.config.trial import load_trial_file
    from il2sim.web import create_app

    esprit = load_trial_file(Path(__file__).parents[2] / "examples/trials/esprit2009.toml")
    arm = dataclasses.replace(esprit.resized(4).arms[0], horizon_days=120.0)
    rcc = []
    for name, n in (("Small RCC trial", 4), ("Another RCC trial with a long name", 3)):
        spec = trial_file_from_dict(tomllib.loads(SMALL_TRIAL.replace("Small RCC trial", name)),
                                    source="small.toml")
        assert isinstance(spec, TrialSpec)
        rcc.append(spec.resized(n))
    folder = tmp_path_factory.mktemp("hiv")
    db = folder / "web.duckdb"
    with ResultStore(db) as store:
        hiv_run = stream_trial(arm, store)
        runs = (stream_trial(rcc[0], store), stream_trial(rcc[1], store))
    with serving(create_app(db, examples=folder, max_patients=50)) as url:
        yield url, hiv_run, runs


@pytest.mark.parametrize("width", WIDTHS)
def test_hiv_run_shows_cd4_interactively(browser: Any, hiv_site: tuple[str, str, Any],
                                         width: int) -> None:
    site, run_id, _ = hiv_site
    page = _tab(browser, width)
    page.goto(f"{site}/#/results/{run_id}")
    cd4 = page.get_by_test_id("figure-cd4")
    cd4.scroll_into_view_if_needed()
    _plotted(page, "figure-cd4")
    assert page.locator("img[data-testid=figure-cd4]").count() == 0  # not the static PNG
    assert page.get_by_test_id("toxicity-table").count() == 0  # no grades: no empty table
    assert "null" not in page.locator("main").inner_text().split()
    names = cd4.evaluate("d => d.data.map(t => t.name)")
    assert names[-1] == "all"  # the mean line, over its t-interval band
    main = page.locator("main").bounding_box()
    assert cd4.bounding_box()["width"] > 0.9 * (main["width"] - 32)  # the page's width
    png = page.locator("figure", has=cd4).get_by_role("link", name="PNG")
    answer = page.request.get(site + png.get_attribute("href"))
    assert answer.status == 200 and answer.body()[:4] == b"\x89PNG"
    _fits(page)
    _shot(page, "hiv")


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_page_fits(browser: Any, hiv_site: tuple[str, str, tuple[str, str]],
                           width: int) -> None:
    site, _, runs = hiv_site
    page = _tab(browser, width)
    page.goto(f"{site}/#/compare/{','.join(runs)}")
    table = page.get_by_test_id("compare-table")
    table.wait_for()
    assert "Another RCC trial" in table.inner_text()
    box = table.locator("xpath=..")  # the table's scrolling box: nothing hidden in it
    assert box.evaluate("b => b.scrollWidth - b.clientWidth") <= 1, \
        f"the comparison is wider than the window at {width} px"
    page.get_by_test_id("compare-km").scroll_into_view_if_needed()
    _plotted(page, "compare-km")
    km = page.get_by_test_id("compare-km").bounding_box()
    assert km["x"] >= 0 and km["x"] + km["width"] <= width
    _fits(page)
    _shot(page, "compare")
