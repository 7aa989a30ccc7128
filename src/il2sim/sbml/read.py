"""Read SBML (Level 2 Versions 1-5, Level 3 Versions 1-2) into an il2sim :class:`Model`.

SBML semantics are kept exactly or the file is refused with an :class:`SbmlError` that
names the construct. What each SBML element becomes:

- compartment: parameter (its size); with a rate rule, a state; with an assignment rule,
  an intermediate;
- species changed by reactions or by a rate rule: linear state (``log=False``) whose value
  is the species symbol's value, i.e. its concentration, or its amount when
  ``hasOnlySubstanceUnits`` (or when its compartment is 0-dimensional);
- a species in concentration without rules in a compartment whose size changes in time:
  state ``<name>_amount`` (what reactions change, constant without them) and intermediate
  ``<name> = <name>_amount / size``;
- constant or boundary species without rules, and species no reaction changes: parameter;
- parameter with a rate rule: state; without rules: parameter;
- assignment rule: intermediate (an observable when nothing refers to it);
- reaction: intermediate named after the reaction (its rate, extent per time); each
  species gains ``stoichiometry * conversion factor * rate``, divided by the compartment
  size when the species is a concentration;
- stoichiometry: a number; a parameter when the species reference has an id (Level 3),
  changed by a rule like any other symbol; a Level 2 ``stoichiometryMath`` expression;
- local parameter ``k`` of reaction ``R``: parameter ``R_k``;
- initial assignment: evaluated at import (t = 0, with the assignment rules) to a number;
- function definition: inlined; ``rateOf(x)``: the right-hand side of state ``x`` (0 for a
  parameter);
- a model without states gets one constant state (always 0): the spec needs one.

- event: :class:`~il2sim.model.spec.Event` (SBML L3V2 semantics in the engine); an
  assigned concentration in a compartment the event resizes is an amount at the old size,
  and the other concentrations there keep their amounts;
- algebraic rule: an assignment rule for the variable it determines, where SymPy solves
  it exactly and uniquely;
- fast reactions: at equilibrium (kinetic laws = 0) with their conserved moieties as
  states, where SymPy solves the equilibrium exactly and uniquely;
- parameter with an infinite or NaN value: a constant intermediate; SBML quantities with
  rate rules (and species starting negative): ``signed`` states.

Hierarchical models (the comp package) are flattened by libSBML into one plain model
first (submodel ids prefixed ``<submodel>__``); one that cannot be flattened (an external
model file that cannot be read, say) is refused.

Refused (never simulated wrongly): algebraic rules and fast reactions without a unique
exact solution, ``delay`` with a delay that is not constant (or of a variable whose
initial assignment depends on time), ``rateOf`` of an assigned variable, SBML packages other than
comp and layout/render (fbc, ...), dose events written by il2sim, Level 1. Constraints are
ignored (they check a simulation, they do not change it).

Names: an SBML id that is not a legal il2sim name (``t``, ``pi``, ``exp``, ``log``,
``Max``, a Python keyword such as ``lambda``, an id starting with ``_``) is renamed by
stripping leading underscores and appending ``_`` until it is legal and unused
(``t`` -> ``t_``, ``_J0`` -> ``J0``). :attr:`SbmlImport.names` maps every SBML id to its
il2sim name; renames are listed in the model's notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import sympy
from numpy.typing import NDArray

from il2sim.model.spec import Model
from il2sim.sbml.mathml import SbmlError
from il2sim.sbml.reader.build import build_model
from il2sim.sbml.reader.common import legal_name
from il2sim.sbml.reader.dynamics import dynamics
from il2sim.sbml.reader.initial import InitialValues
from il2sim.sbml.reader.maths import convert_math
from il2sim.sbml.reader.roles import classify
from il2sim.sbml.reader.source import collect, name_symbols, open_source

if TYPE_CHECKING:  # a type only: sbml sits below the engine
    from il2sim.engine.result import SimulationResult

__all__ = ["SbmlImport", "import_sbml", "legal_name", "read_sbml"]

Quantity = Literal["value", "amount", "concentration"]
Expr = Any


@dataclass(frozen=True)
class SbmlImport:
    """An imported SBML model with the mapping back to the file.

    Attributes:
        model: the il2sim model.
        names: SBML id -> il2sim name, for every SBML symbol the model keeps.
        species: species id -> (compartment id, whether its symbol is an amount).
        level: (level, version) of the file.
        renamed: the SBML ids whose il2sim name differs, with that name.
    """

    model: Model
    names: Mapping[str, str]
    species: Mapping[str, tuple[str, bool]]
    level: tuple[int, int]
    renamed: Mapping[str, str] = field(default_factory=dict)

    def expression(self, sbml_id: str, quantity: Quantity = "value") -> Expr:
        """SymPy expression (over il2sim names) of an SBML symbol's value; for a species,
        optionally its ``amount`` or ``concentration`` whatever its own symbol means."""
        if sbml_id not in self.names:
            raise SbmlError(f"no SBML symbol {sbml_id!r} in the imported model "
                            f"{self.model.name!r}")
        value = sympy.Symbol(self.names[sbml_id], real=True)
        if sbml_id not in self.species or quantity == "value":
            return value
        compartment, only_substance = self.species[sbml_id]
        if (quantity == "amount") == only_substance:
            return value
        if compartment not in self.names:
            raise SbmlError(f"species {sbml_id!r}: its compartment {compartment!r} has no size, "
                            f"so it has no {quantity}")
        size = sympy.Symbol(self.names[compartment], real=True)
        return value * size if quantity == "amount" else value / size

    def trajectory(self, result: SimulationResult, sbml_id: str,
                   quantity: Quantity = "value") -> NDArray[np.float64]:
        """Values of an SBML symbol along ``result`` (a simulation of :attr:`model`), shape
        ``(N, n_times)``. Intermediates are evaluated from the states with the model's inputs
        at 0 (an imported SBML model has no inputs unless il2sim wrote it)."""
        model = self.model
        sym = model.symbolic
        expr = self.expression(sbml_id, quantity)
        if expr.is_Symbol and str(expr) in (*model.state_names, *model.observable_names):
            return np.array(result[str(expr)], dtype=float)
        expanded = {sympy.Symbol(k, real=True): v for k, v in sym.intermediates.items()}
        observables = {sympy.Symbol(o.name, real=True): e
                       for o, e in zip(model.observables, sym.observables)}
        expr = expr.xreplace(observables).xreplace(expanded)
        args = (sym.t, *sym.states, *sym.params, *sym.inputs)
        fn = sympy.lambdify(args, expr, modules="numpy")
        n, nt = result.states.shape[:2]
        out = np.empty((n, nt))
        p = result.params.to_numpy(dtype=float)
        for i in range(n):
            x = [result.states[i, :, j] for j in range(len(sym.states))]
            u = [np.zeros(nt) for _ in sym.inputs]
            # parameters along the run where events set them
            pi = (list(p[i]) if result.param_values is None else
                  [result.param_values[i, :, j] for j in range(len(sym.params))])
            with np.errstate(all="ignore"):
                out[i] = np.broadcast_to(fn(result.times, *x, *pi, *u), (nt,))
        return out


def import_sbml(path: str | Path) -> Model:
    """Read an SBML file as an il2sim model (see :func:`read_sbml` for the mapping).

    Raises:
        SbmlError: unreadable or invalid file, or a construct il2sim cannot represent
            exactly (the message names it).
    """
    return read_sbml(path).model


def read_sbml(path: str | Path) -> SbmlImport:
    """Read an SBML file; return the model with the SBML id -> il2sim name mapping.

    Raises:
        SbmlError: as :func:`import_sbml`.
    """
    path = Path(path)
    label = str(path)
    try:
        src = open_source(path)
        el = collect(src)
        names = name_symbols(el)
        maths = convert_math(src, el, names)
        roles = classify(src, el, names, maths)
        dyn = dynamics(src, el, names, maths, roles)
        values = InitialValues(src, el, names, maths, dyn)
        model = build_model(src, el, names, maths, roles, dyn, values)
        return SbmlImport(model, dict(names.names), el.species_info, src.level,
                          dict(names.renamed))
    # A file the checks miss (a malformed file libSBML reads without an error) must still
    # not end in a traceback: any other exception becomes an SbmlError of construct
    # 'internal' that names it (tests treat that as a bug to fix).
    except SbmlError as exc:
        message = " ".join(str(exc).split())
        if not message.startswith(f"{label}: "):
            message = f"{label}: {message}"
        raise SbmlError(message, exc.construct) from None
    except (ArithmeticError, AttributeError, IndexError, KeyError, LookupError,
            NotImplementedError, RecursionError, TypeError, ValueError,
            sympy.SympifyError) as exc:
        detail = " ".join(str(exc).split()) or "-"
        raise SbmlError(f"{label}: cannot read this file ({type(exc).__name__}: "
                        f"{detail}); the file is probably not valid SBML",
                        "internal") from None
