"""The ``il2sim`` command line: models, simulation, virtual trials, their analyses, the web app.

    il2sim models                                   # the library models
    il2sim show kp1998                              # one model's states and parameters
    il2sim simulate examples/pk_konrad_bolus.toml --out results
    il2sim simulate --model aldesleukin_pk --preset label_high_dose \\
        --weight "70 kg" --height "175 cm" --end "21 day" --out results
    il2sim export kp1998 -o kp1998.xml              # SBML
    il2sim import BIOMD0000000732.xml --simulate "100 day"
    il2sim trial examples/trials/rcc.toml           # a virtual trial, stored
    il2sim results                                  # stored runs; il2sim results RUN --export dir/
    il2sim report RUN -o report.html                # HTML report of a run and its analyses
    il2sim optimize --indication rcc --route iv --route sc    # regimens on a Pareto front
    il2sim sensitivity examples/pk_konrad_bolus.toml --param k10=0.03:0.06 --param V1=2:3.5
    il2sim biomarkers RUN                           # baseline features that predict response
    il2sim validate c1 c5                           # published trials of the atlas, scored
    il2sim serve                                    # the web app

Command-line options override the scenario file (see :mod:`il2sim.config.scenario`
for its format). The commands only parse, call the library and print.

Exit status: 0 on success; 2 for bad input (unknown model or parameter,
malformed TOML, a negative dose, a wrong unit, a missing file), reported as
one line ``error: ...`` on stderr; 1 when an integration fails or an output
file cannot be written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from il2sim import __version__
from il2sim.config.errors import (
    FORMATS,
    MAX_OUTPUT_VALUES,
    TABLE_FORMATS,
    ConfigError,
    Format,
    TableFormat,
)

if TYPE_CHECKING:  # the rest is imported where it is used: `il2sim --help` starts fast
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from il2sim.config.scenario import Scenario
    from il2sim.engine import SimulationResult
    from il2sim.model import Model
    from il2sim.store import ResultStore

__all__ = ["cli", "main"]

PROGRESS_AFTER_S = 1.0
"""A single simulation shows a progress display once it has run this long."""


_WHERE = "il2sim.where"
"""Key in the click context's ``meta`` (shared by the group and its command) of the file and
key an :func:`_at` block names."""


@contextmanager
def _at(source: str, key: str | None = None) -> Iterator[None]:
    """A layer's error raised inside (:func:`_exit_status`) names ``source`` and ``key``
    first in its message (what the library's layers cannot know: the store file, the run,
    the option); :func:`_fail` writes it. Left set when the block raises, so that the group's
    handler sees it."""
    meta = click.get_current_context().meta
    meta[_WHERE] = (source, key)
    yield
    meta.pop(_WHERE, None)


def _exit_status(exc: Exception) -> int | None:
    """2 for an error that means the input is wrong (a layer's error class), 1 for one that
    means the work failed, None for any other: a plain ``ValueError`` is a programming error,
    shown with its traceback, also inside an :func:`_at` block. The library's error classes
    are imported here, on the error path."""
    if isinstance(exc, ConfigError):
        return 2
    if isinstance(exc, click.ClickException | click.exceptions.Exit | click.Abort):
        return None
    from il2sim.analysis.errors import AnalysisError
    from il2sim.assessment.response import ResponseCriteriaError
    from il2sim.dosing import DoseError
    from il2sim.engine import EngineError, SimulationError
    from il2sim.model import ModelError
    from il2sim.population.distributions import PopulationError
    from il2sim.protocol.rules import ProtocolError
    from il2sim.sbml.mathml import SbmlError
    from il2sim.store import StoreError
    from il2sim.trial.errors import TrialError
    from il2sim.units import UnitError

    if isinstance(exc, ModelError | SbmlError | UnitError | DoseError | PopulationError
                  | ResponseCriteriaError | ProtocolError | TrialError | EngineError
                  | StoreError | AnalysisError):
        return 2
    if isinstance(exc, SimulationError | OSError):
        return 1
    return None


class _Commands(click.Group):
    """The command group; the one place where library errors become one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            where = ctx.meta.pop(_WHERE, None)
            status = _exit_status(exc)
            if status is None:
                raise
            if where is not None and isinstance(exc, ValueError) \
                    and not isinstance(exc, ConfigError):  # a layer's error
                source, key = where
                exc = ConfigError(source, key, str(exc))  # the same line, with file and key
            _fail(ctx, exc, status)


def _fail(ctx: click.Context, exc: Exception, status: int) -> None:
    message = " ".join(str(exc).split()) or type(exc).__name__
    click.echo(f"error: {message}", err=True)
    ctx.exit(status)


def _console(*, stderr: bool = False) -> Console:
    """Rich console; wide when not a terminal, so piped tables do not wrap."""
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=max(console.width, 160))
    return console


def _progress() -> Progress:
    """A transient progress bar on stderr, shown only on a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = _console(stderr=True)
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                    transient=True, disable=not console.is_terminal)


DASK_MIN_PATIENTS_PER_WORKER = 512
"""Below this many patients per worker ``--workers`` runs a trial serially, with a notice:
starting a local Dask cluster costs seconds that fewer patients did not win back on this
project's two cores, up to 1,024 patients on 2 workers (``benchmarks/workers.py``;
docs/design.md, "When Dask pays")."""


@contextmanager
def _dask(workers: int | None, scheduler: str | None,
          n_patients: int | None = None) -> Iterator[object | None]:
    """The Dask client of ``--workers`` (a local cluster, closed on exit) or ``--scheduler``,
    or None for a serial run: also with ``--workers`` for fewer than
    :data:`DASK_MIN_PATIENTS_PER_WORKER` ``n_patients`` per worker."""
    if workers is not None and scheduler is not None:
        raise ConfigError("<command line>", "--workers", "give --workers or --scheduler, "
                          "not both")
    if (workers is not None and n_patients is not None
            and n_patients < DASK_MIN_PATIENTS_PER_WORKER * workers):
        click.echo(f"{n_patients} patients run serially: a local Dask cluster pays from "
                   f"about {DASK_MIN_PATIENTS_PER_WORKER} patients per worker "
                   f"({DASK_MIN_PATIENTS_PER_WORKER * workers} for --workers {workers})",
                   err=True)
        workers = None
    if workers is None and scheduler is None:
        yield None
        return
    from il2sim.trial.runner import dask_client

    client = dask_client(workers=workers, scheduler=scheduler)
    try:
        yield client
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()  # type: ignore[attr-defined]
        if cluster is not None:
            cluster.close()


def _require_store(db: Path) -> None:
    if not db.is_file():
        raise ConfigError(str(db), None, "no such result store (run `il2sim trial` first)")


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="il2sim")
def cli() -> None:
    """il2sim: interleukin-2 immunotherapy in silico."""


# --------------------------------------------------------------------------- models, show


@cli.command()
def models() -> None:
    """List the library models."""
    from rich.table import Table

    from il2sim.model import list_models

    table = Table("name", "title", "citation", title="il2sim models", title_justify="left")
    for model in list_models():
        table.add_row(model.name, model.title, model.citation)
    _console().print(table)


def _bounds(lo: float, hi: float) -> str:
    return f"[{lo:g}, {hi:g}]"


@cli.command()
@click.argument("model_name", metavar="MODEL")
def show(model_name: str) -> None:
    """Show a model: states, parameters, inputs, routes, observables, equations."""
    from il2sim.model import get_model

    model = get_model(model_name)
    console = _console()
    console.print(f"[bold]{model.name}[/bold]: {model.title}")
    console.print(f"citation: {model.citation}")
    console.print(f"time unit: {model.time_unit}")
    if model.notes:
        console.print(f"notes: {model.notes}")
    for table in _model_tables(model):
        console.print(table)
    console.print("[bold]equations[/bold]")
    for name in model.state_names:
        console.print(f"  d{name}/dt = {model.equations[name]}", markup=False)
    for item in model.intermediates:
        console.print(f"  {item.name} = {item.expr}", markup=False)


def _model_tables(model: Model) -> list[Table]:
    from rich.table import Table

    def table(title: str, *columns: str) -> Table:
        return Table(*columns, title=title, title_justify="left", title_style="bold")

    states = table("states", "name", "initial", "unit", "integrated as", "meaning")
    for s in model.states:
        states.add_row(s.name, f"{s.initial:g}", s.unit, "log" if s.log else "linear",
                       s.meaning)
    params = table("parameters", "name", "value", "unit", "bounds", "meaning", "source")
    for p in model.params:
        params.add_row(p.name, f"{p.value:g}", p.unit, _bounds(*p.bounds), p.meaning, p.source)
    tables = [states, params]
    if model.inputs:
        inputs = table("inputs", "name", "unit", "meaning")
        for i in model.inputs:
            inputs.add_row(i.name, i.unit, i.meaning)
        tables.append(inputs)
    if model.routes:
        routes = table("dose routes", "name", "state", "unit", "infusion drives",
                       "fraction absorbed", "meaning")
        for r in model.routes:
            routes.add_row(r.name, r.state, r.unit, r.input or f"d{r.state}/dt",
                           r.fraction or "1", r.meaning)
        tables.append(routes)
    if model.observables:
        observables = table("observables", "name", "expression", "unit", "meaning")
        for o in model.observables:
            observables.add_row(o.name, o.expr, o.unit, o.meaning)
        tables.append(observables)
    if model.intermediates:
        intermediates = table("intermediates", "name", "expression", "unit", "meaning")
        for m in model.intermediates:
            intermediates.add_row(m.name, m.expr, m.unit, m.meaning)
        tables.append(intermediates)
    return tables


# --------------------------------------------------------------------------- simulate


@cli.command()
@click.argument("scenario_file", metavar="[SCENARIO.toml]", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "model_name", metavar="NAME", help="Library model (overrides the file).")
@click.option("--preset", metavar="NAME", help="Named regimen, replacing the file's regimen.")
@click.option("--dose", metavar="QUANTITY",
              help="Dose of the preset (or of the file's single administration).")
@click.option("--set", "assignments", metavar="NAME=VALUE", multiple=True,
              help="Parameter override: a number in the model's unit, or a quantity.")
@click.option("--weight", metavar="QUANTITY", help="Body weight, e.g. '70 kg'.")
@click.option("--height", metavar="QUANTITY", help="Height, e.g. '175 cm'.")
@click.option("--bsa", metavar="QUANTITY", help="Body surface area, e.g. '1.73 m**2'.")
@click.option("--no-physiological-bounds", "unbounded", is_flag=True,
              help="Allow weight, height and BSA outside the extremes recorded in adults.")
@click.option("--end", metavar="TIME", help="End of the simulation, e.g. '48 h'.")
@click.option("--points", type=click.IntRange(min=2),
              help="Number of output times (times x patients x variables at most "
                   f"{MAX_OUTPUT_VALUES:.0e}).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True, help="Directory for the output files.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True,
              help="Format of the trajectory table.")
@click.option("--no-plot", is_flag=True, help="Do not draw the figure.")
def simulate(scenario_file: Path | None, model_name: str | None, preset: str | None,
             dose: str | None, assignments: Sequence[str], weight: str | None,
             height: str | None, bsa: str | None, unbounded: bool, end: str | None,
             points: int | None, out_dir: Path, fmt: str, no_plot: bool) -> None:
    """Simulate a scenario; write trajectories, the dose log and a figure to --out."""
    import numpy as np

    from il2sim.engine.output import write_outputs

    scenario = _scenario(scenario_file, model_name=model_name, preset=preset, dose=dose,
                         assignments=assignments, weight=weight, height=height, bsa=bsa,
                         end=end, points=points, unbounded=unbounded)
    console = _console()
    console.print(scenario.describe(), markup=False)
    result = _run(scenario)
    for i in np.flatnonzero(~result.ok):
        click.echo(f"warning: patient {i} failed: {result.message[i]}", err=True)
    paths = write_outputs(result, out_dir, scenario.name, fmt=cast(Format, fmt),
                          title=scenario.heading, plot=not no_plot)
    console.print(_summary_table(result))
    console.print("wrote " + ", ".join(str(p) for p in paths.values()), markup=False)


def _scenario(path: Path | None, *, model_name: str | None, preset: str | None,
              dose: str | None, assignments: Sequence[str], weight: str | None,
              height: str | None, bsa: str | None, end: str | None,
              points: int | None, unbounded: bool = False) -> Scenario:
    """The scenario file with the command-line options applied on top."""
    from il2sim.config.scenario import override, parse_assignment, read_toml, scenario_from_dict

    if path is None and model_name is None:
        raise ConfigError("<command line>", None, "give a scenario file or --model")
    data = read_toml(path) if path is not None else {}
    params = dict(parse_assignment(text) for text in assignments)
    patient: dict[str, str | bool] = {
        k: v for k, v in (("weight", weight), ("height", height), ("bsa", bsa)) if v is not None}
    if unbounded:
        patient["physiological_bounds"] = False
    flags = (model_name, preset, dose, end, points)
    changed = bool(params or patient or any(f is not None for f in flags))
    source = "<command line>" if path is None else str(path)
    if path is not None and changed:
        source += " (with command-line options)"
    data = override(data, model=model_name, preset=preset, dose=dose, params=params,
                    patient=patient, end=end, points=points, source=source)
    return scenario_from_dict(data, source=source, name=path.stem if path else None)


def _run(scenario: Scenario) -> SimulationResult:
    """Run with a progress display: at once for a batch, after a while for one patient."""
    progress = _progress()
    task = progress.add_task(f"simulating {scenario.name}", total=scenario.n_patients)
    lock = threading.Lock()
    finished = False

    def start() -> None:
        with lock:
            if not finished:
                progress.start()

    timer = threading.Timer(0.0 if scenario.n_patients > 1 else PROGRESS_AFTER_S, start)
    timer.daemon = True
    timer.start()
    try:
        return scenario.run(progress=lambda done: progress.advance(task, done))
    finally:
        with lock:
            finished = True
            timer.cancel()
            progress.stop()


def _summary_table(result: SimulationResult) -> Table:
    from rich.table import Table

    units = {**{s.name: s.unit for s in result.model.states},
             **{o.name: o.unit for o in result.model.observables}}
    frame = result.summary()
    title = "summary" + (f" (median over {int(result.ok.sum())} patients)"
                         if result.n_patients > 1 else "")
    table = Table("variable", "unit", *[str(c) for c in frame.columns[1:]], title=title,
                  title_justify="left")
    for row in frame.itertuples(index=False):
        name = str(row[0])
        table.add_row(name, units.get(name, ""), *[f"{float(v):.4g}" for v in row[1:]])
    return table


# --------------------------------------------------------------------------- SBML


@cli.command("export")
@click.argument("model_name", metavar="MODEL")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
def export_command(model_name: str, output: Path | None) -> None:
    """Write a library model as SBML Level 3 Version 2."""
    from il2sim.model import get_model
    from il2sim.sbml import SbmlError, export_sbml

    model = get_model(model_name)
    try:
        text = export_sbml(model, output)
    except SbmlError as exc:
        _fail(click.get_current_context(), exc, 2)
    if output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {output}", err=True)


@cli.command("import")
@click.argument("sbml_file", metavar="FILE.xml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--simulate", "end", metavar="END",
              help="Also simulate from 0 to END (model time units, or a time such as '48 h') "
                   "and print a summary.")
@click.option("--points", type=click.IntRange(min=2), default=101, show_default=True,
              help="Number of output times with --simulate.")
def import_command(sbml_file: Path, end: str | None, points: int) -> None:
    """Read an SBML file and show it as an il2sim model (like 'il2sim show')."""
    import numpy as np
    from rich.markup import escape

    from il2sim.engine import simulate as simulate_model
    from il2sim.sbml import SbmlError, import_sbml

    try:
        model = import_sbml(sbml_file)
    except SbmlError as exc:
        _fail(click.get_current_context(), exc, 2)
    console = _console()
    console.print(f"[bold]{escape(model.name)}[/bold]: {escape(model.title)}")
    console.print(f"citation: {model.citation}", markup=False)
    console.print(f"time unit: {model.time_unit}", markup=False)
    if model.notes:
        console.print(f"notes: {model.notes}", markup=False)
    for table in _model_tables(model):
        console.print(table)
    console.print("[bold]equations[/bold]")
    for name in model.state_names:
        console.print(f"  d{name}/dt = {model.equations[name]}", markup=False)
    for item in model.intermediates:
        console.print(f"  {item.name} = {item.expr}", markup=False)
    if end is not None:
        stop = _end_time(end, model.time_unit)
        result = simulate_model(model, None, times=np.linspace(0.0, stop, points))
        console.print(_summary_table(result))


def _end_time(text: str, time_unit: str) -> float:
    """``--simulate`` value in model time units: a plain number or a time quantity."""
    from il2sim.engine import EngineError
    from il2sim.units import to_magnitude

    try:
        value = float(text)
    except ValueError:
        value = to_magnitude(text, time_unit, what="--simulate")
    if not value > 0:
        raise EngineError(f"--simulate: the end time must be positive, not {text!r}")
    return value


def main() -> None:
    """Entry point of the ``il2sim`` command."""
    cli(prog_name="il2sim")



# --------------------------------------------------------------------------- trials

DEFAULT_DB = Path("il2sim-results.duckdb")


@cli.command("trial")
@click.argument("trial_file", metavar="TRIAL.toml",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
              show_default=True, help="DuckDB file the run is stored in (and resumed from).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the summary and figures [default: out/<file stem>, or "
                   "out/<store stem>/<file stem> with a --db other than the default].")
@click.option("--force", is_flag=True,
              help="Replace the files in --out even when they are another store's run's.")
@click.option("--patients", type=click.IntRange(min=1), help="Override the number of patients.")
@click.option("--backend", type=click.Choice(["native", "scipy", "roadrunner"]),
              help="Override the backend.")
@click.option("--no-plots", is_flag=True, help="Do not draw the figures.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Run chunks on a local Dask cluster of this many worker processes "
                   f"(below {DASK_MIN_PATIENTS_PER_WORKER} patients per worker the trial runs "
                   "serially, with a notice: "
                   "the cluster's start-up would cost more than it saves).")
@click.option("--scheduler", metavar="ADDRESS", help="Run on an existing Dask scheduler.")
def trial_command(trial_file: Path, db: Path, out_dir: Path | None, force: bool,
                  patients: int | None,
                  backend: str | None, no_plots: bool, workers: int | None,
                  scheduler: str | None) -> None:
    """Run a virtual trial; print its summary, store it, draw its figures."""
    import dataclasses

    from il2sim.config.trial import load_trial_file
    from il2sim.model import get_model
    from il2sim.store import ResultStore
    from il2sim.trial.arms import MultiArmTrial
    from il2sim.trial.runner import open_run, stream_trial
    from il2sim.trial.stored import load_stored_trial

    if not trial_file.is_file():
        raise ConfigError(str(trial_file), None, "no such file")
    spec = load_trial_file(trial_file)
    target = out_dir or _trial_folder(trial_file, db)
    if not no_plots:
        from il2sim.trial.outputs import check_folder

        check_folder(target, db, force=force)
    if isinstance(spec, MultiArmTrial):
        _multi_arm_trial(spec, trial_file, db, target, patients, backend, no_plots,
                         workers, scheduler)
        return
    changes: dict[str, Any] = {}
    if patients is not None:
        spec = spec.resized(patients)
    if backend is not None:
        changes["backend"] = backend
    spec = dataclasses.replace(spec, **changes) if changes else spec
    progress = _progress()
    task = progress.add_task(f"trial: {spec.name}", total=spec.n_patients)
    with _dask(workers, scheduler, spec.n_patients) as client, ResultStore(db) as store:
        _say_resuming(store, open_run(store, spec, get_model(spec.model)))
        with progress:
            run_id = stream_trial(spec, store, client=client,
                                  progress=lambda k: progress.advance(task, k))
        stored = load_stored_trial(store, run_id)
    out = _console()
    out.print(_frame_table(stored.summary(), f"{spec.name} (seed {spec.seed})"))
    out.print(f"stored in {db}")
    if not no_plots:
        written = stored.write(target)
        out.print(_wrote(written, target, run_id, db), soft_wrap=True, markup=False)


def _trial_folder(trial_file: Path, db: Path) -> Path:
    """The default output folder of a trial: ``out/<file stem>`` for the default store,
    ``out/<store stem>/<file stem>`` for another, so that runs into two stores do not write
    over each other's files."""
    if db.resolve() == DEFAULT_DB.resolve():
        return Path("out") / trial_file.stem
    return Path("out") / db.stem / trial_file.stem


def _wrote(written: list[Path], target: Path, run_id: str, db: Path) -> str:
    """Mark ``target`` as the run's folder; what was written there, and whose files it
    replaced."""
    from il2sim.trial.outputs import mark_folder

    replaced = mark_folder(target, run_id, db)
    return (f"wrote {len(written)} files to {target}/"
            + (f" (replacing those of {replaced})" if replaced else ""))


def _say_resuming(store: ResultStore, run_id: str, arm: str = "") -> None:
    """One line on stderr when a run is found in the store: resumed, or already complete
    (``arm``: a prefix naming a multi-arm trial's arm)."""
    run = store.run(run_id)
    done, total = int(run["patients_done"]), int(run["n_patients"])
    if run["status"] == "done":
        click.echo(f"{arm}run {run_id} is already stored ({done} of {total} patients): not "
                   "recomputed", err=True)
    elif done > 0:
        click.echo(f"{arm}resuming run {run_id}: {done} of {total} patients already stored",
                   err=True)


def _multi_arm_trial(trial: Any, trial_file: Path, db: Path, out_dir: Path | None,
                     patients: int | None, backend: str | None, no_plots: bool,
                     workers: int | None, scheduler: str | None) -> None:
    """``il2sim trial`` on a multi-arm file: every arm, side by side, and the comparisons."""
    import pandas as pd

    from il2sim.model import get_model
    from il2sim.store import ResultStore
    from il2sim.trial.arms import MultiArmTrial, run_arms
    from il2sim.trial.runner import open_run
    from il2sim.trial.stored import load_stored_trial

    assert isinstance(trial, MultiArmTrial)
    if patients is not None:
        with _at("<command line>", "--patients"):
            trial = trial.resized(patients)
    if backend is not None:
        trial = trial.with_arms(backend=backend)
    progress = _progress()
    task = progress.add_task(f"trial: {trial.name}", total=trial.n_treated)
    with _dask(workers, scheduler, trial.n_treated) as client, ResultStore(db) as store:
        for arm in trial.arms:
            _say_resuming(store, open_run(store, arm, get_model(arm.model)), f"arm {arm.arm}: ")
        with progress:
            result = run_arms(trial, store, client=client,
                              progress=lambda k: progress.advance(task, k))
        target = out_dir or _trial_folder(trial_file, db)
        written: list[Path] = []
        values: list[pd.DataFrame] = []  # summary.csv: each arm's numbers
        if not no_plots:
            for spec in trial.arms:
                stored = load_stored_trial(store, result.arm_runs[spec.arm])
                written += stored.write(target / spec.arm)
                numbers = stored.summary_values()
                values.append(numbers.assign(**{str(numbers.columns[0]): spec.arm}))
    out = _console()
    labels = ", ".join(f"{a.arm} = {label}" for a, label in zip(trial.arms, trial.labels))
    out.print(_frame_table(result.summary, f"{trial.name} ({trial.design}, seed "
                                           f"{trial.seed}): {labels}"))
    out.print(_frame_table(result.comparison_table(), f"comparisons with {trial.control}"))
    out.print(f"stored in {db} (trial {result.run_id}; arms "
              + ", ".join(f"{k} {v}" for k, v in result.arm_runs.items()) + ")")
    if not no_plots:
        from il2sim.trial.comparison import plot_forest
        from il2sim.trial.hiv import is_hiv
        from il2sim.trial.plots import plot_km

        target.mkdir(parents=True, exist_ok=True)
        pd.concat(values, ignore_index=True).to_csv(target / "summary.csv", index=False)
        result.comparisons.to_csv(target / "comparisons.csv", index=False)
        names = ["summary.csv", "comparisons.csv"]
        if is_hiv(result.endpoints):  # the CD4 count by arm, drawn with the trial's record
            from il2sim.store import ResultStore
            from il2sim.trial.arms import COMPARISON_KIND, COMPARISON_NAME

            with ResultStore(db, read_only=True) as store:
                record = store.load_analysis(result.run_id, COMPARISON_KIND, COMPARISON_NAME)
            (target / "cd4.png").write_bytes(record.figures["cd4"])
            names.append("cd4.png")
        else:
            plot_km(result.endpoints, by="arm", path=target / "kaplan_meier.png")
            plot_forest(result.comparisons, path=target / "forest.png")
            names += ["kaplan_meier.png", "forest.png"]
        written += [target / n for n in names]
        out.print(_wrote(written, target, result.run_id, db), soft_wrap=True, markup=False)


@cli.command("results")
@click.argument("run_id", required=False)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
              show_default=True)
@click.option("--query", "sql", metavar="SQL", help="A SELECT over runs, patients, doses, "
              "scans (tumour trials), visits (HIV trials), endpoints.")
@click.option("--format", "fmt", type=click.Choice(TABLE_FORMATS),
              help="Write the query's rows whole in this format (to standard output, or to "
                   "--output) instead of a table on the terminal.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the query's rows to this file (format from --format or the "
                   "file's suffix: .csv, .parquet, .json).")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the run's tables as Parquet files to this directory.")
def results_command(run_id: str | None, db: Path, sql: str | None, fmt: str | None,
                    output: Path | None, export_dir: Path | None) -> None:
    """List stored runs, show one run's summary, query (as a table, CSV, Parquet or JSON),
    or export to Parquet."""
    from il2sim.store import ResultStore, partial_warning

    if sql is None and (fmt is not None or output is not None):
        raise ConfigError("<command line>", "--format" if fmt else "--output",
                          "goes with --query")
    _require_store(db)
    out = _console()
    with ResultStore(db, read_only=True) as store:
        if sql is not None and (fmt is not None or output is not None):
            _query_to_file(store, sql, fmt, output)
        elif sql is not None:
            frame = store.query(sql)
            out.print(_frame_table(frame, "query"))
            if frame.shape[1] > QUERY_TABLE_COLUMNS or len(frame) > QUERY_TABLE_ROWS:
                click.echo(f"{len(frame)} rows x {frame.shape[1]} columns: --format csv "
                           "(or parquet, json) and --output FILE write them whole", err=True)
        elif run_id is None:
            runs = store.runs()
            cols = [c for c in ("run_id", "name", "model", "seed", "n_patients",
                                "patients_done", "status", "created") if c in runs]
            out.print(_frame_table(runs[cols], f"runs in {db}"))
            for _, row in runs[runs["status"] == "interrupted"].iterrows():
                click.echo(f"warning: run {row['run_id']}: {partial_warning(row.to_dict())}",
                           err=True)
        else:
            warning = partial_warning(store.run(run_id))
            if warning is not None:
                click.echo(f"warning: run {run_id}: {warning}", err=True)
            endpoints = store.table(run_id, "endpoints")
            doses = store.table(run_id, "doses")
            if not endpoints.empty:  # an analysis run has no patients
                from il2sim.trial.hiv import hiv_summary, is_hiv
                from il2sim.trial.statistics import summary_table

                table = hiv_summary(endpoints) if is_hiv(endpoints) else \
                    summary_table(endpoints, doses)
                out.print(_frame_table(table, f"run {run_id}"))
            analyses = store.analyses(run_id)
            if not analyses.empty:
                out.print(_frame_table(analyses[["kind", "name", "created", "tables",
                                                 "figures"]], f"analyses of run {run_id}"))
            if export_dir is not None:
                for path in store.export_parquet(run_id, export_dir):
                    out.print(f"wrote {path}")


QUERY_TABLE_COLUMNS = 12
QUERY_TABLE_ROWS = 100
"""Beyond this many columns or rows a query's terminal table points to --format/--output."""


def _query_to_file(store: ResultStore, sql: str, fmt: str | None, output: Path | None) -> None:
    """``il2sim results --query`` with --format or --output: DuckDB writes the rows whole
    (to standard output through a temporary file when there is no --output)."""
    import shutil
    import sys
    import tempfile

    if fmt is None:
        assert output is not None
        fmt = output.suffix.lstrip(".").lower()
        if fmt not in TABLE_FORMATS:
            raise ConfigError("<command line>", "--output", f"{output}: give --format, or a "
                              f"file ending in .{', .'.join(TABLE_FORMATS)}")
    if output is not None:
        n = store.export_query(sql, output, cast(TableFormat, fmt))
        click.echo(f"wrote {output} ({n} rows, {fmt})", err=True)
        return
    if fmt == "parquet":
        raise ConfigError("<command line>", "--format", "parquet is binary: give --output FILE")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"query.{fmt}"
        store.export_query(sql, path, cast(TableFormat, fmt))
        with path.open(encoding="utf-8") as text:
            shutil.copyfileobj(text, sys.stdout)


def _frame_table(frame: pd.DataFrame, title: str) -> Table:
    import pandas as pd
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    index = frame.index.name or ""
    show_index = not isinstance(frame.index, pd.RangeIndex)
    if show_index:
        table.add_column(str(index))
    for col in frame.columns:
        table.add_column(str(col))
    for idx, row in frame.iterrows():
        cells = [str(v) for v in row.to_numpy()]
        table.add_row(*([str(idx)] if show_index else []), *cells)
    return table



# --------------------------------------------------------------------------- analyses


def _range(text: str) -> tuple[str, float, float]:
    """``name=low:high`` -> (name, low, high)."""
    name, sep, bounds = text.partition("=")
    low, colon, high = bounds.partition(":")
    try:
        if not (sep and colon and name.strip()):
            raise ValueError
        lo, hi = float(low), float(high)
    except ValueError:
        raise ConfigError("<command line>", "--param",
                          f"{text!r}: write name=low:high, e.g. k10=0.03:0.06") from None
    if not lo < hi:
        raise ConfigError("<command line>", "--param", f"{text!r}: low must be below high")
    return name.strip(), lo, hi


def _ceiling(text: str) -> tuple[str, float]:
    """``metric=value`` -> (metric, value), a toxicity ceiling of ``il2sim optimize``."""
    name, sep, value = text.partition("=")
    try:
        if not (sep and name.strip()):
            raise ValueError
        ceiling = float(value)
    except ValueError:
        raise ConfigError("<command line>", "--max",
                          f"{text!r}: write metric=fraction, e.g. hypotension_g34=0.3") from None
    return name.strip(), ceiling


def _analysis_store(db: Path, run_id: str | None, no_store: bool) -> None:
    """Check the storing options of an analysis command before any work is done."""
    if no_store and run_id is not None:
        raise ConfigError("<command line>", "--run", "--run attaches the results to a stored "
                          "run; it cannot go with --no-store")
    if run_id is not None:
        from il2sim.store import ResultStore, StoreError

        _require_store(db)
        with ResultStore(db, read_only=True) as store:
            if run_id not in set(store.runs()["run_id"]):
                raise StoreError(f"{db}: run {run_id!r}: unknown run id")


_STORE_OPTIONS = (
    click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
                 show_default=True, help="DuckDB result store the results are saved in."),
    click.option("--run", "run_id", metavar="RUN",
                 help="Attach the results to this stored run [default: a new analysis run]."),
    click.option("--no-store", is_flag=True, help="Do not save the results in --db."),
)


def _store_options(func: Any) -> Any:
    for option in reversed(_STORE_OPTIONS):
        func = option(func)
    return func


@cli.command("sensitivity")
@click.argument("scenario_file", metavar="SCENARIO.toml",
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", "ranges", metavar="NAME=LOW:HIGH", multiple=True, required=True,
              help="A parameter or covariate (weight, height, bsa) and its range (uniform); "
                   "repeat for each input.")
@click.option("--output", "output_name", required=True,
              help="State or observable to analyse, e.g. C_plasma or sbp; with --trial a "
                   "per-patient trial output, e.g. best_change_pct, sbp_min, held_fraction.")
@click.option("--reduce", "reducer", type=click.Choice(["max", "min", "final", "auc"]),
              default="max", show_default=True)
@click.option("--trial", "is_trial", is_flag=True,
              help="The file is a trial (TRIAL.toml): each sample is one virtual patient "
                   "treated under its protocol and scored as in the trial.")
@click.option("--method", type=click.Choice(["sobol", "morris"]), default="sobol",
              show_default=True)
@click.option("--n", "n_base", type=int, default=256, show_default=True,
              help="Sobol base sample (a power of 2) or Morris trajectories.")
@click.option("--convergence", is_flag=True,
              help="Sobol: also estimate at N/2 and report how much the indices moved.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--backend", type=click.Choice(["native", "scipy", "roadrunner"]), default="native",
              show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True, help="Where the table and plot go.")
@_store_options
def sensitivity_command(scenario_file: Path, ranges: tuple[str, ...], output_name: str,
                        reducer: str, is_trial: bool, method: str, n_base: int,
                        convergence: bool, seed: int, backend: str, out_dir: Path, db: Path,
                        run_id: str | None, no_store: bool) -> None:
    """Global sensitivity (Sobol or Morris, SALib) of a scenario's or trial's output."""
    import dataclasses

    import numpy as np

    from il2sim.analysis.sensitivity import (
        Func,
        Problem,
        convergence_change,
        model_output,
        morris,
        plot_sensitivity,
        sobol,
        sobol_convergence,
        trial_output,
    )
    from il2sim.config.scenario import read_toml, scenario_from_dict

    if not scenario_file.is_file():
        raise ConfigError(str(scenario_file), None, "no such file")
    if convergence and (method != "sobol" or n_base < 4):
        raise ConfigError("<command line>", "--convergence", "needs --method sobol and "
                          "--n of at least 4")
    _analysis_store(db, run_id, no_store)
    parsed = [_range(r) for r in ranges]
    problem = Problem(tuple(n for n, _, _ in parsed), tuple((lo, hi) for _, lo, hi in parsed))
    moved: pd.DataFrame | None = None
    progress = _progress()
    d = problem.num_vars
    task = progress.add_task(f"{method}: {scenario_file.stem}",
                             total=n_base * (d + 2 if method == "sobol" else d + 1))

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    with _at(str(scenario_file)):
        func: Func
        if is_trial:
            from il2sim.config.trial import load_trial

            spec = dataclasses.replace(load_trial(scenario_file), backend=backend)
            func = trial_output(spec, output_name, params_names=problem.names)
            model_name, name, what = spec.model, spec.name, output_name
        else:
            scenario = scenario_from_dict(read_toml(scenario_file), source=str(scenario_file),
                                          name=scenario_file.stem)
            covariates = {k: float(np.atleast_1d(v)[0]) for k, v in scenario.covariates.items()
                          if k not in problem.names}
            func = model_output(scenario.model, scenario.regimen, output_name, reducer,
                                params_names=problem.names, times=scenario.times,
                                covariates=covariates or None, backend=backend)
            model_name, name = scenario.model.name, scenario.name
            what = f"{reducer}({output_name})"
        with progress:
            if method == "sobol" and convergence:
                moved = sobol_convergence(func, problem, (n_base // 2, n_base), seed=seed,
                                          progress=advance)
                frame = moved[moved["n"] == n_base].set_index("input").drop(columns="n")
                frame.attrs.update(n=n_base, method="sobol")
            elif method == "sobol":
                frame = sobol(func, problem, n=n_base, seed=seed, progress=advance)
            else:
                frame = morris(func, problem, trajectories=n_base, seed=seed,
                               progress=advance)
    index = "ST" if method == "sobol" else "mu_star"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{scenario_file.stem}_{method}_{output_name}"
    frame.to_csv(out_dir / f"{stem}.csv")
    plot_sensitivity(frame, index=index, path=out_dir / f"{stem}.png")
    out = _console()
    out.print(_frame_table(frame.round(4), f"{method} indices of {what}"))
    if moved is not None:
        change = convergence_change(moved, n_base)
        out.print(_frame_table(change.round(4), f"convergence: N = {n_base // 2} -> {n_base}"))
    out.print(f"wrote {out_dir / stem}.csv and .png")
    if not no_store:
        from il2sim.analysis.stored import save_sensitivity
        from il2sim.store import ResultStore

        params = {"file": str(scenario_file), "trial": is_trial, "model": model_name,
                  "output": output_name, "reduce": None if is_trial else reducer,
                  "method": method, "n": n_base, "seed": seed, "backend": backend,
                  "inputs": {n: [lo, hi] for n, lo, hi in parsed}}
        tables = None if moved is None else convergence_change(moved, n_base)
        with ResultStore(db) as store:
            stored = save_sensitivity(store, frame, name=f"{method} of {what}, {name}",
                                      params=params, index=index, convergence=tables,
                                      run_id=run_id, model=model_name)
        out.print(f"stored with run {stored} in {db}")


@cli.command("biomarkers")
@click.argument("run_id")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
              show_default=True)
@click.option("--model", "classifier", type=click.Choice(["logistic", "forest"]),
              default="logistic", show_default=True)
@click.option("--on-treatment", "on_treatment", metavar="COLUMN", multiple=True,
              help="An early on-treatment marker (e.g. sbp_min, creatinine_max); with any, "
                   "baseline markers are compared with baseline plus these.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the figures [default: the trial's output folder, else "
                   "out/<run id>].")
@click.option("--no-store", is_flag=True, help="Do not save the results with the run.")
def biomarkers_command(run_id: str, db: Path, classifier: str, on_treatment: tuple[str, ...],
                       seed: int, out_dir: Path | None, no_store: bool) -> None:
    """Which baseline features predict response in a stored trial (cross-validated AUC)."""
    import dataclasses
    from collections.abc import Callable

    from il2sim.analysis.biomarkers import (
        biomarker_analysis,
        compare_feature_sets,
        feature_label,
        labelled,
        plot_importance,
        plot_roc,
        trial_features,
    )
    from il2sim.model import get_model
    from il2sim.store import ResultStore

    _require_store(db)
    with ResultStore(db, read_only=True) as store:
        patients = store.table(run_id, "patients")
        endpoints = store.table(run_id, "endpoints")
        run_model = get_model(str(store.run(run_id)["model"]))
    drop = [c for c in ("run_id", "initial_T", "initial_T_r", "baseline_sod_mm") if c in patients]
    model: Any = "forest" if classifier == "forest" else "logistic"
    progress = _progress()
    # classifier fits: the baseline analysis, then both feature sets of the comparison
    analyses = 3 if on_treatment else 1
    task = progress.add_task(f"biomarkers: {run_id}", total=None)

    def advance(first: int) -> Callable[[int, int], None]:
        def update(done: int, total: int) -> None:  # total: fits of the call's analyses
            each = total // (1 if first == 0 else 2)
            progress.update(task, completed=first * each + done, total=analyses * each)
        return update

    comparison = None
    with _at(str(db), run_id):
        features, response = trial_features(patients.drop(columns=drop), endpoints)
        with progress:
            result = biomarker_analysis(features, response, seed=seed, model=model,
                                        progress=advance(0))
            if on_treatment:
                both, _ = trial_features(patients.drop(columns=drop), endpoints,
                                         baseline=list(features.columns),
                                         on_treatment=list(on_treatment))
                comparison = compare_feature_sets(
                    {"baseline": features, "baseline + on-treatment": both}, response,
                    seed=seed, model=model, progress=advance(1))
    result = dataclasses.replace(result, importances=labelled(result.importances, run_model))
    from il2sim.trial.outputs import run_folder

    out_dir = out_dir or run_folder(run_id, db) or Path("out") / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_roc(result, path=out_dir / f"{run_id}_roc.png")
    plot_importance(result, path=out_dir / f"{run_id}_importance.png")
    out = _console()
    out.print(f"AUC {result.auc:.3f} (95% CI {result.auc_low:.3f}-{result.auc_high:.3f}), "
              f"permutation p = {result.p_value:.3g}, {result.n_responders} responders of "
              f"{result.n_patients}")
    out.print(_frame_table(result.importances.head(10).round(3), "most predictive features"))
    if comparison is not None:
        comparison = comparison.assign(top_feature=[
            feature_label(str(f), run_model) for f in comparison["top_feature"]])
        cols = ["n_features", "auc_ci", "delta_auc", "delta_low", "delta_high", "top_feature"]
        out.print(_frame_table(comparison[cols].round(3), "baseline against on-treatment"))
    out.print(f"wrote {out_dir / run_id}_roc.png and _importance.png")
    if not no_store:
        from il2sim.analysis.stored import save_biomarkers

        name = f"{model} response" + (" (with on-treatment markers)" if on_treatment else "")
        params = {"classifier": model, "on_treatment": list(on_treatment),
                  "features": list(features.columns)}
        with ResultStore(db) as store:
            save_biomarkers(store, run_id, result, name=name, params=params,
                            comparison=comparison)
        out.print(f"stored with run {run_id} in {db}")


@cli.command("report")
@click.argument("run_id")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file [default: <run id>.html].")
@click.option("--pdf", is_flag=True,
              help="Also print it to PDF (same name, .pdf) with a headless Chromium.")
def report_command(run_id: str, db: Path, output: Path | None, pdf: bool) -> None:
    """Write one self-contained HTML report of a stored run, with its stored analyses."""
    from il2sim.analysis.report import write_pdf, write_report
    from il2sim.store import ResultStore

    _require_store(db)
    with ResultStore(db, read_only=True) as store:
        with _at(str(db)):
            path = write_report(store, run_id, output or Path(f"{run_id}.html"))
        n = len(store.analyses(run_id))
    _console().print(f"wrote {path}" + (f" ({n} stored analyses)" if n else ""))
    if pdf:
        _console().print(f"wrote {write_pdf(path, path.with_suffix('.pdf'))}")


@cli.command("validate")
@click.argument("trial_ids", metavar="[TRIAL]...", nargs=-1)
@click.option("--replicates", type=click.IntRange(min=1), default=40, show_default=True,
              help="Simulated trials per arm, each at the published size (40 or more for a "
                   "95% prediction interval).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
              show_default=True, help="DuckDB file the simulations and the scores are stored "
                                      "in (and resumed from).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("validation.html"), show_default=True, help="The HTML report.")
@click.option("--pdf", is_flag=True, help="Also print the report to PDF with a headless "
                                          "Chromium.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Run on a local Dask cluster of this many worker processes.")
@click.option("--scheduler", metavar="ADDRESS", help="Run on an existing Dask scheduler.")
def validate_command(trial_ids: tuple[str, ...], replicates: int, db: Path, output: Path,
                     pdf: bool, workers: int | None, scheduler: str | None) -> None:
    """Run the published trials (all, or those named: c1, c5, ...) and score the model.

    Each observed endpoint is compared with the model's 95% prediction interval over
    replicate virtual trials of the published size; prints the scorecard and the misses,
    stores everything and writes the report.
    """
    import pandas as pd

    from il2sim.analysis.report import write_pdf
    from il2sim.store import ResultStore
    from il2sim.validation.atlas import atlas
    from il2sim.validation.report import endpoint_rows, write_validation_report
    from il2sim.validation.run import validate
    from il2sim.validation.stored import save_validation

    trials = atlas(trial_ids)
    progress = _progress()
    task = progress.add_task("validation", total=None)
    with _dask(workers, scheduler) as client, ResultStore(db) as store:
        with progress:
            result = validate(trials, store, replicates=replicates, client=client,
                              progress=lambda done, total: progress.update(
                                  task, completed=done, total=total))
        run_id = save_validation(store, result, trials)
    out = _console()
    card = result.scorecard_shown()
    out.print(_frame_table(pd.DataFrame({
        "trial": card["short"], "compatible": [f"{c} of {n}" for c, n in zip(
            card["compatible"], card["outcomes"])], "not simulated": card["not_simulated"]}),
        f"validation: {replicates} replicate trials per arm"))
    rows = endpoint_rows(result.scores)
    misses = rows[rows["verdict"] != "compatible"]
    if len(misses):
        out.print(_frame_table(misses.assign(verdict=[
            f"{v}: {r}" if r else v for v, r in zip(misses["verdict"], misses["reason"])])
            .drop(columns="reason").reset_index(drop=True), "endpoints the model misses"))
    out.print(f"stored in {db} (run {run_id})")
    path = write_validation_report(result, trials, output)
    out.print(f"wrote {path}")
    if pdf:
        out.print(f"wrote {write_pdf(path, path.with_suffix('.pdf'))}")


@cli.command("optimize")
@click.option("--indication", type=click.Choice(["rcc", "melanoma"]), default="rcc",
              show_default=True, help="Calibrated virtual population.")
@click.option("--patients", type=click.IntRange(min=10), default=100, show_default=True)
@click.option("--candidates", type=click.IntRange(min=1), default=16, show_default=True,
              help="Regimens drawn from the search space (the label regimen is added); with "
                   "--method de, the most regimens simulated.")
@click.option("--method", type=click.Choice(["sobol", "lhs", "de"]), default="sobol",
              show_default=True,
              help="Search: scrambled Sobol' points, a Latin hypercube, or differential "
                   "evolution (SciPy) under the ceilings.")
@click.option("--route", "routes", type=click.Choice(["iv", "iv_bolus", "sc", "it"]),
              multiple=True, help="Routes searched (repeat) [default: iv].")
@click.option("--ifn", "ifn_miu", type=click.FloatRange(0, 50), multiple=True,
              help="Interferon-alpha doses to try, MIU SC three times a week (repeat; 0: "
                   "none) [default: 0].")
@click.option("--holds/--no-holds", default=False, show_default=True,
              help="Apply the label's hold rules to every candidate.")
@click.option("--efficacy", type=click.Choice(["orr", "cr", "dor_median"]), default="orr",
              show_default=True)
@click.option("--toxicity", type=click.Choice(["hypotension", "hypotension_g34", "trd",
                                               "held"]),
              default="hypotension", show_default=True, help="Toxicity axis of the front.")
@click.option("--max-hypotension", type=click.FloatRange(0, 1), default=None,
              help="Toxicity ceiling: fraction with SBP < 90 mmHg [default: 0.6 when no "
                   "--max is given].")
@click.option("--max", "ceilings", metavar="METRIC=FRACTION", multiple=True,
              help="A toxicity ceiling, e.g. hypotension_g34=0.3, held=0.3, trd=0.05.")
@click.option("--horizon-days", type=click.FloatRange(min=30), default=365.0, show_default=True)
@click.option("--refine", type=click.IntRange(min=0), default=0, show_default=True,
              help="Refinement rounds: each draws --candidates more in a box half as wide "
                   "around the best feasible one.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True)
@_store_options
def optimize_command(indication: str, patients: int, candidates: int, method: str,
                     routes: tuple[str, ...],
                     ifn_miu: tuple[float, ...], holds: bool, efficacy: str, toxicity: str,
                     max_hypotension: float | None, ceilings: tuple[str, ...],
                     horizon_days: float, refine: int, seed: int, out_dir: Path, db: Path,
                     run_id: str | None, no_store: bool) -> None:
    """Search regimens for the best efficacy under toxicity ceilings (Pareto front)."""
    from il2sim.analysis.optimize import (
        SearchSpace,
        for_file,
        format_metric,
        in_units,
        optimize,
        plot_pareto,
    )
    from il2sim.trial.calibrated import calibrated_mortality, calibrated_population

    constraints = dict(_ceiling(text) for text in ceilings)
    if max_hypotension is not None or not constraints:
        constraints["hypotension"] = 0.6 if max_hypotension is None else max_hypotension
    _analysis_store(db, run_id, no_store)
    if method == "de" and refine:
        raise ConfigError("<command line>", "--refine", "is for --method sobol or lhs; "
                          "differential evolution spends the whole --candidates budget itself")
    with _at("<command line>"):
        space = SearchSpace(routes=routes or ("iv",), ifn_miu=ifn_miu or (0.0,))
    progress = _progress()
    task = progress.add_task(f"regimens ({method})", total=(refine + 1) * candidates + 1)
    with _at("<command line>"), progress:
        result = optimize(space, population=calibrated_population(indication),
                          n_patients=patients, seed=seed, n_candidates=candidates,
                          efficacy=efficacy, toxicity=toxicity, constraints=constraints,
                          holds=holds, horizon_days=horizon_days, refine=refine,
                          method=method,
                          mortality=calibrated_mortality(indication),
                          progress=lambda done, total, c: progress.update(
                              task, completed=done, total=total))
    out_dir.mkdir(parents=True, exist_ok=True)
    table = result.table.drop(columns=["candidate"])
    replacing = (out_dir / f"optimize_{indication}.csv").exists()  # said, not silent
    for_file(table).to_csv(out_dir / f"optimize_{indication}.csv", index=False)
    plot_pareto(result.table, path=out_dir / f"optimize_{indication}.png",
                efficacy=efficacy, toxicity=toxicity, max_toxicity=result.max_toxicity)
    cols = [c for c in ("name", efficacy, "orr", "cr", toxicity, "hypotension",
                        "hypotension_g34", "held", "trd", "feasible") if c in table]
    cols = list(dict.fromkeys(cols))
    out = _console()
    out.print(_frame_table(in_units(result.front[cols].reset_index(drop=True)),
                           f"Pareto front ({efficacy} against {toxicity})"))
    label = result.label
    place = "on the front" if bool(label["pareto"]) else (
        f"off the front, dominated by {len(result.dominating_label)}")
    out.print(f"label regimen: {efficacy} {format_metric(efficacy, label[efficacy])}, "
              f"{toxicity} {format_metric(toxicity, label[toxicity])}, {place}")
    limits = ", ".join(f"{k} <= {format_metric(k, v)}" for k, v in result.constraints.items())
    if result.best is not None:
        out.print(f"best with {limits}: {result.best.name}")
    else:
        out.print(f"no candidate meets {limits}")
    out.print(f"wrote {out_dir}/optimize_{indication}.csv and .png"
              + (" (replacing the earlier ones)" if replacing else ""))
    if not no_store:
        from il2sim.analysis.stored import save_optimization
        from il2sim.store import ResultStore

        params = {"indication": indication, "n_patients": patients, "seed": seed,
                  "n_candidates": candidates, "space": space.as_dict(), "holds": holds,
                  "horizon_days": horizon_days, "refine": refine, "method": method,
                  "evaluated": len(result.table)}
        with ResultStore(db) as store:
            stored = save_optimization(store, result, name=f"optimize {indication}",
                                       params=params, run_id=run_id)
        out.print(f"stored with run {stored} in {db}")


@cli.command("serve")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
              show_default=True, help="DuckDB result store (created when missing).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (loopback by default: only this machine).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--examples", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of example trial files [default: examples/trials].")
@click.option("--max-patients", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Largest trial the server accepts.")
def serve_command(db: Path, host: str, port: int, examples: Path | None,
                  max_patients: int) -> None:
    """Start the web app: models, scenarios, background trials, stored results."""
    from il2sim.web import serve

    if host not in ("127.0.0.1", "localhost", "::1"):
        _console(stderr=True).print(f"warning: listening on {host}: anyone who can reach it "
                                    "can run simulations and read the store")
    _console().print(f"il2sim web on http://{'localhost' if host == '127.0.0.1' else host}"
                     f":{port}/ (store {db}); Ctrl-C to stop")
    serve(db, host=host, port=port, examples=examples, max_patients=max_patients)


if __name__ == "__main__":  # pragma: no cover
    main()
