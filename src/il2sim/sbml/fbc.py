"""Flux balance analysis of an SBML model with the fbc package (Versions 1 and 2).

A flux balance model has no kinetics and no time course: its answer is the steady state
flux vector ``v`` that optimises the active objective (Orth, Thiele and Palsson 2010,
"What is flux balance analysis?", Nat. Biotechnol. 28:245, doi:10.1038/nbt.1614):

    maximise (or minimise)  c . v
    subject to              N v = 0            (every species that is not a boundary
                                                condition and not constant)
                            lb <= v <= ub      (fbc flux bounds)

with ``N`` the stoichiometry matrix (species x reactions) and ``c`` the coefficients of the
active objective's flux objectives (SBML Level 3 fbc Version 2, Olivier and Bergmann 2018,
doi:10.1515/jib-2017-0082). The linear program is solved by HiGHS through
``scipy.optimize.linprog``. Initial assignments (to bound parameters and stoichiometries)
are evaluated first by libSBML's initial-assignment converter.

This is a separate analysis, not :func:`il2sim.simulate`: :func:`il2sim.sbml.import_sbml`
refuses the fbc package, since an ODE model cannot represent it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import libsbml
import numpy as np
import sympy
from scipy.optimize import linprog

from il2sim.sbml.mathml import MathReader, SbmlError

__all__ = ["FluxBalance", "flux_balance"]

_V1_OPERATIONS = {"lessEqual": "upper", "greaterEqual": "lower", "equal": "both",
                  "less": "upper", "greater": "lower"}


@dataclass(frozen=True)
class FluxBalance:
    """An optimal flux distribution.

    ``objective`` is the id of the active objective and ``value`` its optimum ``c . v``;
    ``fluxes`` maps every reaction id to its flux. Where the optimum is not unique, the
    fluxes are one optimal vertex (the objective value is unique). ``status`` is
    ``"optimal"``, or ``"infeasible"`` when no flux satisfies the constraints: then the
    value and every flux are NaN (the SBML Test Suite's answer, cases 01196 and 01616).
    """

    objective: str
    sense: str
    value: float
    fluxes: Mapping[str, float]
    status: str = "optimal"

    def __getitem__(self, sbml_id: str) -> float:
        """The flux of reaction ``sbml_id``, or the optimum when it is the objective's id."""
        if sbml_id == self.objective:
            return self.value
        if sbml_id not in self.fluxes:
            raise SbmlError(f"{sbml_id!r} is neither a reaction nor the active objective "
                            f"{self.objective!r}", "output")
        return self.fluxes[sbml_id]


def flux_balance(path: str | Path) -> FluxBalance:
    """Solve the flux balance problem of the fbc model in ``path``.

    A bound or stoichiometry set by an assignment rule whose value is constant (numbers,
    constant parameters and function definitions of them) is that constant: it does not
    change in time (SBML L3V2 section 4.11.1; Test Suite case 01620). An infeasible
    problem is an answer (status ``infeasible``, NaN fluxes), not an error.

    Raises:
        SbmlError: the file is not valid SBML, has no fbc package or no active objective,
            a bound or stoichiometry is not a constant number, or the problem is
            unbounded.
    """
    path = Path(path)
    label = str(path)

    def fail(message: str, construct: str = "fbc") -> SbmlError:
        return SbmlError(f"{label}: {message}", construct)

    if not path.is_file():
        raise fail("no such file", "file")
    doc = libsbml.readSBMLFromFile(str(path))
    errors = [doc.getError(i) for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if errors:
        message = " ".join(errors[0].getMessage().split())
        raise fail(f"not valid SBML (line {errors[0].getLine()}): {message}", "invalid SBML")
    model = doc.getModel()
    if model is None:
        raise fail("the SBML document has no model", "invalid SBML")
    plugin = model.getPlugin("fbc")
    if plugin is None:
        raise fail("no flux balance (fbc) package in the model")
    for i in reversed(range(model.getNumInitialAssignments())):  # without math: no effect
        if not model.getInitialAssignment(i).isSetMath():
            model.removeInitialAssignment(i)
    if model.getNumInitialAssignments():
        props = libsbml.ConversionProperties()
        props.addOption("expandInitialAssignments", True)
        if doc.convert(props) != libsbml.LIBSBML_OPERATION_SUCCESS or \
                doc.getModel().getNumInitialAssignments():
            raise fail("initial assignments libSBML cannot evaluate to numbers")
        model = doc.getModel()
        plugin = model.getPlugin("fbc")
    changed = {r.getVariable() for r in model.getListOfRules()
               if r.isSetMath() and not r.isAssignment()} | {
        ea.getVariable() for e in model.getListOfEvents()
        for ea in e.getListOfEventAssignments() if ea.isSetMath()}
    assigned = {r.getVariable(): r for r in model.getListOfRules()
                if r.isSetMath() and r.isAssignment() and r.getVariable() not in changed}
    functions = {f.getId(): f for f in model.getListOfFunctionDefinitions()}
    constants: dict[str, float] = {}

    def constant(sid: str, stack: tuple[str, ...] = ()) -> float:
        """The value of ``sid``: its assignment rule's when that is constant."""
        if sid in constants:
            return constants[sid]
        if sid in changed or sid in stack:
            raise fail(f"{sid!r} changes in time (a rate rule, an event, or a cycle of "
                       "rules)")
        rule = assigned.get(sid)
        if rule is None:
            parameter = model.getParameter(sid)
            if parameter is None or not parameter.isSetValue():
                raise fail(f"{sid!r} is not a parameter with a value")
            value = float(parameter.getValue())
        else:
            reader = MathReader(functions, lambda ref: sympy.Float(constant(ref, stack + (sid,))))
            expr = reader.number(rule.getMath(), f"assignment rule for {sid!r}")
            if expr.free_symbols:
                raise fail(f"the assignment rule for {sid!r} changes in time")
            value = float(expr)
        constants[sid] = value
        return value

    reactions = [model.getReaction(i).getId() for i in range(model.getNumReactions())]
    column = {rid: j for j, rid in enumerate(reactions)}
    lower = np.full(len(reactions), -math.inf)
    upper = np.full(len(reactions), math.inf)

    def number(pid: str, what: str) -> float:
        parameter = model.getParameter(pid)
        if parameter is None or (not parameter.isSetValue() and pid not in assigned):
            raise fail(f"{what}: {pid!r} is not a parameter with a value")
        if pid in changed:
            raise fail(f"{what}: parameter {pid!r} is changed by a rule or event")
        try:
            return constant(pid)
        except SbmlError as exc:
            raise fail(f"{what}: {str(exc).removeprefix(label + ': ')}") from None

    if plugin.getPackageVersion() >= 2:
        for rid in reactions:
            rp = model.getReaction(rid).getPlugin("fbc")
            if rp is not None and rp.isSetLowerFluxBound():
                lower[column[rid]] = number(rp.getLowerFluxBound(), f"lower bound of {rid!r}")
            if rp is not None and rp.isSetUpperFluxBound():
                upper[column[rid]] = number(rp.getUpperFluxBound(), f"upper bound of {rid!r}")
    else:
        for bound in plugin.getListOfFluxBounds():
            rid, op = bound.getReaction(), _V1_OPERATIONS.get(bound.getOperation())
            if rid not in column or op is None:
                raise fail(f"flux bound {bound.getId() or rid!r}: reaction {rid!r} or "
                           f"operation {bound.getOperation()!r} unknown")
            if op in ("lower", "both"):
                lower[column[rid]] = max(lower[column[rid]], bound.getValue())
            if op in ("upper", "both"):
                upper[column[rid]] = min(upper[column[rid]], bound.getValue())

    balanced = [s.getId() for s in model.getListOfSpecies()
                if not s.getBoundaryCondition() and not s.getConstant()]
    row = {sid: i for i, sid in enumerate(balanced)}
    stoichiometry = np.zeros((len(balanced), len(reactions)))
    for rid in reactions:
        reaction = model.getReaction(rid)
        for sign, refs in ((-1.0, reaction.getListOfReactants()),
                           (1.0, reaction.getListOfProducts())):
            for sr in refs:
                if sr.getSpecies() not in row:
                    continue
                if sr.isSetId() and sr.getId() in changed:
                    raise fail(f"reaction {rid!r}: stoichiometry {sr.getId()!r} changes in time")
                value = (constant(sr.getId()) if sr.isSetId() and sr.getId() in assigned
                         else sr.getStoichiometry() if sr.isSetStoichiometry() else 1.0)
                if not math.isfinite(value):
                    raise fail(f"reaction {rid!r}: stoichiometry of {sr.getSpecies()!r} is "
                               "not a number")
                stoichiometry[row[sr.getSpecies()], column[rid]] += sign * value

    objective = plugin.getActiveObjective()
    if objective is None:
        raise fail("no active objective")
    sense = objective.getType()
    if sense not in ("maximize", "minimize"):
        raise fail(f"objective {objective.getId()!r}: type {sense!r} is not maximize or "
                   "minimize")
    cost = np.zeros(len(reactions))
    for flux in objective.getListOfFluxObjectives():
        if flux.getReaction() not in column:
            raise fail(f"objective {objective.getId()!r}: unknown reaction "
                       f"{flux.getReaction()!r}")
        cost[column[flux.getReaction()]] += flux.getCoefficient()
    sign = -1.0 if sense == "maximize" else 1.0
    infeasible = FluxBalance(objective.getId(), sense, math.nan,
                             MappingProxyType(dict.fromkeys(reactions, math.nan)), "infeasible")
    if np.any(lower > upper):  # no flux at all: infeasible
        return infeasible
    solution = linprog(sign * cost, A_eq=stoichiometry if len(balanced) else None,
                       b_eq=np.zeros(len(balanced)) if len(balanced) else None,
                       bounds=list(zip(lower, upper)), method="highs")
    if solution.status == 2:  # no flux satisfies the bounds at steady state
        return infeasible
    if solution.status == 3:
        raise fail(f"unbounded: objective {objective.getId()!r} has no finite optimum")
    if solution.status != 0:
        raise fail(f"the linear program failed: {solution.message}")
    fluxes = {rid: float(solution.x[column[rid]]) for rid in reactions}
    return FluxBalance(objective.getId(), sense, float(cost @ solution.x),
                       MappingProxyType(fluxes))
