"""The il2sim web app: models, scenarios, background trials and stored results over HTTP.

:func:`create_app` builds a FastAPI application over the same library calls as the CLI:
the model library (:mod:`il2sim.model.library`), scenarios (:mod:`il2sim.web.scenario`),
trials (:mod:`il2sim.config.trial`, :mod:`il2sim.trial.runner`, run in the background by
:class:`~il2sim.web.jobs.TrialJobs`), and the DuckDB result store
(:class:`~il2sim.store.ResultStore`). The JSON API lives under ``/api`` and is described
by OpenAPI at ``/openapi.json`` (browsable at ``/docs``); the page at ``/`` is a small
single-page app (``static/``) that only calls that API.

Every bad input is a 4xx answer with ``{"detail": "<one readable sentence>"}``: unknown
names 404, invalid values 422, oversized uploads 413. Nothing a request sends can crash the
server or write a partial run: trials write whole chunks in transactions, and the run list
shows finished runs only.
"""

from __future__ import annotations

import inspect
import io
import json
import math
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import numpy as np
import pandas as pd
from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from il2sim import __version__
from il2sim.config.scenario import ConfigError
from il2sim.config.trial import trial_file_from_dict
from il2sim.dosing import PRESETS
from il2sim.model.library import get_model, list_models
from il2sim.model.spec import Model, ModelError
from il2sim.store import DATA_TABLES, StoreError
from il2sim.trial import plots
from il2sim.trial.arms import MultiArmTrial
from il2sim.trial.hiv import is_hiv, plot_cd4
from il2sim.trial.outputs import TRIAL_FIGURES
from il2sim.trial.runner import TrialSpec
from il2sim.trial.statistics import recorded_toxicities, toxicity_table
from il2sim.trial.stored import StoredTrial, load_stored_trial
from il2sim.validation.atlas import atlas
from il2sim.validation.report import endpoint_rows, validation_html
from il2sim.validation.run import Validation
from il2sim.validation.stored import KIND as VALIDATION_KIND
from il2sim.validation.stored import NAME as VALIDATION_NAME
from il2sim.validation.stored import RULE as VALIDATION_RULE
from il2sim.validation.stored import load_validation
from il2sim.web.equations import equations_mathml
from il2sim.web.figures import cd4_figure, km_figure, trial_figures
from il2sim.web.jobs import SerialStore, TrialJobs
from il2sim.web.scenario import TABLES as SCENARIO_TABLES
from il2sim.web.scenario import run_scenario, scenario_table
from il2sim.web.schemas import (
    AnalysisInfo,
    ComparisonRow,
    Example,
    JobStatus,
    ModelDetail,
    ModelSummary,
    ParamRow,
    PresetInfo,
    RunInfo,
    RunSummary,
    ScenarioRequest,
    ScenarioResult,
    TrialRequest,
    ValidationDetail,
    ValidationInfo,
    VariableRow,
)

__all__ = ["DEFAULT_EXAMPLES", "MAX_UPLOAD_BYTES", "create_app"]

MAX_UPLOAD_BYTES = 256 * 1024
DEFAULT_EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "trials"
FIGURES = TRIAL_FIGURES
HIV_FIGURE = "cd4"
"""The figure of an HIV trial's run: the mean CD4 count over time."""
_STATIC = resources.files("il2sim.web") / "static"
SWAGGER_UI_URL = "/vendor/swagger-ui"
"""Where the Swagger UI assets of the fastapi-swagger package (swagger-ui-dist) are served."""
_SWAGGER_UI = resources.files("fastapi_swagger") / "resources"


def create_app(db: str | Path, *, examples: str | Path | None = None,
               max_patients: int = 2000) -> FastAPI:
    """The web application over the result store ``db`` (created when missing).

    Main arguments:
        db: the DuckDB result store; the server opens it only while a request reads or a
            trial job writes (:class:`~il2sim.web.jobs.SerialStore`), so the command line
            can read it meanwhile.

    Other arguments:
        examples: directory of example trial files (``*.toml``) offered on the Trials page;
            default the repository's ``examples/trials`` when present.
        max_patients: the largest trial the server accepts (a guard for shared servers).
    """
    examples_dir = Path(examples) if examples is not None else DEFAULT_EXAMPLES
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = SerialStore(db)
        state["store"], state["jobs"] = store, TrialJobs(store)
        try:
            yield
        finally:
            state["jobs"].shutdown()
            store.close()

    # docs_url=None: FastAPI's own /docs loads Swagger UI from a CDN, blank offline; the
    # page below serves it from the installed fastapi-swagger package instead. No ReDoc.
    app = FastAPI(title="il2sim", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Interleukin-2 immunotherapy in silico: models, scenarios, "
                              "virtual trials and stored results.")

    def store() -> SerialStore:
        return state["store"]  # type: ignore[no-any-return]

    def jobs() -> TrialJobs:
        return state["jobs"]  # type: ignore[no-any-return]

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _validation_text(exc),
                                                      "errors": _plain(exc.errors())})

    @app.exception_handler(ConfigError)
    async def bad_config(request: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(StoreError)
    async def store_unavailable(request: Request, exc: StoreError) -> JSONResponse:
        # the store cannot be opened now (another process writes it: DuckDB's one writer)
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    # ------------------------------------------------------------------ pages

    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(_STATIC / "index.html"), media_type="text/html")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        path = resources.files("plotly") / "package_data" / "plotly.min.js"
        return FileResponse(str(path), media_type="text/javascript")

    app.mount(SWAGGER_UI_URL, StaticFiles(directory=str(_SWAGGER_UI)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """Swagger UI over ``/openapi.json``, every asset from this server (works offline)."""
        root = str(request.scope.get("root_path", "")).rstrip("/")
        assets = f"{root}{SWAGGER_UI_URL}"
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            # no badge from the online validator at validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None})

    # ----------------------------------------------------------------- models

    @app.get("/api/models", response_model=list[ModelSummary], tags=["models"])
    def models() -> list[ModelSummary]:
        """The model library, with citations."""
        return [_summary(m) for m in list_models()]

    @app.get("/api/models/{name}", response_model=ModelDetail, tags=["models"],
             responses={404: {"description": "No such model"}})
    def model(name: str) -> ModelDetail:
        """One model: equations, parameters with units and sources, variables."""
        return _detail(_model(name))

    @app.get("/api/presets", response_model=list[PresetInfo], tags=["scenario"])
    def presets() -> list[PresetInfo]:
        """Named regimens and their arguments (the label regimen, low dose, SC, ...)."""
        out = []
        for name, make in PRESETS.items():
            sig = inspect.signature(make)
            out.append(PresetInfo(
                name=name, description=(inspect.getdoc(make) or "").split("\n")[0],
                arguments={k: _default_text(p.default) for k, p in sig.parameters.items()}))
        return out

    # --------------------------------------------------------------- scenario

    @app.post("/api/scenarios", response_model=ScenarioResult, tags=["scenario"],
              responses={422: {"description": "Invalid scenario (the detail names the field)"}})
    def scenario(request: ScenarioRequest) -> ScenarioResult:
        """Simulate one patient: model, regimen, covariates and parameter overrides."""
        return run_scenario(request)

    @app.post("/api/scenarios/{name}.{fmt}", tags=["scenario"], response_class=Response,
              responses={200: {"content": {"text/csv": {},
                                           "application/vnd.apache.parquet": {}}},
                         404: {"description": "No such table or format"},
                         422: {"description": "Invalid scenario (the detail names the field)"}})
    def scenario_download(name: str, fmt: str, request: ScenarioRequest) -> Response:
        """The scenario's trajectories (as ``il2sim simulate`` writes them) or its dose log
        (day, clock time, dose as prescribed), as CSV or Parquet; the same request as
        ``POST /api/scenarios``, simulated again."""
        if name not in SCENARIO_TABLES:
            raise HTTPException(404, f"no scenario table {name!r}; known: "
                                f"{', '.join(SCENARIO_TABLES)}")
        _download_format(fmt)
        return _download(scenario_table(request, name), fmt,  # type: ignore[arg-type]
                         f"{request.model}-{name}")

    # ----------------------------------------------------------------- trials

    @app.get("/api/examples", response_model=list[Example], tags=["trials"])
    def examples_list() -> list[Example]:
        """Example trial files the server offers."""
        out = []
        for path in sorted(examples_dir.glob("*.toml")) if examples_dir.is_dir() else []:
            try:
                data = tomllib.loads(path.read_text())
                out.append(Example(name=path.stem, title=str(data.get("name", path.stem)),
                                   n_patients=int(data.get("n_patients", 0))))
            except (OSError, tomllib.TOMLDecodeError, ValueError, TypeError):
                continue
        return out

    @app.post("/api/trials", response_model=JobStatus, status_code=202, tags=["trials"],
              responses={404: {"description": "No such example"},
                         422: {"description": "Invalid trial"}})
    def start_example(request: TrialRequest) -> JobStatus:
        """Start an example trial in the background; follow it with the returned job id."""
        path = examples_dir / f"{request.example}.toml"
        if not request.example.replace("_", "").replace("-", "").isalnum() or \
                not path.is_file():
            raise HTTPException(404, f"no example trial {request.example!r}; known: "
                                f"{', '.join(e.name for e in examples_list()) or 'none'}")
        spec = _trial(path.read_bytes(), path.name, request.n_patients, max_patients)
        return jobs().submit(spec)

    @app.post("/api/trials/upload", response_model=JobStatus, status_code=202,
              tags=["trials"], responses={413: {"description": "File too large"},
                                          422: {"description": "Invalid trial file"}})
    async def start_upload(file: Annotated[UploadFile, File(description="A trial TOML file")],
                           n_patients: Annotated[int | None, Form(ge=1)] = None) -> JobStatus:
        """Start a trial from an uploaded TOML file (the format of ``il2sim trial``)."""
        content = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(content) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, f"the trial file is larger than "
                                f"{MAX_UPLOAD_BYTES // 1024} KiB")
        spec = _trial(content, file.filename or "upload.toml", n_patients, max_patients)
        return jobs().submit(spec)

    @app.get("/api/trials", response_model=list[JobStatus], tags=["trials"])
    def jobs_list() -> list[JobStatus]:
        """Every trial started on this server (by any browser), newest first, with its
        progress; finished runs of earlier sessions are under ``/api/runs``."""
        return jobs().list()

    @app.get("/api/trials/{job_id}", response_model=JobStatus, tags=["trials"],
             responses={404: {"description": "No such job"}})
    def job(job_id: str) -> JobStatus:
        """Progress of a trial job: patients done of total, then the stored run id."""
        status = jobs().status(job_id)
        if status is None:
            raise HTTPException(404, f"no trial job {job_id!r} (jobs live as long as the server)")
        return status

    @app.delete("/api/trials/{job_id}", response_model=JobStatus, tags=["trials"],
                responses={404: {"description": "No such job"}})
    def cancel(job_id: str) -> JobStatus:
        """Cancel a queued or running job (it stops after the current chunk)."""
        status = jobs().cancel(job_id)
        if status is None:
            raise HTTPException(404, f"no trial job {job_id!r}")
        return status

    # ------------------------------------------------------------------- runs

    @app.get("/api/runs", response_model=list[RunInfo], tags=["results"])
    def runs(unfinished: Annotated[bool, Query(
            description="List the runs not finished instead (running, interrupted, failed), "
                        "with the patients written so far")] = False) -> list[RunInfo]:
        """Finished runs in the store, newest first (or the unfinished ones)."""
        frame = store().runs()
        done = frame["status"] == "done"
        frame = frame[~done if unfinished else done].sort_values("created", ascending=False)
        # a run this server's job stopped is not 'running' (its writer, the server, lives)
        stopped = {j.run_id: j.status for j in jobs().list()
                   if j.run_id and j.status in ("cancelled", "failed")}
        return [_run_info({**row, "status": stopped.get(str(row["run_id"]), row["status"])})
                for row in frame.to_dict("records")]

    @app.get("/api/runs/{run_id}", response_model=RunSummary, tags=["results"],
             responses={404: {"description": "No such finished run"}})
    def run(run_id: str) -> RunSummary:
        """A run's summary (response rates, survival, toxicity, dosing) and its toxicity table."""
        info = _finished(run_id)
        analyses = _analyses(run_id)
        if info.kind == "analysis":
            return RunSummary(run=info, summary=[], toxicity=[], figures=[], tables=[],
                              analyses=analyses)
        stored = _stored(run_id)
        summary = stored.summary()
        if is_hiv(stored.endpoints):  # CD4 and viral load; no tumour, no toxicity grades
            toxicity: list[dict[str, Any]] = []
            figures = [HIV_FIGURE]
        else:
            tox = toxicity_table(stored.endpoints,
                                 toxicities=recorded_toxicities(stored.endpoints))
            toxicity = [{"toxicity": str(k), **{c: _cell(v) for c, v in row.items()}}
                        for k, row in tox.iterrows()]
            figures = list(FIGURES)
        return RunSummary(
            run=info,
            summary=[{"measure": str(k), "value": str(v)}
                     for k, v in summary.iloc[:, 0].items()],
            toxicity=toxicity, figures=figures, tables=store().run_tables(run_id),
            analyses=analyses)

    @app.get("/api/runs/{run_id}/analyses/{kind}/{name}/figures/{figure}.png",
             tags=["results"], response_class=Response,
             responses={200: {"content": {"image/png": {}}},
                        404: {"description": "No such run, analysis or figure"}})
    def analysis_figure(run_id: str, kind: str, name: str, figure: str) -> Response:
        """A figure of an analysis stored with the run (Pareto front, tornado plot, ROC...)."""
        _finished(run_id)
        try:
            analysis = store().load_analysis(run_id, kind, name)
        except StoreError as exc:
            raise HTTPException(404, str(exc)) from None
        if figure not in analysis.figures:
            raise HTTPException(404, f"analysis {kind} {name!r} has no figure {figure!r}; "
                                f"known: {', '.join(analysis.figures) or 'none'}")
        return Response(analysis.figures[figure], media_type="image/png")

    @app.get("/api/runs/{run_id}/plots", response_model=dict[str, dict[str, Any]],
             tags=["results"], responses={404: {"description": "No such finished trial run"}})
    def interactive_figures(run_id: str) -> dict[str, dict[str, Any]]:
        """The run's standard figures as Plotly figures (``{"data", "layout"}``, for
        ``Plotly.newPlot``), by the names of the PNG figures (for an HIV trial, cd4)."""
        _trial_run(run_id)
        stored = _stored(run_id)
        if is_hiv(stored.endpoints):
            return {} if stored.visits is None else {HIV_FIGURE: cd4_figure(stored.visits)}
        return trial_figures(stored)

    @app.get("/api/runs/{run_id}/figures/{name}.png", tags=["results"],
             response_class=Response, responses={200: {"content": {"image/png": {}}},
                                                 404: {"description": "No such run or figure"}})
    def figure(run_id: str, name: str) -> Response:
        """A standard trial figure as PNG: kaplan_meier, waterfall, swimmer, spider,
        toxicity, dose_delivery; cd4 (the mean CD4 count over time) for an HIV trial."""
        if name not in (*FIGURES, HIV_FIGURE):
            raise HTTPException(404, f"no figure {name!r}; known: "
                                f"{', '.join((*FIGURES, HIV_FIGURE))}")
        _trial_run(run_id)
        stored = _stored(run_id)
        try:
            if name == HIV_FIGURE:
                if stored.visits is None:
                    raise ValueError("the CD4 figure is for HIV trials")
                fig = plot_cd4(stored.visits)
            else:
                fig = stored.figure(name)
        except ValueError as exc:
            raise HTTPException(422, f"figure {name!r} cannot be drawn for this run: {exc}") \
                from None
        return Response(plots.figure_png(fig, dpi=None, tight=False), media_type="image/png")

    @app.get("/api/runs/{run_id}/tables/{name}.{fmt}", tags=["results"],
             response_class=Response,
             responses={200: {"content": {"text/csv": {},
                                          "application/vnd.apache.parquet": {}}},
                        404: {"description": "No such run, table or format"}})
    def table(run_id: str, name: str, fmt: str) -> Response:
        """Download one of the run's tables (patients, doses, scans or visits, endpoints) as
        CSV or Parquet (``observations``, their name before, is the run's scans or visits)."""
        if name not in (*DATA_TABLES, "observations"):
            raise HTTPException(404, f"no table {name!r}; known: {', '.join(DATA_TABLES)}")
        _download_format(fmt)
        _trial_run(run_id)
        if name == "observations":  # links saved before the store's schema version 2
            name = "visits" if "visits" in store().run_tables(run_id) else "scans"
        return _download(_table(run_id, name), fmt, f"{run_id}-{name}")

    @app.get("/api/runs/{run_id}/report.html", tags=["results"], response_class=HTMLResponse,
             responses={404: {"description": "No such finished run"}})
    def report(run_id: str) -> HTMLResponse:
        """The run's self-contained HTML report (as ``il2sim report``)."""
        from il2sim.analysis.report import report_html

        _finished(run_id)
        with store().locked() as raw:
            text = report_html(raw, run_id)
        return HTMLResponse(text, headers={
            "Content-Disposition": f'inline; filename="{run_id}-report.html"'})

    @app.get("/api/compare", response_model=list[ComparisonRow], tags=["results"],
             responses={404: {"description": "A run is unknown"},
                        422: {"description": "Fewer than two runs"}})
    def compare(run: Annotated[list[str], Query(description="Run ids, two or more")]
                ) -> list[ComparisonRow]:
        """The summary measures of several runs side by side."""
        columns = _compared(run)
        measures = list(next(iter(columns.values())).index)
        return [ComparisonRow(measure=str(m), values={k: str(c.get(m, "")) for k, c in
                                                      columns.items()}) for m in measures]

    @app.get("/api/compare/kaplan_meier", response_model=dict[str, Any], tags=["results"],
             responses={404: {"description": "A run is unknown"},
                        422: {"description": "Fewer than two runs"}})
    def compare_km_plot(run: Annotated[list[str], Query(description="Run ids, two or more")]
                        ) -> dict[str, Any]:
        """Overall and progression-free survival of several runs, one curve each, with the
        numbers at risk, as a Plotly figure."""
        return km_figure(_compared_endpoints(run), by="arm")

    @app.get("/api/compare/kaplan_meier.png", tags=["results"], response_class=Response,
             responses={200: {"content": {"image/png": {}}},
                        404: {"description": "A run is unknown"},
                        422: {"description": "Fewer than two runs"}})
    def compare_km(run: Annotated[list[str], Query(description="Run ids, two or more")]
                   ) -> Response:
        """Overall survival of several runs on one Kaplan-Meier plot."""
        return Response(plots.figure_png(plots.plot_km(_compared_endpoints(run), by="arm"),
                                         dpi=None, tight=False), media_type="image/png")

    def _compared_endpoints(run: list[str]) -> pd.DataFrame:
        """The runs' endpoints, column ``arm`` naming each run."""
        _compared(run)
        frames = []
        for run_id in run:
            frame = _table(run_id, "endpoints").copy()
            frame["arm"] = _label(_finished(run_id))
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    # --------------------------------------------------------------- validation

    @app.get("/api/validations", response_model=list[ValidationInfo], tags=["validation"])
    def validations() -> list[ValidationInfo]:
        """Stored validations against published trials (``il2sim validate``), newest first."""
        listed = store().analyses()
        listed = listed[listed["kind"] == VALIDATION_KIND].sort_values("created",
                                                                       ascending=False)
        return [_validation_info(str(run_id)) for run_id in listed["run_id"]]

    @app.get("/api/validations/{run_id}", response_model=ValidationDetail,
             tags=["validation"], responses={404: {"description": "No such validation"}})
    def validation(run_id: str) -> ValidationDetail:
        """A validation: its scorecard, every endpoint in clinical words (misses first) and
        the URLs of its calibration and forest plots."""
        result, _ = _validation(run_id)
        analysis = store().load_analysis(run_id, VALIDATION_KIND, VALIDATION_NAME)
        base = (f"/api/runs/{quote(run_id)}/analyses/{VALIDATION_KIND}/"
                f"{quote(VALIDATION_NAME, safe='')}/figures")
        card = result.scorecard_shown()
        return ValidationDetail(
            info=_validation_info(run_id), rule=VALIDATION_RULE,
            scorecard=[{"trial": str(r["short"]), "compatible": int(r["compatible"]),
                        "outcomes": int(r["outcomes"]),
                        "not_simulated": int(r["not_simulated"])}
                       for _, r in card.iterrows()],
            endpoints=endpoint_rows(result.scores).astype(str).to_dict("records"),
            figures=[f"{base}/{quote(f, safe='')}.png" for f in analysis.figures])

    @app.get("/api/validations/{run_id}/report.html", tags=["validation"],
             response_class=HTMLResponse, responses={404: {"description": "No such validation"}})
    def validation_report(run_id: str) -> HTMLResponse:
        """The validation's self-contained HTML report (as ``il2sim validate`` writes it)."""
        result, ids = _validation(run_id)
        try:
            trials = atlas(ids)
        except ConfigError as exc:
            raise HTTPException(404, f"validation {run_id!r}: {exc.problem}") from None
        return HTMLResponse(validation_html(result, trials), headers={
            "Content-Disposition": f'inline; filename="{run_id}-validation.html"'})

    def _validation(run_id: str) -> tuple[Validation, list[str]]:
        try:
            with store().locked() as raw:
                return load_validation(raw, run_id)
        except StoreError:
            raise HTTPException(404, f"no validation {run_id!r} in the store") from None

    def _validation_info(run_id: str) -> ValidationInfo:
        result, ids = _validation(run_id)
        card = result.scorecard().iloc[-1]
        row = _finished(run_id)
        return ValidationInfo(run_id=run_id, name=row.name, created=row.created, trials=ids,
                              replicates=result.replicates,
                              compatible=int(card["compatible"]),
                              outcomes=int(card["outcomes"]))

    # --------------------------------------------------------------- helpers

    def _finished(run_id: str) -> RunInfo:
        frame = store().runs()
        row = frame[frame["run_id"] == run_id]
        if row.empty or row.iloc[0]["status"] != "done":
            raise HTTPException(404, f"no finished run {run_id!r} in the store")
        return _run_info(row.iloc[0].to_dict())

    def _trial_run(run_id: str) -> RunInfo:
        info = _finished(run_id)
        if info.kind != "trial":
            raise HTTPException(404, f"run {run_id!r} is an analysis record with no patients, "
                                "not a trial")
        return info

    def _analyses(run_id: str) -> list[AnalysisInfo]:
        out = []
        listed = store().analyses(run_id)
        for kind, name in zip(listed["kind"], listed["name"], strict=True):
            analysis = store().load_analysis(run_id, kind, name)
            base = f"/api/runs/{quote(run_id)}/analyses/{quote(kind)}/{quote(name, safe='')}"
            out.append(AnalysisInfo(
                kind=kind, name=name, created=str(analysis.created)[:19],
                params=_json_safe(analysis.params),
                tables={label: _records(frame) for label, frame in analysis.tables.items()},
                figures=[f"{base}/figures/{quote(f, safe='')}.png" for f in analysis.figures]))
        return out

    def _table(run_id: str, name: str) -> pd.DataFrame:
        try:
            frame: pd.DataFrame = store().table(run_id, name)
            return frame
        except StoreError as exc:
            raise HTTPException(404, str(exc)) from None

    def _stored(run_id: str) -> StoredTrial:
        """A trial run's endpoints, dose delivery and plotted patients (any trial size)."""
        try:
            with store().locked() as reading:
                return load_stored_trial(reading, run_id)
        except StoreError as exc:
            raise HTTPException(404, str(exc)) from None

    def _compared(run_ids: list[str]) -> dict[str, pd.Series]:
        if len(run_ids) < 2 or len(set(run_ids)) != len(run_ids):
            raise HTTPException(422, "compare needs two or more different runs "
                                "(?run=ID&run=ID)")
        out = {}
        for run_id in run_ids:
            info = _trial_run(run_id)
            summary = _stored(run_id).summary()
            out[_label(info)] = summary.iloc[:, 0]
        return out

    return app


# ------------------------------------------------------------------ pure helpers

def _model(name: str) -> Model:
    try:
        return get_model(name)
    except ModelError as exc:
        raise HTTPException(404, str(exc)) from None


def _summary(m: Model) -> ModelSummary:
    return ModelSummary(name=m.name, title=m.title, citation=m.citation,
                        time_unit=m.time_unit, n_states=len(m.states), n_params=len(m.params),
                        routes=[r.name for r in m.routes])


def _detail(m: Model) -> ModelDetail:
    def bound(x: float) -> float | None:
        return None if abs(x) == float("inf") else x

    variables = (
        [VariableRow(name=s.name, unit=s.unit, meaning=s.meaning, kind="state")
         for s in m.states]
        + [VariableRow(name=o.name, unit=o.unit, meaning=o.meaning, kind="observable",
                       expression=o.expr) for o in m.observables]
        + [VariableRow(name=i.name, unit=i.unit, meaning=i.meaning, kind="intermediate",
                       expression=i.expr) for i in m.intermediates]
        + [VariableRow(name=i.name, unit=i.unit, meaning=i.meaning, kind="input")
           for i in m.inputs]
        + [VariableRow(name=r.name, unit=r.unit, meaning=r.meaning, kind="route",
                       expression=f"into {r.state}") for r in m.routes])
    return ModelDetail(
        **_summary(m).model_dump(), notes=m.notes,
        equations=[f"d{s}/dt = {rhs}" for s, rhs in m.equations.items()],
        mathml=equations_mathml(m),
        params=[ParamRow(name=p.name, value=p.value, unit=p.unit, meaning=p.meaning,
                         source=p.source, lower=bound(p.bounds[0]), upper=bound(p.bounds[1]))
                for p in m.params],
        variables=variables)


def _download_format(fmt: str) -> None:
    if fmt not in ("csv", "parquet"):
        raise HTTPException(404, f"no format {fmt!r}; known: csv, parquet")


def _download(frame: pd.DataFrame, fmt: str, stem: str) -> Response:
    """``frame`` as a CSV or Parquet attachment named ``stem.fmt``."""
    _download_format(fmt)
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buffer, index=False)
        media = "text/csv"
    else:
        frame.to_parquet(buffer, index=False)
        media = "application/vnd.apache.parquet"
    return Response(buffer.getvalue(), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})


def _default_text(value: object) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _trial(content: bytes, filename: str, n_patients: int | None,
           max_patients: int) -> TrialSpec | MultiArmTrial:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(filename, None, "not a UTF-8 text file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(filename, None, f"not valid TOML: {exc}") from None
    spec = trial_file_from_dict(data, source=filename)
    if isinstance(spec, MultiArmTrial):  # n_patients: the cohort, every arm counted
        if n_patients is not None:
            try:
                spec = spec.resized(n_patients)
            except ValueError as exc:
                raise ConfigError(filename, "n_patients", str(exc)) from None
        total = spec.n_treated
    else:
        if n_patients is not None:
            spec = spec.resized(n_patients)
        total = spec.n_patients
    if total > max_patients:
        raise ConfigError(filename, "n_patients", f"{total} patients is more than "
                          f"this server accepts ({max_patients}); use the command line "
                          "(il2sim trial) for large trials")
    return spec


def _run_info(row: dict[str, Any]) -> RunInfo:
    try:
        config = json.loads(str(row.get("config") or "{}"))
    except json.JSONDecodeError:
        config = {}
    kind: Literal["trial", "analysis"] = (
        "analysis" if isinstance(config, dict) and "analysis" in config else "trial")
    return RunInfo(run_id=str(row["run_id"]), name=str(row["name"]), model=str(row["model"]),
                   seed=int(row["seed"]), n_patients=int(row["n_patients"]),
                   status=str(row["status"]), created=str(row["created"])[:19], kind=kind,
                   patients_done=int(row.get("patients_done", row["n_patients"])))


def _json_safe(value: Any) -> Any:
    """Nested settings as JSON values (non-finite numbers as in :func:`_cell`)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return _cell(value)


def _records(frame: pd.DataFrame, limit: int = 200) -> list[dict[str, Any]]:
    """The first ``limit`` rows as JSON-safe records (index kept as columns)."""
    head = frame.head(limit)
    if not isinstance(head.index, pd.RangeIndex):
        head = head.reset_index()
    return [{str(k): _cell(v) for k, v in row.items()} for row in head.to_dict("records")]


def _label(info: RunInfo) -> str:
    return f"{info.name} [{info.run_id}]"


def _cell(value: object) -> str | float | int | None:
    """A table cell as JSON: NaN and missing as null, infinities as text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, int, str)):
        return value
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return None
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return int(number) if isinstance(value, np.integer) else number


def _validation_text(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where
                     else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def _plain(errors: Any) -> Any:
    """Validation errors as JSON-safe values (pydantic may put exceptions in ``ctx``)."""
    if isinstance(errors, dict):
        return {k: _plain(v) for k, v in errors.items()}
    if isinstance(errors, (list, tuple)):
        return [_plain(v) for v in errors]
    if isinstance(errors, (str, int, float, bool)) or errors is None:
        return errors
    return str(errors)
