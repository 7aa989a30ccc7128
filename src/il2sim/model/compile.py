"""Compile a :class:`~il2sim.model.spec.Model` to numeric functions.

The compiled form integrates in *internal coordinates* (log of the states
declared ``log=True``); the expressions, their analytic Jacobian and the implicit
route inputs come from :mod:`il2sim.model.internal`, shared with the C generator.

Two families of functions are generated from the same expressions (after common
subexpression elimination): batched ones over N parameter sets at once
(NumPy arrays of shape ``(N, n)``), and scalar ones for one patient, which the
SciPy reference backend calls at every step.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.special
import sympy
from numpy.typing import NDArray
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import PythonCodePrinter

from il2sim.cache import cache_dir
from il2sim.model import internal as _internal
from il2sim.model.fingerprint import model_fingerprint
from il2sim.model.internal import EXP_CAP as _EXP_CAP
from il2sim.model.internal import delay_symbols, internal_form, observables_natural
from il2sim.model.spec import Model
from il2sim.model.spec import delay as delay_fn

__all__ = ["CompiledDelays", "CompiledEvents", "CompiledModel", "compile_model"]

FloatArray = NDArray[np.float64]
BatchFn = Callable[[Any, FloatArray, FloatArray, FloatArray], FloatArray]
ScalarFn = Callable[[float, FloatArray, FloatArray, FloatArray], FloatArray]

_CACHE: weakref.WeakKeyDictionary[Model, CompiledModel] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """Numeric form of a model.

    Attributes:
        model: the specification it came from.
        log_mask: True where a state is integrated as its logarithm.
        input_names: the model's inputs followed by one implicit rate per
            route that has no named input (``rate_<route>``).
        route_input: for each route, the index of the input its infusions drive.
        rhs, jac, observe: batched functions ``f(t, y, p, u)`` with ``y`` of
            shape ``(N, n_states)``, ``p`` ``(N, n_params)``, ``u`` ``(N, n_inputs)``;
            ``observe`` takes natural coordinates ``x``.
        rhs_one, jac_one: the same for one patient (1-D arrays).
        events: the model's events, or None.
        delays: the model's delayed values, or None. With delays, every ``u`` these
            functions take holds the inputs followed by the delayed values (one per
            ``delay(x, d)`` term), which only the SciPy backend supplies.
    """

    model: Model
    log_mask: NDArray[np.bool_]
    input_names: tuple[str, ...]
    route_input: dict[str, int]
    rhs: BatchFn
    jac: BatchFn
    observe: BatchFn
    rhs_one: ScalarFn
    jac_one: ScalarFn
    source: str
    events: CompiledEvents | None = None
    delays: CompiledDelays | None = None

    @property
    def n_states(self) -> int:
        return len(self.model.states)

    def to_internal(self, x: FloatArray) -> FloatArray:
        """Natural state values to integration coordinates (log where declared)."""
        y = np.array(x, dtype=float, copy=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            y[..., self.log_mask] = np.log(y[..., self.log_mask])
        return y

    def to_natural(self, y: FloatArray, *, copy: bool = True) -> FloatArray:
        """Integration coordinates back to natural state values (``copy=False``: in place,
        when ``y`` is a float array the caller no longer needs)."""
        x = np.array(y, dtype=float, copy=copy)
        for j in np.flatnonzero(self.log_mask):  # column views: no fancy-index copies
            np.exp(x[..., j], out=x[..., j])
        return x


def compile_model(model: Model) -> CompiledModel:
    """Compile to batched and scalar numeric functions.

    Once per model object in a process; the generated source is also kept on disk
    (:func:`il2sim.cache.cache_dir`), keyed by the model's fingerprint with this module,
    :mod:`il2sim.model.internal` and the SymPy version, so a new process
    skips the symbolic work (seconds for the flagship model).
    """
    cached = _CACHE.get(model)
    if cached is None:
        cached = _load(model) or _compile(model)
        if model.events:
            cached = dataclasses.replace(cached, events=_compile_events(model))
        if model.has_delays:
            cached = dataclasses.replace(cached, delays=_compile_delays(model))
        _CACHE[model] = cached
    return cached


def _cache_file(model: Model) -> Path:
    key = model_fingerprint(model, __file__, str(_internal.__file__))[:24]
    return cache_dir("python") / f"{model.name}-{key}.json"


def _load(model: Model) -> CompiledModel | None:
    """The compiled model from the disk cache, or None (missing or unreadable)."""
    try:
        data = json.loads(_cache_file(model).read_text())
        return _build(model, data["source"], np.array(data["log_mask"], dtype=bool),
                      tuple(data["input_names"]), dict(data["route_input"]))
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return None


def _store(compiled: CompiledModel) -> None:
    """Keep the generated source on disk (best effort: a read-only cache is fine)."""
    path = _cache_file(compiled.model)
    data = {"source": compiled.source, "log_mask": compiled.log_mask.tolist(),
            "input_names": list(compiled.input_names), "route_input": compiled.route_input}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
    except OSError:
        pass


def _build(model: Model, source: str, log_mask: NDArray[np.bool_],
           input_names: tuple[str, ...], route_input: dict[str, int]) -> CompiledModel:
    namespace: dict[str, Any] = {"numpy": np, "math": math, "scipy": scipy}
    exec(compile(source, f"<il2sim compiled {model.name}>", "exec"), namespace)
    return CompiledModel(
        model=model,
        log_mask=log_mask,
        input_names=input_names,
        route_input=route_input,
        rhs=namespace["rhs"],
        jac=namespace["jac"],
        observe=namespace["observe"],
        rhs_one=namespace["rhs_one"],
        jac_one=namespace["jac_one"],
        source=source,
    )


def _compile(model: Model) -> CompiledModel:
    sym = model.symbolic
    form = internal_form(model)
    n = len(sym.states)
    route_input = {r.name: form.input_names.index(r.input or f"rate_{r.name}")
                   for r in model.routes}
    ys, ps, us, tt = form.ys, form.ps, form.us, form.t
    rhs_internal = list(form.rhs)
    jac_flat = list(form.jac)
    xs, obs = observables_natural(model, form)  # evaluated in natural coordinates x
    log_mask = np.array(form.log_mask, dtype=bool)
    input_names = list(form.input_names)

    sources = [
        _function_source("rhs", rhs_internal, (n,), ys, ps, us, tt, batched=True),
        _function_source("jac", jac_flat, (n, n), ys, ps, us, tt, batched=True),
        _function_source("observe", obs, (len(obs),), xs, ps, us, tt, batched=True),
        _function_source("rhs_one", rhs_internal, (n,), ys, ps, us, tt, batched=False),
        _function_source("jac_one", jac_flat, (n, n), ys, ps, us, tt, batched=False),
    ]
    compiled = _build(model, "\n\n".join(sources), log_mask, tuple(input_names), route_input)
    _store(compiled)
    return compiled


class _BatchPrinter(NumPyPrinter):  # type: ignore[misc]  # SymPy is untyped
    """NumPy printer; capped exp; Heaviside(0) = 1/2 as in SymPy."""

    def _print_exp(self, expr: sympy.exp) -> str:
        return f"numpy.exp(numpy.minimum({self._print(expr.args[0])}, {_EXP_CAP}))"

    def _print_Max(self, expr: sympy.Max) -> str:
        return self._fold("numpy.maximum", expr.args)

    def _print_Min(self, expr: sympy.Min) -> str:
        return self._fold("numpy.minimum", expr.args)

    def _fold(self, func: str, args: tuple[sympy.Expr, ...]) -> str:
        out = str(self._print(args[0]))
        for a in args[1:]:
            out = f"{func}({out}, {self._print(a)})"
        return out

    def _print_Heaviside(self, expr: sympy.Heaviside) -> str:
        return f"numpy.heaviside({self._print(expr.args[0])}, 0.5)"

    def _print_gamma(self, expr: sympy.gamma) -> str:
        return f"scipy.special.gamma({self._print(expr.args[0])})"

    def _print_factorial(self, expr: sympy.factorial) -> str:
        return f"scipy.special.gamma({self._print(expr.args[0])} + 1)"

    def _print_polygamma(self, expr: sympy.polygamma) -> str:
        n, x = (self._print(a) for a in expr.args)
        return f"scipy.special.polygamma({n}, {x})"


class _ScalarPrinter(PythonCodePrinter):  # type: ignore[misc]  # SymPy is untyped
    def _print_exp(self, expr: sympy.exp) -> str:
        return f"math.exp(min({self._print(expr.args[0])}, {_EXP_CAP}))"

    def _print_Heaviside(self, expr: sympy.Heaviside) -> str:
        a = self._print(expr.args[0])
        return f"(1.0 if ({a}) > 0 else (0.5 if ({a}) == 0 else 0.0))"

    def _print_gamma(self, expr: sympy.gamma) -> str:  # inf at the poles, as C's tgamma
        return f"float(scipy.special.gamma({self._print(expr.args[0])}))"

    def _print_factorial(self, expr: sympy.factorial) -> str:  # x! = gamma(x + 1)
        return f"float(scipy.special.gamma({self._print(expr.args[0])} + 1))"

    def _print_polygamma(self, expr: sympy.polygamma) -> str:
        n, x = (self._print(a) for a in expr.args)
        return f"float(scipy.special.polygamma({n}, {x}))"


def _function_source(
    name: str,
    exprs: Sequence[sympy.Expr],
    shape: tuple[int, ...],
    vars_: Sequence[sympy.Symbol],
    ps: Sequence[sympy.Symbol],
    us: Sequence[sympy.Symbol],
    tt: sympy.Symbol,
    *,
    batched: bool,
) -> str:
    """Python source of one generated function, with common subexpressions shared."""
    printer: PythonCodePrinter = (
        _BatchPrinter({"fully_qualified_modules": True}) if batched
        else _ScalarPrinter({"fully_qualified_modules": True})
    )
    nonzero = [(k, e) for k, e in enumerate(exprs) if e != 0]
    replacements, reduced = sympy.cse(
        [e for _, e in nonzero], symbols=sympy.numbered_symbols("_c")
    )
    used = set().union(*(e.free_symbols for e in reduced),
                       *(e.free_symbols for _, e in replacements))
    col = "[:, {}]" if batched else "[{}]"
    lines = [f"def {name}(_t, _v, _p, _u):"]
    for j, s in enumerate(vars_):
        if s in used:
            lines.append(f"    {s} = _v{col.format(j)}")
    for j, s in enumerate(ps):
        if s in used:
            lines.append(f"    {s} = _p{col.format(j)}")
    for j, s in enumerate(us):
        if s in used:
            lines.append(f"    {s} = _u{col.format(j)}")
    for sym, expr in replacements:
        lines.append(f"    {sym} = {printer.doprint(expr)}")
    if batched:
        lines.append(f"    _out = numpy.zeros((_v.shape[0], {int(np.prod(shape))}))")
        for (k, _), expr in zip(nonzero, reduced):
            lines.append(f"    _out[:, {k}] = {printer.doprint(expr)}")
        lines.append(f"    return _out.reshape((_v.shape[0],) + {shape!r})")
    else:
        lines.append(f"    _out = numpy.zeros({int(np.prod(shape))})")
        for (k, _), expr in zip(nonzero, reduced):
            lines.append(f"    _out[{k}] = {printer.doprint(expr)}")
        lines.append(f"    return _out.reshape({shape!r})")
    return "\n".join(lines)



# ------------------------------------------------------------------------------ events

_OPS = {sympy.StrictGreaterThan: ">", sympy.GreaterThan: ">=", sympy.StrictLessThan: "<",
        sympy.LessThan: "<="}


@dataclass(frozen=True, eq=False)
class CompiledEvents:
    """Numeric form of a model's events, in natural coordinates ``x``.

    Every relation ``a op b`` of the triggers is an *atom* ``g = a - b`` compared with 0;
    a trigger is a boolean function of the atoms' truth values, so the engine can take
    the truth just after a root of ``g`` (SBML: a trigger is evaluated right after the
    instant it changes). Atom kinds: ``"root"`` (depends on states, or on time
    non-linearly: found by root finding), ``"time"`` (``g = a*t + b`` with ``a``, ``b``
    free of states and time: crossed exactly at ``t = -b/a``), ``"static"`` (parameters
    and inputs only: changes only when they do).

    Attributes:
        atoms: ``atoms(t, x, p, u)`` -> the value of every atom, shape ``(n_atoms,)``.
        ops: the comparison of each atom with 0 (``>``, ``>=``, ``<``, ``<=``).
        kinds: each atom's kind.
        slopes: ``slopes(t, x, p, u)`` -> ``a`` of every atom (0 where not a time atom).
        triggers: per event, the trigger as a function of the atoms' truth values.
        targets: per event, ``(is_state, index)`` of each assignment target.
        values: per event, ``values(t, x, p, u)`` -> the assigned values.
        delays, priorities: per event, ``f(t, x, p, u)`` -> ``(1,)`` array, or None.
        persistent, initial_value, use_trigger_values: per event, the flags.
    """

    names: tuple[str, ...]
    atoms: ScalarFn
    ops: tuple[str, ...]
    kinds: tuple[str, ...]
    slopes: ScalarFn
    triggers: tuple[Callable[..., bool], ...]
    targets: tuple[tuple[tuple[bool, int], ...], ...]
    values: tuple[ScalarFn, ...]
    delays: tuple[ScalarFn | None, ...]
    priorities: tuple[ScalarFn | None, ...]
    persistent: tuple[bool, ...]
    initial_value: tuple[bool, ...]
    use_trigger_values: tuple[bool, ...]

    @property
    def n_atoms(self) -> int:
        return len(self.ops)


def _compile_events(model: Model) -> CompiledEvents:
    """Scalar functions for the triggers' atoms, delays, priorities and assignments."""
    sym = model.symbolic
    n = len(sym.states)
    xs = tuple(sympy.Symbol(f"_x{j}", real=True) for j in range(n))
    ps = tuple(sympy.Symbol(f"_p{j}", real=True) for j in range(len(sym.params)))
    n_inputs = len(internal_form(model).input_names)
    delayed = delay_symbols(model)
    us = tuple(sympy.Symbol(f"_u{j}", real=True) for j in range(n_inputs + len(delayed)))
    tt = sympy.Symbol("_t", real=True)
    rename = {**dict(zip(sym.params, ps)), **dict(zip(sym.inputs, us)), sym.t: tt,
              **dict(zip(sym.states, xs)), **dict(zip(delayed.values(), us[n_inputs:]))}
    delay_us = set(us[n_inputs:])

    def renamed(expr: sympy.Basic) -> Any:
        return expr.xreplace(delayed).xreplace(rename)

    atoms: list[sympy.Expr] = []
    ops: list[str] = []
    index: dict[tuple[sympy.Expr, str], int] = {}
    triggers = []
    for event in sym.events:
        replace: dict[Any, sympy.Symbol] = {}
        for rel in sorted(event.trigger.atoms(sympy.core.relational.Relational), key=str):
            g = renamed(sympy.expand(rel.lhs - rel.rhs))
            key = (g, _OPS[type(rel)])
            if key not in index:
                index[key] = len(atoms)
                atoms.append(g)
                ops.append(key[1])
            replace[rel] = sympy.Symbol(f"_b{index[key]}")
        form = event.trigger.xreplace(replace)
        triggers.append(_boolean_function(form))
    kinds: list[str] = []
    slopes: list[sympy.Expr] = []
    for g in atoms:
        a = sympy.diff(g, tt)
        if g.free_symbols & (set(xs) | delay_us):  # a delayed value changes in time
            kinds.append("root")
            slopes.append(sympy.Integer(0))
        elif not g.has(tt):
            kinds.append("static")
            slopes.append(sympy.Integer(0))
        elif not a.has(tt) and not (g - a * tt).has(tt) and not g.has(sympy.Piecewise):
            kinds.append("time")
            slopes.append(a)
        else:
            kinds.append("root")
            slopes.append(sympy.Integer(0))
    state_index = {s: j for j, s in enumerate(model.state_names)}
    param_index = {p: j for j, p in enumerate(model.param_names)}

    def scalar(name: str, exprs: Sequence[sympy.Expr]) -> ScalarFn:
        source = _function_source(name, list(exprs), (len(exprs),), xs, ps, us, tt,
                                  batched=False)
        namespace: dict[str, Any] = {"numpy": np, "math": math, "scipy": scipy}
        exec(compile(source, f"<il2sim events {model.name}>", "exec"), namespace)
        fn: ScalarFn = namespace[name]
        return fn

    def optional(expr: sympy.Expr | None, name: str) -> ScalarFn | None:
        return None if expr is None else scalar(name, [renamed(expr)])

    return CompiledEvents(
        names=tuple(e.name for e in model.events),
        atoms=scalar("atoms", atoms),
        ops=tuple(ops),
        kinds=tuple(kinds),
        slopes=scalar("slopes", slopes),
        triggers=tuple(triggers),
        targets=tuple(tuple((t in state_index, state_index.get(t, param_index.get(t, -1)))
                            for t in e.targets) for e in sym.events),
        values=tuple(scalar("values", [renamed(v) for v in e.values])
                     for e in sym.events),
        delays=tuple(optional(e.delay, "delay") for e in sym.events),
        priorities=tuple(optional(e.priority, "priority") for e in sym.events),
        persistent=tuple(e.persistent for e in model.events),
        initial_value=tuple(e.initial_value for e in model.events),
        use_trigger_values=tuple(e.use_values_from_trigger_time for e in model.events),
    )


@dataclass(frozen=True, eq=False)
class CompiledDelays:
    """Numeric form of a model's delayed values ``delay(x_k, d_k)``, in natural coordinates.

    Attributes:
        terms: the ``delay(x, d)`` terms, as text, in the order of their inputs.
        args: per term, ``f(s, x, p, u)`` -> ``(1,)``: the delayed expression ``x_k`` at
            time ``s`` from the states, parameters and inputs then (``u`` without delays).
        lags: ``f(t, x, p, u)`` -> ``(n_terms,)``: the delays ``d_k`` (of parameters only).
        dynamic: whether the equations or events use a delayed value (else only
            observables do, and the solution needs no breakpoints).
    """

    terms: tuple[str, ...]
    args: tuple[ScalarFn, ...]
    lags: ScalarFn
    dynamic: bool = True

    @property
    def n(self) -> int:
        return len(self.terms)


def _compile_delays(model: Model) -> CompiledDelays:
    """Scalar functions for the delayed expressions and their delays."""
    sym = model.symbolic
    xs = tuple(sympy.Symbol(f"_x{j}", real=True) for j in range(len(sym.states)))
    ps = tuple(sympy.Symbol(f"_p{j}", real=True) for j in range(len(sym.params)))
    us = tuple(sympy.Symbol(f"_u{j}", real=True) for j in range(len(sym.inputs)))
    tt = sympy.Symbol("_t", real=True)
    rename = {**dict(zip(sym.params, ps)), **dict(zip(sym.inputs, us)), sym.t: tt,
              **dict(zip(sym.states, xs))}

    def scalar(name: str, exprs: Sequence[sympy.Expr]) -> ScalarFn:
        source = _function_source(name, [e.xreplace(rename) for e in exprs], (len(exprs),),
                                  xs, ps, us, tt, batched=False)
        namespace: dict[str, Any] = {"numpy": np, "math": math, "scipy": scipy}
        exec(compile(source, f"<il2sim delays {model.name}>", "exec"), namespace)
        fn: ScalarFn = namespace[name]
        return fn

    return CompiledDelays(
        terms=tuple(str(term) for term in sym.delays),
        args=tuple(scalar("arg", [term.args[0]]) for term in sym.delays),
        lags=scalar("lags", [term.args[1] for term in sym.delays]),
        dynamic=any(e is not None and e.has(delay_fn) for e in (
            *sym.rhs, *(x for ev in sym.events
                        for x in (ev.trigger, *ev.values, ev.delay, ev.priority)))),
    )


def _boolean_function(form: Any) -> Callable[..., bool]:
    """``f(truths) -> bool`` for a boolean expression over the atom symbols ``_b<k>``."""
    text = PythonCodePrinter().doprint(form) if form not in (sympy.true, sympy.false) \
        else str(bool(form))
    used = sorted(form.free_symbols, key=lambda b: int(str(b)[2:])) \
        if hasattr(form, "free_symbols") else []
    lines = [f"    {b} = _truths[{str(b)[2:]}]" for b in used]
    namespace: dict[str, Any] = {}
    exec("def trigger(_truths):\n" + "".join(line + "\n" for line in lines)
         + f"    return bool({text})", namespace)
    fn: Callable[..., bool] = namespace["trigger"]
    return fn
