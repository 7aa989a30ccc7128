"""Stage 7 of the SBML reader: the value of every symbol at t = 0 (initial assignments,
rules and delayed values included), evaluated on demand."""

from __future__ import annotations

import sympy

from il2sim.model.spec import delay as delay_fn
from il2sim.sbml.mathml import TIME
from il2sim.sbml.reader.common import Expr
from il2sim.sbml.reader.dynamics import Dynamics
from il2sim.sbml.reader.maths import Maths, initial_expr
from il2sim.sbml.reader.source import Elements, Names, Source

__all__ = ["InitialValues"]


class InitialValues:
    """Initial value of an SBML symbol (or a local parameter's or moiety's il2sim name),
    ``values(sid)``: evaluated when first asked for and kept; a cycle is refused."""

    def __init__(self, src: Source, el: Elements, names: Names, maths: Maths,
                 dyn: Dynamics) -> None:
        self.src, self.maths, self.dyn = src, maths, dyn
        self.values: dict[str, float | None] = {}
        self.defining: dict[str, Expr | None] = {
            sid: initial_expr(src, el, names, maths, sid) for sid in names.names}
        for name, (_, initial) in dyn.moieties.items():
            self.defining[name] = initial
        self._evaluating: list[str] = []

    def __call__(self, sid: str) -> float:
        if sid in self.maths.local:
            return self.maths.local[sid][1]
        cached = self.values.get(sid)
        if cached is not None:
            return cached
        if sid in self._evaluating:
            cycle = " -> ".join(self._evaluating[self._evaluating.index(sid):] + [sid])
            raise self.src.fail(f"initial values depend on each other in a cycle ({cycle})",
                                "algebraic loop")
        expr = self.defining.get(sid)
        if expr is None:
            raise self.src.fail(f"{sid!r} has no initial value (no value, initial assignment "
                                "or rule)", "undefined value")
        expr = self.dyn.rate_of(expr, self.dyn.equations, sid)
        self._evaluating.append(sid)
        try:
            if expr.has(delay_fn):
                expr = self._before_start(expr)
            subs = {s: sympy.Float(self(self.dyn.by_name[str(s)]))
                    for s in expr.free_symbols if s != TIME}
            subs[TIME] = sympy.Integer(0)
            result = expr.xreplace(subs)
            try:
                number = float(result)
            except TypeError:
                number = float(result.evalf())
        finally:
            self._evaluating.pop()
        self.values[sid] = number
        return number

    def expand_rules(self, expr: Expr, depth: int = 0) -> Expr:
        """``expr`` with assignment-rule symbols replaced by their rules (recursively)."""
        subs = {}
        for symbol in expr.free_symbols:
            sid = self.dyn.by_name.get(str(symbol))
            if sid in self.maths.rules and depth < 100:
                subs[symbol] = self.expand_rules(
                    self.dyn.rate_of(self.maths.rules[sid], self.dyn.equations, sid),
                    depth + 1)
        return expr.xreplace(subs) if subs else expr

    def _before_start(self, expr: Expr) -> Expr:
        """``expr`` at t = 0 with each ``delay(x, d)`` as ``x`` at time ``-d``: states and
        parameters at their initial values, assignment rules (which hold at all times) of
        time at ``-d`` (SBML Test Suite cases 01318, 01522)."""
        def history(term: Expr) -> Expr:
            arg, lag = term.args
            lag = lag.xreplace({s: sympy.Float(self(self.dyn.by_name[str(s)]))
                                for s in lag.free_symbols if s != TIME})
            return self.expand_rules(arg).xreplace({TIME: -lag})
        return expr.replace(lambda e: isinstance(e, delay_fn), history)
