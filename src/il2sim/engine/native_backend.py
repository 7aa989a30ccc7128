"""Fast batch backend: generated C per model, a Rosenbrock integrator in C, threads over patients.

For each model the right-hand side and analytic Jacobian in internal coordinates
are printed as C (:mod:`il2sim.model.codegen_c`: the same expressions, merged
exponentials, exp cap and common-subexpression elimination as
:mod:`il2sim.model.compile`), joined with the integrator
(:mod:`il2sim.engine.native_rodas`: Rodas5P, Steinebach 2023, or Rodas4, Hairer &
Wanner 1996) and compiled
with ``gcc -O2 -pthread`` into a shared library loaded with :mod:`ctypes`. A
whole segment for all patients is one C call with no Python in the loop (the GIL
is released); the patients are shared out over all cores and each keeps its own
step size. A model with events is integrated patient by patient under the Python event
runner (:meth:`NativeBackend.integrate_to_root`: C steps, roots watched in Python).

Libraries are cached on disk by a content hash (the model's fingerprint,
:func:`il2sim.model.fingerprint.model_fingerprint`, with the generator source and the
integrator's generated C, ``engine/rodas_c/*.c`` included, SymPy version, flags, machine
type) under ``$IL2SIM_CACHE``, else ``$XDG_CACHE_HOME/il2sim``, else ``~/.cache/il2sim``
(subfolder ``native``), and in memory per model object. A cached library is used without
any SymPy work or compiler; building one needs ``gcc`` (or ``$CC``).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from il2sim.cache import cache_dir as shared_cache_dir
from il2sim.engine import sparse_lu
from il2sim.engine.backend import (
    RootFunction,
    RootSegment,
    SegmentOutput,
    SolverFailure,
    first_root,
)
from il2sim.engine.events import EngineError
from il2sim.engine.native_rodas import DEFAULT_METHOD, STATUS_MESSAGES, integrator_c
from il2sim.engine.native_rodas import METHODS as RODAS_METHODS
from il2sim.engine.scipy_backend import METHODS
from il2sim.engine.sparse_lu import sparse_lu_c
from il2sim.model import codegen_c
from il2sim.model import internal as _internal
from il2sim.model.codegen_c import c_source
from il2sim.model.compile import CompiledModel
from il2sim.model.fingerprint import model_fingerprint
from il2sim.model.internal import internal_form
from il2sim.model.spec import Model

__all__ = ["NativeBackend", "NativeBuildError", "NativeLibrary", "NativeStats", "cache_dir",
           "default_threads", "load_library"]

_FLAGS = ("-O2", "-funroll-loops", "-fPIC", "-shared", "-std=gnu11", "-pthread")
_BUILD_VERSION = "4"  # bump to invalidate every cached library

_LIBRARIES: weakref.WeakKeyDictionary[Model, dict[str, NativeLibrary]] = (
    weakref.WeakKeyDictionary())
_LOCK = threading.Lock()

_d = ctypes.c_double
_p = ctypes.c_void_p
_l = ctypes.c_long
_i = ctypes.c_int
_STEP_FN = ctypes.CFUNCTYPE(_i, _d, _d, _d)
"""The step callback of ``il2_integrate_steps``: ``(t, h, t_new) -> stop``."""


class NativeBuildError(EngineError):
    """The native library for a model could not be built (no C compiler, compile error)."""


def cache_dir() -> Path:
    """Where compiled model libraries are kept (``$IL2SIM_CACHE``, else the XDG cache)."""
    return shared_cache_dir("native")


@dataclass(frozen=True, eq=False)
class NativeLibrary:
    """A loaded model library.

    Attributes:
        path: the shared object on disk.
        build_seconds: code generation plus compilation time (0 when loaded from cache).
        n_states, n_params, n_inputs, n_observables: the model's dimensions as compiled.
    """

    path: Path
    handle: ctypes.CDLL
    build_seconds: float
    n_states: int
    n_params: int
    n_inputs: int
    n_observables: int

    def observe(self, t: NDArray[np.float64], x: NDArray[np.float64],
                p: NDArray[np.float64], u: NDArray[np.float64],
                threads: int = 1) -> NDArray[np.float64]:
        """The observables at every output point: ``x`` (n, nt, states) in natural
        coordinates, ``u`` (n, nt, inputs), ``p`` (n, params) or (n, nt, params);
        returns (n, nt, observables). Same values as ``CompiledModel.observe``."""
        n, nt = x.shape[:2]
        t, x, p, u = (np.ascontiguousarray(a, dtype=np.float64) for a in (t, x, p, u))
        if (x.shape[2], u.shape[2], p.shape[-1]) != (self.n_states, self.n_inputs,
                                                     self.n_params) or len(t) != nt:
            raise EngineError("native observe: arrays do not match the model's dimensions")
        out = np.empty((n, nt, self.n_observables))
        self.handle.il2_observe(n, nt, t.ctypes.data, x.ctypes.data, p.ctypes.data,
                                int(p.ndim == 3), u.ctypes.data, out.ctypes.data, threads)
        return out

    def eval(self, t: float, y: NDArray[np.float64], p: NDArray[np.float64],
             u: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Right-hand side and Jacobian in internal coordinates at one point (for tests)."""
        y, p, u = (np.ascontiguousarray(a, dtype=np.float64) for a in (y, p, u))
        f = np.empty(self.n_states)
        jac = np.empty((self.n_states, self.n_states))
        self.handle.il2_eval(float(t), y.ctypes.data, p.ctypes.data, u.ctypes.data,
                             f.ctypes.data, jac.ctypes.data)
        return f, jac

    def linear_solve(self, w: NDArray[np.float64],
                     b: NDArray[np.float64]) -> tuple[NDArray[np.float64], str]:
        """Solve ``w x = b`` as an integrator step does; returns ``x`` and which LU was used
        (``"sparse"``, ``"dense"`` or ``"singular"``). For tests."""
        w = np.ascontiguousarray(w, dtype=np.float64)
        x = np.array(b, dtype=np.float64)
        used = self.handle.il2_linear_solve(w.ctypes.data, x.ctypes.data)
        return x, {1: "sparse", 0: "dense"}.get(int(used), "singular")


def _compiler() -> str:
    cc = os.environ.get("CC", "gcc")
    path = shutil.which(cc)
    if path is None:
        raise NativeBuildError(
            f"the native backend needs a C compiler to build model code, and {cc!r} is not on "
            "PATH: install gcc (e.g. 'apt-get install gcc'), set CC to a C compiler, or use "
            "backend='scipy'")
    return path


@functools.cache
def _sparse_source() -> str:
    """The sparse-LU planner's source, part of every library's key (read once, when needed)."""
    return Path(sparse_lu.__file__).read_text()


def _library_key(model: Model, method: str) -> str:
    """Content hash naming a model's library: what the C source and machine code depend on."""
    digest = hashlib.sha256()
    for part in (model_fingerprint(model, str(codegen_c.__file__), str(_internal.__file__)),
                 integrator_c(method), _sparse_source(),
                 " ".join(_FLAGS), _BUILD_VERSION,
                 platform.machine(), platform.system()):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def jacobian_pattern(model: Model) -> NDArray[np.bool_]:
    """Where the model's Jacobian in internal coordinates is not identically zero."""
    jac = internal_form(model).jac
    n = len(model.states)
    return np.array([e != 0 for e in jac], dtype=bool).reshape(n, n)


def _build(source: str, target: Path, cc: str) -> None:
    """Compile ``source`` to ``target`` atomically (safe with concurrent builders)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src = Path(tmp) / "model.c"
        src.write_text(source)
        out = Path(tmp) / "model.so"
        proc = subprocess.run([cc, *_FLAGS, str(src), "-o", str(out), "-lm"],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise NativeBuildError(f"compiling the native model library with {cc} failed:\n"
                                   f"{proc.stderr[-2000:]}")
        os.replace(src, target.with_suffix(".c"))  # kept beside the library, for reading
        os.replace(out, target)


def default_threads() -> int:
    """Threads for a batch: ``$IL2SIM_THREADS``, else the cores this process may use."""
    env = os.environ.get("IL2SIM_THREADS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise EngineError(f"IL2SIM_THREADS must be an integer, not {env!r}") from None
        if value < 1:
            raise EngineError(f"IL2SIM_THREADS must be >= 1, not {value}")
        return value
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _load(path: Path, build_seconds: float) -> NativeLibrary:
    handle = ctypes.CDLL(str(path))
    handle.il2_integrate.restype = _i
    handle.il2_integrate.argtypes = [_l, _d, _d, _p, _p, _p, _l, _p, _d, _p, _p, _p, _p, _p, _p,
                                     _l, _i, _p]
    handle.il2_integrate_steps.restype = _i
    handle.il2_integrate_steps.argtypes = [_d, _d, _p, _p, _p, _l, _p, _d, _p, _p, _p, _p, _l,
                                           _STEP_FN, _p]
    handle.il2_observe.restype = None
    handle.il2_observe.argtypes = [_l, _l, _p, _p, _p, _i, _p, _p, _i]
    handle.il2_linear_solve.restype = _i
    handle.il2_linear_solve.argtypes = [_p, _p]
    handle.il2_eval.restype = None
    handle.il2_eval.argtypes = [_d, _p, _p, _p, _p, _p]
    for name in ("il2_n_states", "il2_n_params", "il2_n_inputs", "il2_n_observables"):
        getattr(handle, name).restype = _i
        getattr(handle, name).argtypes = []
    return NativeLibrary(path, handle, build_seconds, int(handle.il2_n_states()),
                         int(handle.il2_n_params()), int(handle.il2_n_inputs()),
                         int(handle.il2_n_observables()))


def load_library(model: Model, method: str = DEFAULT_METHOD) -> NativeLibrary:
    """The compiled library of ``model`` with integrator ``method`` (``"Rodas5P"`` or
    ``"Rodas4"``): from memory, else from the disk cache, else built.

    Raises:
        NativeBuildError: no C compiler, or the generated code did not compile.
    """
    with _LOCK:
        if method not in RODAS_METHODS:
            raise EngineError(f"unknown native integrator {method!r}; choose one of: "
                              f"{', '.join(RODAS_METHODS)}")
        per_method = _LIBRARIES.setdefault(model, {})
        lib = per_method.get(method)
        if lib is not None:
            return lib
        path = cache_dir() / f"{model.name}-{method}-{_library_key(model, method)}.so"
        start = time.perf_counter()
        if path.exists():
            try:
                lib = _load(path, 0.0)
            except OSError:  # unreadable: build it again below
                lib = None
        if lib is None:
            _build(c_source(model) + sparse_lu_c(jacobian_pattern(model))
                   + integrator_c(method), path, _compiler())
            lib = _load(path, time.perf_counter() - start)
        per_method[method] = lib
        return lib


@dataclass
class NativeStats:
    """Work counters summed over the calls of one backend object."""

    calls: int = 0
    patient_segments: int = 0
    steps: int = 0
    rejected: int = 0
    rhs_evaluations: int = 0
    jacobians: int = 0
    seconds_in_c: float = 0.0
    seconds_total: float = 0.0


@dataclass
class NativeBackend:
    """A Rosenbrock method in C over a batch, parallel over patients (POSIX threads).

    Main arguments:
        method: ``"Rodas5P"`` (order 5, embedded order 4, dense output of order 4;
            Steinebach 2023) or ``"Rodas4"`` (order 4, embedded 3, dense output 3; Hairer &
            Wanner 1996, Section IV.7); both stiff, L-stable, stiffly accurate. The SciPy
            backend's method names select Rodas5P (the default).

    Other arguments:
        threads: threads per batch; ``None``: ``$IL2SIM_THREADS``, else every core this
            process may use. The result does not depend on it.
        max_steps: step attempts per patient and segment before the patient fails.

    ``stats`` accumulates steps, rejections, evaluations and time spent in C.
    """

    method: str = DEFAULT_METHOD
    threads: int | None = None
    max_steps: int = 500_000
    name: str = "native"
    stats: NativeStats = field(default_factory=NativeStats)

    def __post_init__(self) -> None:
        if self.method not in (*METHODS, *RODAS_METHODS):
            raise EngineError(f"unknown method {self.method!r} for the native backend; it "
                              f"accepts {', '.join(RODAS_METHODS)} (and the SciPy names "
                              f"{', '.join(METHODS)}, which select {DEFAULT_METHOD})")
        if self.threads is None:
            self.threads = default_threads()
        if self.threads < 1 or self.max_steps < 1:
            raise EngineError("native backend: threads and max_steps must be >= 1")

    @property
    def integrator(self) -> str:
        """The Rosenbrock method this backend runs (``method`` if it names one)."""
        return self.method if self.method in RODAS_METHODS else DEFAULT_METHOD

    def observe(self, compiled: CompiledModel, t: NDArray[np.float64],
                x: NDArray[np.float64], p: NDArray[np.float64],
                u: NDArray[np.float64]) -> NDArray[np.float64]:
        """The observables of a batch result in C (``x`` natural states (n, nt, states),
        ``p`` (n, params), ``u`` (n, nt, inputs)), on this backend's threads: the same
        expressions as ``CompiledModel.observe`` without its per-point arrays."""
        lib = load_library(compiled.model, self.integrator)
        return lib.observe(t, x, p, u, int(self.threads or 1))

    def integrate(
        self,
        compiled: CompiledModel,
        t0: float,
        t1: float,
        y: NDArray[np.float64],
        p: NDArray[np.float64],
        u: NDArray[np.float64],
        t_eval: NDArray[np.float64],
        *,
        rtol: float,
        atol: float | NDArray[np.float64],
    ) -> SegmentOutput:
        return self.integrate_from(compiled, t0, t1, y, p, u, t_eval, np.zeros(len(y)),
                                   rtol=rtol, atol=atol)

    def integrate_from(
        self,
        compiled: CompiledModel,
        t0: float,
        t1: float,
        y: NDArray[np.float64],
        p: NDArray[np.float64],
        u: NDArray[np.float64],
        t_eval: NDArray[np.float64],
        first_step: NDArray[np.float64],
        *,
        rtol: float,
        atol: float | NDArray[np.float64],
    ) -> SegmentOutput:
        start = time.perf_counter()
        lib = load_library(compiled.model, self.integrator)
        n, ns = y.shape
        if (ns, p.shape[1], u.shape[1]) != (lib.n_states, lib.n_params, lib.n_inputs):
            raise EngineError(f"native library for {compiled.model.name!r} has dimensions "
                              f"{(lib.n_states, lib.n_params, lib.n_inputs)}, the compiled "
                              f"model {(ns, p.shape[1], u.shape[1])}")
        y0 = np.ascontiguousarray(y, dtype=np.float64)
        pp = np.ascontiguousarray(p, dtype=np.float64)
        uu = np.ascontiguousarray(u, dtype=np.float64)
        te = np.ascontiguousarray(t_eval, dtype=np.float64)
        tol = np.ascontiguousarray(np.broadcast_to(np.asarray(atol, dtype=np.float64), (ns,)))
        y_eval = np.empty((n, len(te), ns))
        y_end = np.empty((n, ns))
        status = np.zeros(n, dtype=np.intc)
        t_fail = np.zeros(n)
        stats = np.zeros((n, 4), dtype=np.dtype(ctypes.c_long))
        h_io = np.array(first_step, dtype=np.float64)  # a copy: C writes the next step here
        c_start = time.perf_counter()
        lib.handle.il2_integrate(n, float(t0), float(t1), y0.ctypes.data, pp.ctypes.data,
                                 uu.ctypes.data, len(te), te.ctypes.data, float(rtol),
                                 tol.ctypes.data, y_eval.ctypes.data, y_end.ctypes.data,
                                 status.ctypes.data, t_fail.ctypes.data, stats.ctypes.data,
                                 self.max_steps, int(self.threads or 1), h_io.ctypes.data)
        c_seconds = time.perf_counter() - c_start
        ok = status == 0
        message = [""] * n
        for i in np.flatnonzero(~ok):
            text = STATUS_MESSAGES.get(int(status[i]), "unknown failure (status {status})")
            message[i] = text.format(max_steps=self.max_steps, t0=t0, t1=t1,
                                     t=float(t_fail[i]), status=int(status[i]))
            y_eval[i] = np.nan
            y_end[i] = np.nan
        totals = stats.sum(axis=0)
        s = self.stats
        s.calls += 1
        s.patient_segments += n
        s.steps += int(totals[0])
        s.rejected += int(totals[1])
        s.rhs_evaluations += int(totals[2])
        s.jacobians += int(totals[3])
        s.seconds_in_c += c_seconds
        s.seconds_total += time.perf_counter() - start
        return SegmentOutput(y_eval, y_end, ok, message, h_io)

    def integrate_to_root(
        self,
        compiled: CompiledModel,
        t0: float,
        t1: float,
        y: NDArray[np.float64],
        p: NDArray[np.float64],
        u: NDArray[np.float64],
        t_eval: NDArray[np.float64],
        roots: Sequence[RootFunction],
        directions: Sequence[float],
        *,
        rtol: float,
        atol: float | NDArray[np.float64],
    ) -> RootSegment:
        """One patient from ``t0`` to the first root of ``roots`` or to ``t1``
        (:class:`~il2sim.engine.backend.RootFindingBackend`, for model events).

        The C integrator runs on the calling thread and hands each accepted step to Python:
        the step's ends ``y``, ``y_new`` and dense-output coefficients ``q_m``, from which
        ``y(t + s h) = (1 - s) y + s (y_new + (1 - s) (q_1 + s (q_2 + ...)))``. The root
        functions are watched over each step as the reference backend does
        (:func:`~il2sim.engine.backend.first_root`: a sign change in its direction between
        the step's ends, located by Brent's method on the dense output), and the first
        crossing ends the integration. Without root functions no step is handed over.
        Raises :class:`~il2sim.engine.backend.SolverFailure` when the integration fails.
        """
        start = time.perf_counter()
        lib = load_library(compiled.model, self.integrator)
        ns = len(y)
        if (ns, len(p), len(u)) != (lib.n_states, lib.n_params, lib.n_inputs):
            raise EngineError(f"native library for {compiled.model.name!r} has dimensions "
                              f"{(lib.n_states, lib.n_params, lib.n_inputs)}, the compiled "
                              f"model {(ns, len(p), len(u))}")
        yy = np.array(y, dtype=np.float64)  # a copy: C leaves the end state here
        pp = np.ascontiguousarray(p, dtype=np.float64)
        uu = np.ascontiguousarray(u, dtype=np.float64)
        te = np.ascontiguousarray(t_eval, dtype=np.float64)
        tol = np.ascontiguousarray(np.broadcast_to(np.asarray(atol, dtype=np.float64), (ns,)))
        y_eval = np.empty((len(te), ns))
        t_end = np.zeros(1)
        stats = np.zeros(4, dtype=np.dtype(ctypes.c_long))
        step = np.empty((2 + len(RODAS_METHODS[self.integrator].dense), ns))
        hit: list[tuple[float, int, tuple[int, ...], NDArray[np.float64]]] = []
        error: list[BaseException] = []
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            g_old = np.array([root(t0, yy) for root in roots])

        def on_step(t: float, h: float, t_new: float) -> int:
            """Watch the roots over the step just taken; 1 ends the integration."""
            nonlocal g_old
            try:
                y_old, y_new, q = step[0], step[1], step[2:]

                def dense(tt: float) -> NDArray[np.float64]:
                    s = (tt - t) / h
                    inner = q[-1]
                    for row in q[-2::-1]:
                        inner = row + s * inner
                    out: NDArray[np.float64] = (1.0 - s) * y_old + s * (
                        y_new + (1.0 - s) * inner)
                    return out

                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    g_new = np.array([root(t_new, y_new) for root in roots])
                    t_hit, k, also = first_root(roots, directions, g_old, g_new, dense, t,
                                                t_new)
                    g_old = g_new
                    if k < 0:
                        return 0
                    hit.append((t_hit, k, also, dense(t_hit)))
                    return 1
            except Exception as exc:  # raised again below, after C has returned
                error.append(exc)
                return 1

        callback = _STEP_FN(on_step) if roots else _STEP_FN()  # no argument: NULL
        c_start = time.perf_counter()
        status = lib.handle.il2_integrate_steps(
            float(t0), float(t1), yy.ctypes.data, pp.ctypes.data, uu.ctypes.data, len(te),
            te.ctypes.data, float(rtol), tol.ctypes.data, y_eval.ctypes.data,
            t_end.ctypes.data, stats.ctypes.data, self.max_steps, callback,
            step.ctypes.data)
        c_seconds = time.perf_counter() - c_start
        s = self.stats
        s.calls += 1
        s.patient_segments += 1
        s.steps += int(stats[0])
        s.rejected += int(stats[1])
        s.rhs_evaluations += int(stats[2])
        s.jacobians += int(stats[3])
        s.seconds_in_c += c_seconds
        s.seconds_total += time.perf_counter() - start
        if error:
            raise error[0]
        if status != 0:
            text = STATUS_MESSAGES.get(int(status), "unknown failure (status {status})")
            raise SolverFailure(text.format(max_steps=self.max_steps, t0=t0, t1=t1,
                                            t=float(t_end[0]), status=int(status)))
        if hit:
            t_hit, k, also, y_hit = hit[0]
            done = int(np.searchsorted(te, t_hit, side="left"))
            if not np.all(np.isfinite(y_hit)):
                raise SolverFailure(f"non-finite state between t={t0:g} and t={t_hit:g}")
            return RootSegment(float(t_hit), y_hit, y_eval[:done], k, also)
        done = int(np.searchsorted(te, max(t0, t1), side="right"))
        return RootSegment(float(max(t0, t1)), yy, y_eval[:done], -1)
