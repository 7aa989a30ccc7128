"""AMICI (CVODES on a model compiled to C++) as a peer of W1 in ``benchmarks/run.py``.

Optional: ``benchmarks/requirements-amici.txt`` (its header has the pip command) builds AMICI
from source (a C++ compiler is needed; its BLAS, SUNDIALS and SuiteSparse come with it).
Without it :func:`unavailable` says why and ``run.py`` skips the AMICI rows.

AMICI [Froehlich et al., Bioinformatics 37:3676 (2021), doi:10.1093/bioinformatics/btab227]
imports il2sim's SBML export of ``kp1998`` with its SBML importer (the antigenicity ``c`` a
fixed parameter, set per simulation in an ``ExpData``; no sensitivity code), generates C++
and compiles it into a Python extension (CMake finds the ``swig`` and ``cmake`` of the
requirements file in this Python's scripts folder, put first on PATH for the build). The
build is cached under the system temp folder, keyed by the AMICI version and the SBML's
hash; its time is reported apart from the simulation time. One batch: an ``ExpData`` per
antigenicity (output times, ``c``), then ``run_simulations`` over them (OpenMP threads over
simulations, ``num_threads``), then the states stacked in il2sim's order (E, T, IL).
CVODES integrates the natural (not log) states with a scalar rtol and atol.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sysconfig
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

PEER = "AMICI (CVODES, C++)"
STATES = ("E", "T", "IL")  # il2sim's state order of kp1998
MAX_STEPS = 500_000  # as the libRoadRunner rows (rr_pool.rr_configure)


def unavailable() -> str | None:
    """None when AMICI with its compiled extension imports; otherwise the reason."""
    if find_spec("amici") is None:
        return "amici is not installed (optional: see benchmarks/requirements-amici.txt)"
    try:
        from amici.sim import sundials
    except Exception as exc:  # a broken build is reported, not raised
        return f"amici does not import: {exc}"
    if not sundials.has_clibs:
        return "amici was installed without its C++ extension"
    return None


def load(sbml: str, cache: Path | None = None) -> tuple[Any, float, str]:
    """The compiled AMICI model of ``sbml``: (model, build seconds, note). A cached build
    is imported; its seconds are those of the build that made it."""
    import amici
    from amici.sim.sundials import compiled_with_openmp

    digest = hashlib.sha256(sbml.encode()).hexdigest()[:12]
    name = f"kp1998_{digest}"
    root = (cache or Path(tempfile.gettempdir()) / "il2sim-amici") / amici.__version__ / name
    marker = root / "build.json"
    if marker.is_file():
        seconds = float(json.loads(marker.read_text())["seconds"])
        model = amici.import_model_module(name, root).get_model()
        how = "cached build"
    else:
        path = os.environ.get("PATH", "")
        os.environ["PATH"] = os.pathsep.join([sysconfig.get_path("scripts"), path])
        try:
            start = time.perf_counter()
            importer = amici.SbmlImporter(sbml, from_file=False)
            model = importer.sbml2amici(name, root, fixed_parameters=["c"],
                                        generate_sensitivity_code=False)
            seconds = time.perf_counter() - start
        finally:
            os.environ["PATH"] = path
        marker.write_text(json.dumps({"seconds": seconds, "amici": amici.__version__}))
        how = "built now"
    ids = list(model.get_state_ids())
    if sorted(ids) != sorted(STATES) or list(model.get_fixed_parameter_ids()) != ["c"]:
        raise ValueError(f"{root}: AMICI model has states {ids} and fixed parameters "
                         f"{list(model.get_fixed_parameter_ids())}; expected {STATES}, ['c']")
    # failures are counted from each result's status; AMICI would also log every CVODES
    # message of every simulation (thousands of lines for one that fails)
    logging.getLogger("amici.sim.sundials._swig_wrappers").setLevel(logging.CRITICAL)
    omp = "OpenMP" if compiled_with_openmp() else "no OpenMP (threads > 1 run serially)"
    note = (f"AMICI {amici.__version__}, {omp}; SBML import + C++ build {seconds:.0f} s "
            f"({how}, not in the per-simulation time)")
    return model, seconds, note


class Batch(NamedTuple):
    """One batch: states ``(N, len(times), 3)`` in il2sim's order (NaN where AMICI failed),
    the failures, the seconds in all and inside ``run_simulations`` (the rest: ``ExpData``
    set-up and reading ``ReturnDataView.x``), and AMICI's results."""

    states: Array
    failed: int
    seconds: float
    run_seconds: float
    results: list[Any]


def simulate(model: Any, cs: Array, times: Array, rtol: float, atol: float,
             threads: int) -> Batch:
    """AMICI on one antigenicity ``c`` per simulation, ``threads`` OpenMP threads."""
    from amici.sim import sundials

    begin = time.perf_counter()
    model.set_timepoints([float(t) for t in times])
    solver = model.create_solver()
    solver.set_relative_tolerance(rtol)
    solver.set_absolute_tolerance(atol)
    solver.set_max_steps(MAX_STEPS)
    edatas = []
    for c in cs:
        edata = sundials.ExpData(model)
        edata.fixed_parameters = [float(c)]
        edatas.append(edata)
    start = time.perf_counter()
    results = sundials.run_simulations(model, solver, edatas, failfast=False,
                                       num_threads=threads)
    run_seconds = time.perf_counter() - start
    order = [list(model.get_state_ids()).index(s) for s in STATES]
    out = np.empty((len(cs), len(times), len(STATES)))
    failed = 0
    for i, r in enumerate(results):
        if r.status != sundials.AMICI_SUCCESS:
            out[i] = np.nan
            failed += 1
        else:
            out[i] = np.asarray(r.x)[:, order]
    return Batch(out, failed, time.perf_counter() - begin, run_seconds, results)


def steps_per_simulation(results: list[Any]) -> float:
    """Mean CVODES steps per simulation (``numsteps`` at the last output time)."""
    return float(np.mean([np.asarray(r.numsteps)[-1] for r in results]))
