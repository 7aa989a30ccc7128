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

import keyword
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import libsbml
import numpy as np
import sympy
from numpy.typing import NDArray

from il2sim.engine.result import SimulationResult
from il2sim.io.sbml_math import (
    IL2SIM_NS,
    TIME,
    MathReader,
    SbmlError,
    to_text,
    unit_definition_text,
)
from il2sim.model.spec import (
    ALLOWED_FUNCTIONS,
    DoseRoute,
    Event,
    Input,
    Intermediate,
    Model,
    ModelError,
    Observable,
    Param,
    State,
)
from il2sim.model.spec import delay as delay_fn
from il2sim.units import UnitError, to_magnitude

__all__ = ["SbmlImport", "import_sbml", "read_sbml"]

Quantity = Literal["value", "amount", "concentration"]
Expr = Any

_RESERVED = {"t", *ALLOWED_FUNCTIONS, "Symbol", "Integer", "Float", "Rational", "Function"}
_PACKAGES_OK = {"layout", "render", "l3v2extendedmath"}
_L2_UNITS = {"substance": "mole", "volume": "litre", "area": "metre**2", "length": "metre",
             "time": "second"}
_RATE_OF = sympy.Function("rateOf_")
UNDECLARED = "arb"
"""Unit text of a quantity whose SBML element declares no unit."""
EMPTY_STATE_MEANING = ("constant 0: the SBML model has no state, and an il2sim "
                       "model needs one")


def legal_name(sbml_id: str) -> str:
    """``sbml_id`` made a legal il2sim name (before uniqueness): see the module docstring."""
    name = sbml_id.lstrip("_") or "x"
    if not name[0].isalpha():
        name = "x" + name
    name = re.sub(r"\W", "_", name)
    while keyword.iskeyword(name) or name in _RESERVED:
        name += "_"
    return name


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
    return _Reader(Path(path)).read()


# ----------------------------------------------------------------------------- helpers


def _il2sim_annotation(element: libsbml.SBase) -> ET.Element | None:
    """The ``il2sim:*`` element of an SBML element's annotation, if any."""
    if not element.isSetAnnotation():
        return None
    text = element.getAnnotationString()
    if IL2SIM_NS not in text:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    for child in root:
        if child.tag.startswith("{" + IL2SIM_NS + "}"):
            return child
    return None


def _tag(node: ET.Element) -> str:
    return node.tag.split("}", 1)[1]


def _exact_value(node: ET.Element, value: float) -> float:
    """The annotation's 17-digit value where it rounds to the file's (15-digit) value;
    the file's value where someone has changed it."""
    try:
        exact = float(node.get("value", "nan"))
    except ValueError:
        return value
    return exact if math.isclose(exact, value, rel_tol=1e-13, abs_tol=1e-300) else value


def _toposort(items: Mapping[str, set[str]], what: str) -> list[str]:
    """Names in an order where each comes after those it depends on (stable)."""
    order: list[str] = []
    state: dict[str, int] = {}
    position = {name: i for i, name in enumerate(items)}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join(path[path.index(name):] + (name,))
            raise SbmlError(f"{what} form a cycle ({cycle}): an algebraic loop il2sim cannot "
                            "represent", "algebraic loop")
        state[name] = 1
        for dep in sorted(items[name] & items.keys(), key=position.__getitem__):
            visit(dep, path + (name,))
        state[name] = 2
        order.append(name)

    for name in items:
        visit(name, ())
    return order


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)
        self.time_note = ""
        self.flattened = False

    def fail(self, message: str, construct: str = "") -> SbmlError:
        return SbmlError(f"{self.label}: {message}", construct)

    # -- reading and refusing --------------------------------------------------------------
    def _document(self) -> libsbml.SBMLDocument:
        if not self.path.is_file():
            raise self.fail("no such file", "file")
        doc = libsbml.readSBMLFromFile(str(self.path))
        errors = [doc.getError(i) for i in range(doc.getNumErrors())
                  if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
        if errors:
            e = errors[0]
            message = " ".join(e.getMessage().split())
            raise self.fail(f"not valid SBML (line {e.getLine()}): {message}", "invalid SBML")
        if doc.getModel() is None:
            raise self.fail("the SBML document has no model", "invalid SBML")
        if doc.getLevel() < 2:
            raise self.fail(f"SBML Level {doc.getLevel()} is not supported (Level 2 or 3 only)",
                            "SBML Level 1")
        if doc.getPlugin("comp") is not None:
            doc = self._flatten(doc)
        for i in range(doc.getNumPlugins()):
            package = doc.getPlugin(i).getPackageName()
            if package not in _PACKAGES_OK:
                raise self.fail(f"SBML package {package!r} is not supported (il2sim reads "
                                "SBML core models)", f"package {package}")
        return doc

    def _flatten(self, doc: libsbml.SBMLDocument) -> libsbml.SBMLDocument:
        """A hierarchical (comp) document as the one plain model it stands for.

        libSBML's ``CompFlatteningConverter`` instantiates every submodel (ids prefixed
        ``<submodel>__``), applies deletions, replacements and conversion factors, and drops
        the comp package (SBML Level 3 comp Version 1, Smith et al. 2015,
        doi:10.1515/jib-2015-268). External model definitions are read relative to the
        file's folder. Refused when the flattening fails, naming libSBML's first error.
        """
        props = libsbml.ConversionProperties()
        props.addOption("flatten comp", True)
        props.addOption("basePath", str(self.path.resolve().parent))
        props.addOption("leave_ports", False)
        props.addOption("abortIfUnflattenable", "all")  # an unknown package is refused
        status = doc.convert(props)
        errors = [doc.getError(i) for i in range(doc.getNumErrors())
                  if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
        if status != libsbml.LIBSBML_OPERATION_SUCCESS or errors:
            detail = (" ".join(errors[-1].getMessage().split()) if errors
                      else libsbml.OperationReturnValue_toString(status))
            external = any(e.getErrorId() == libsbml.CompUnresolvedReference for e in errors)
            raise self.fail(f"cannot flatten the hierarchical model (SBML package 'comp'): "
                            f"{detail}", "comp external model" if external else "package comp")
        if doc.getModel() is None:
            raise self.fail("the flattened hierarchical model (SBML package 'comp') has no "
                            "model", "package comp")
        self.flattened = True
        return doc

    def _refuse_unsupported(self) -> None:
        m = self.sbml
        doses = [event.getId() for event in m.getListOfEvents()
                 if (node := _il2sim_annotation(event)) is not None and _tag(node) == "dose"]
        if doses:
            raise self.fail(f"dose events written by il2sim ({len(doses)} in the file) are a "
                            "regimen, not part of the model: export the model without a "
                            "regimen to re-import it", "events")
        for r in m.getListOfReactions():
            if not r.isSetKineticLaw() or r.getKineticLaw().getMath() is None:
                raise self.fail(f"reaction {r.getId()!r} has no kinetic law",
                                "reaction without kinetic law")

    @staticmethod
    def _references(r: libsbml.Reaction) -> Iterable[libsbml.SpeciesReference]:
        yield from r.getListOfReactants()
        yield from r.getListOfProducts()

    # -- the main pass ---------------------------------------------------------------------
    def read(self) -> SbmlImport:
        """The import; every failure is an :class:`SbmlError` with a one-line message.

        A file the checks above miss (a malformed file libSBML reads without an error)
        must still not end in a traceback: any other exception becomes an ``SbmlError``
        of construct ``internal`` that names it (tests treat that as a bug to fix)."""
        try:
            return self._read()
        except SbmlError as exc:
            message = " ".join(str(exc).split())
            if not message.startswith(f"{self.label}: "):
                message = f"{self.label}: {message}"
            raise SbmlError(message, exc.construct) from None
        except (ArithmeticError, AttributeError, IndexError, KeyError, LookupError,
                NotImplementedError, RecursionError, TypeError, ValueError,
                sympy.SympifyError) as exc:
            detail = " ".join(str(exc).split()) or "-"
            raise SbmlError(f"{self.label}: cannot read this file ({type(exc).__name__}: "
                            f"{detail}); the file is probably not valid SBML",
                            "internal") from None

    def _read(self) -> SbmlImport:
        doc = self._document()
        self.doc = doc
        self.sbml = doc.getModel()
        self.level = (doc.getLevel(), doc.getVersion())
        self._refuse_unsupported()
        self.meta = {_id: node for _id, node in self._annotations()}
        self._collect()
        self._name_symbols()
        self.reader = MathReader(self.functions, self._symbol, rate_of=self._rate_of)
        self._convert_math()
        self._classify()
        self._equations()
        self._initial_values()
        model = self._build()
        return SbmlImport(model, dict(self.names), self.species_info, self.level,
                          dict(self.renamed))

    def _annotations(self) -> Iterable[tuple[str, ET.Element]]:
        m = self.sbml
        for element in (*m.getListOfParameters(), *m.getListOfSpecies(),
                        *m.getListOfCompartments()):
            node = _il2sim_annotation(element)
            if node is not None:
                yield element.getId(), node
        node = _il2sim_annotation(m)
        if node is not None and _tag(node) == "model":
            yield "", node

    def _collect(self) -> None:
        m = self.sbml
        self.functions = {f.getId(): f for f in m.getListOfFunctionDefinitions()}
        self.compartments = {c.getId(): c for c in m.getListOfCompartments()}
        self.species = {s.getId(): s for s in m.getListOfSpecies()}
        self.parameters = {p.getId(): p for p in m.getListOfParameters()}
        self.reactions = {r.getId(): r for r in m.getListOfReactions()}
        self.fast = [rid for rid, r in self.reactions.items() if r.isSetFast() and r.getFast()]
        self.moieties: dict[str, tuple[Expr, Expr]] = {}  # state -> (d/dt, initial value)
        self.refs: dict[str, libsbml.SpeciesReference] = {}  # symbols in math (Level 3)
        for r in m.getListOfReactions() if self.level[0] >= 3 else ():
            for sr in self._references(r):
                if sr.isSetId():
                    self.refs[sr.getId()] = sr
        self.rate_rules: dict[str, libsbml.Rule] = {}
        self.assign_rules: dict[str, libsbml.Rule] = {}
        self.algebraic: list[libsbml.Rule] = []
        for i in range(m.getNumRules()):  # without math (L3V2) a rule does nothing
            rule = m.getRule(i)
            if rule.isSetMath() and rule.isAlgebraic():
                self.algebraic.append(rule)
            elif rule.isSetMath():
                (self.rate_rules if rule.isRate() else self.assign_rules)[rule.getVariable()] \
                    = rule
        self.initial = {ia.getSymbol(): ia for ia in m.getListOfInitialAssignments()
                        if ia.isSetMath()}
        # events that can fire: a trigger with math (L3V2 allows none: never fires)
        self.events = [e for e in m.getListOfEvents()
                       if e.isSetTrigger() and e.getTrigger().isSetMath()]
        self.event_targets = {ea.getVariable() for e in self.events
                              for ea in e.getListOfEventAssignments() if ea.isSetMath()}
        # A species in a 0-dimensional compartment has no concentration: its symbol is its
        # amount whatever hasOnlySubstanceUnits says.
        self.only_substance = {
            sid: bool(s.getHasOnlySubstanceUnits()) or self._zero_dimensional(s.getCompartment())
            for sid, s in self.species.items()
        }
        self.species_info = {sid: (s.getCompartment(), self.only_substance[sid])
                             for sid, s in self.species.items()}
        self._check_references()

    def _check_references(self) -> None:
        """Refuse references to undeclared elements, which libSBML reads without an error
        (SBML L3V2 section 4.11.3: a species reference's ``species`` is the id of a species
        of the model; section 4.6.6: a conversion factor is a constant parameter's id)."""
        seen: set[str] = set()  # SBML L3V2 section 3.3: one SId namespace per model
        m = self.sbml
        for element in (*m.getListOfFunctionDefinitions(), *m.getListOfCompartments(),
                        *m.getListOfSpecies(), *m.getListOfParameters(),
                        *m.getListOfReactions(), *self.refs.values(), *m.getListOfEvents()):
            sid = element.getId()
            if sid and sid in seen:
                raise self.fail(f"the id {sid!r} is declared twice", "invalid SBML")
            seen.add(sid)
        for rid, r in self.reactions.items():
            for sr in (*self._references(r), *r.getListOfModifiers()):
                if sr.getSpecies() not in self.species:
                    raise self.fail(f"reaction {rid!r} refers to undeclared species "
                                    f"{sr.getSpecies()!r}", "invalid SBML")
        factors = [(f"species {sid!r}", s.getConversionFactor())
                   for sid, s in self.species.items()
                   if self.level[0] >= 3 and s.isSetConversionFactor()]
        if self.level[0] >= 3 and self.sbml.isSetConversionFactor():
            factors.append(("the model", self.sbml.getConversionFactor()))
        for owner, pid in factors:
            if pid not in self.parameters:
                raise self.fail(f"conversion factor of {owner} is the undeclared parameter "
                                f"{pid!r}", "invalid SBML")

    def _zero_dimensional(self, cid: str) -> bool:
        c = self.compartments.get(cid)
        return c is not None and c.isSetSpatialDimensions() and \
            c.getSpatialDimensionsAsDouble() == 0

    def _name_symbols(self) -> None:
        ids = [*self.compartments, *self.species, *self.parameters, *self.reactions,
               *self.refs]
        taken = {i for i in ids if legal_name(i) == i}
        self.names: dict[str, str] = {}
        self.renamed: dict[str, str] = {}
        for sid in ids:
            name = self._unique(sid, taken)
            self.names[sid] = name
        self.taken = taken
        self.by_id_name = {name: sid for sid, name in self.names.items()}

    def _unique(self, sbml_id: str, taken: set[str]) -> str:
        name = legal_name(sbml_id)
        if name == sbml_id:
            return name
        while name in taken:
            name += "_"
        taken.add(name)
        self.renamed[sbml_id] = name
        return name

    def _symbol(self, sbml_id: str) -> Expr:
        if sbml_id in self.names:
            return sympy.Symbol(self.names[sbml_id], real=True)
        if sbml_id in self.functions:
            raise SbmlError(f"function {sbml_id!r} used as a value", "invalid SBML")
        raise SbmlError(f"unknown symbol {sbml_id!r}", "invalid SBML")

    def _rate_of(self, symbol: Expr, where: str) -> Expr:
        return _RATE_OF(symbol)

    # -- roles -----------------------------------------------------------------------------
    def _classify(self) -> None:
        """Role of every SBML symbol: param, state or rule (intermediate)."""
        self.role: dict[str, str] = {}
        self.amounts: dict[str, str] = {}  # species id -> its amount state
        changed_species = set()
        for r in self.reactions.values():
            for sr in self._references(r):
                changed_species.add(sr.getSpecies())
        varying = set()
        for cid in self.compartments:
            if cid in self.rate_rules or cid in self.event_targets or (
                    cid in self.assign_rules and not self._constant_in_time(self.rules[cid])):
                varying.add(cid)
            self.role[cid] = self._ruled_role(cid)
        for pid in self.parameters:
            self.role[pid] = self._ruled_role(pid)
        for sid, s in self.species.items():
            role = self._ruled_role(sid)
            if role == "param" and not s.getConstant() and not s.getBoundaryCondition() \
                    and sid in changed_species:
                role = "state"
            if role in ("param", "state") and sid not in self.rate_rules \
                    and not self.only_substance[sid] and s.getCompartment() in varying:
                # In a compartment whose size changes, the amount is what reactions change
                # and what stays put without them (also for a constant species): integrate
                # it; the concentration is amount / size.
                role = "amount"
                self.amounts[sid] = self._unique_local(f"{self.names[sid]}_amount")
            self.role[sid] = role
            c = self.compartments.get(s.getCompartment())
            if c is None:
                raise self.fail(f"species {sid!r}: unknown compartment {s.getCompartment()!r}",
                                "invalid SBML")
        for rid in self.reactions:
            self.role[rid] = "rule"
        for sid in self.refs:  # stoichiometry: a parameter, or variable through a rule
            self.role[sid] = self._ruled_role(sid)

    def _constant_in_time(self, expr: Expr, seen: tuple[str, ...] = ()) -> bool:
        """Whether ``expr`` depends on parameters only (no time, state or reaction)."""
        if expr.has(TIME) or expr.has(_RATE_OF):
            return False
        for symbol in expr.free_symbols:
            sid = self.by_id_name.get(str(symbol))
            if sid is None or sid in seen:
                return sid is None  # a local parameter; a cycle is refused elsewhere
            if sid in self.rate_rules or sid in self.reactions or sid in self.event_targets:
                return False
            if sid in self.assign_rules:
                if not self._constant_in_time(self.rules[sid], seen + (sid,)):
                    return False
            elif sid in self.species and not (self.species[sid].getConstant()
                                              or self.species[sid].getBoundaryCondition()):
                return False
        return True

    def _ruled_role(self, sbml_id: str) -> str:
        if sbml_id in self.assign_rules:
            return "rule"
        if sbml_id in self.rate_rules:
            return "state"
        return "param"

    # -- math ------------------------------------------------------------------------------
    def _convert_math(self) -> None:
        """SymPy form of every rule, kinetic law and initial assignment."""
        read = self.reader.number
        self.rules: dict[str, Expr] = {}  # intermediates: assignment rules and reaction rates
        for var, rule in self.assign_rules.items():
            self._known(var, "assignment rule")
            self.rules[var] = read(rule.getMath(), f"assignment rule for {var!r}")
        self._solve_algebraic()
        self.rates: dict[str, Expr] = {}
        for var, rule in self.rate_rules.items():
            self._known(var, "rate rule")
            self.rates[var] = read(rule.getMath(), f"rate rule for {var!r}")
        self.local: dict[str, tuple[str, float, libsbml.SBase]] = {}  # il2sim name -> value
        for rid, r in self.reactions.items():
            kl = r.getKineticLaw()
            env: dict[str, Expr] = {}
            locals_ = ([kl.getLocalParameter(i) for i in range(kl.getNumLocalParameters())]
                       if self.level[0] >= 3 else
                       [kl.getParameter(i) for i in range(kl.getNumParameters())])
            for lp in locals_:
                if not lp.isSetValue():
                    raise self.fail(f"local parameter {lp.getId()!r} of reaction {rid!r} has "
                                    "no value", "undefined value")
                name = self._unique_local(f"{rid}_{lp.getId()}")
                self.local[name] = (lp.getId(), float(lp.getValue()), lp)
                env[lp.getId()] = sympy.Symbol(name, real=True)
            self.rules[rid] = read(kl.getMath(), f"kinetic law of reaction {rid!r}", env)
        self.event_math: list[tuple[libsbml.Event, Expr, Expr | None, Expr | None,
                                    list[tuple[str, Expr]]]] = []
        for event in self.events:
            where = f"event {event.getId() or '(no id)'!r}"
            trigger = self.reader.condition(event.getTrigger().getMath(), f"trigger of {where}")
            delay = priority = None
            if event.isSetDelay() and event.getDelay().isSetMath():
                delay = read(event.getDelay().getMath(), f"delay of {where}")
            if event.isSetPriority() and event.getPriority().isSetMath():
                priority = read(event.getPriority().getMath(), f"priority of {where}")
            assignments = []
            for ea in event.getListOfEventAssignments():
                if ea.isSetMath():
                    var = ea.getVariable()
                    self._known(var, f"assignment of {where}")
                    assignments.append((var, read(ea.getMath(), f"assignment to {var!r} in "
                                                  f"{where}")))
            self.event_math.append((event, trigger, delay, priority, assignments))
        self.initial_math: dict[str, Expr] = {}
        for var, ia in self.initial.items():
            self._known(var, "initial assignment")
            self.initial_math[var] = read(ia.getMath(), f"initial assignment for {var!r}")

    def _solve_algebraic(self) -> None:
        """Algebraic rules ``0 = f(...)`` as assignment rules, where SymPy solves them exactly
        and uniquely for the variables they determine; refused otherwise.

        The variable a rule determines is one SBML leaves free: not constant, without
        another rule, and not a species that reactions change. Rules with a single such
        variable are solved one at a time; the rest together (as many variables as
        rules), and only a unique solution is accepted.
        """
        if not self.algebraic:
            return
        read = self.reader.number
        by_reactions = {sr.getSpecies() for r in self.reactions.values()
                        for sr in self._references(r)
                        if not self.species[sr.getSpecies()].getBoundaryCondition()}
        pending: list[tuple[Expr, set[str]]] = []
        for k, rule in enumerate(self.algebraic, 1):
            expr = read(rule.getMath(), f"algebraic rule {k}")
            free = {self.by_id_name[str(s)] for s in expr.free_symbols
                    if str(s) in self.by_id_name}
            free = {sid for sid in free if sid not in self.rate_rules
                    and sid not in self.assign_rules and sid not in self.reactions
                    and sid not in by_reactions and not self._constant(sid)}
            pending.append((expr, free))
        while pending:  # rules left with one free variable first
            single = next((item for item in pending if len(item[1]) == 1), None)
            if single is None:
                break
            pending.remove(single)
            (sid,) = single[1]
            self._assign_solution([single[0]], [sid])
            pending = [(e, free - {sid}) for e, free in pending]
        if pending:
            variables = sorted(set().union(*(free for _, free in pending)))
            if len(variables) != len(pending):
                raise self.fail(f"{len(pending)} algebraic rules do not determine "
                                f"{len(pending)} variables (free: {', '.join(variables) or '-'})"
                                "; il2sim needs rules it can solve exactly", "algebraic rules")
            self._assign_solution([e for e, _ in pending], variables)

    def _constant(self, sid: str) -> bool:
        element = (self.parameters.get(sid) or self.compartments.get(sid)
                   or self.species.get(sid))
        if element is not None:
            return bool(element.getConstant())
        return sid in self.refs and bool(self.refs[sid].getConstant())

    def _assign_solution(self, exprs: list[Expr], sids: list[str]) -> None:
        symbols = [sympy.Symbol(self.names[sid], real=True) for sid in sids]
        try:
            solutions = sympy.solve(exprs, symbols, dict=True)
        except (NotImplementedError, ValueError, TypeError):
            solutions = []
        if len(solutions) != 1 or set(solutions[0]) != set(symbols):
            found = "no" if not solutions else "more than one" if len(solutions) > 1 else \
                "no complete"
            raise self.fail(f"algebraic rules for {', '.join(sids)}: SymPy finds {found} "
                            "exact solution; il2sim models are explicit ODEs",
                            "algebraic rules")
        for sid, symbol in zip(sids, symbols):
            self.rules[sid] = solutions[0][symbol]
            self.assign_rules[sid] = self.algebraic[0]  # the role: defined by a rule

    def _unique_local(self, base: str) -> str:
        name = legal_name(base)
        while name in self.taken or name in self.names.values():
            name += "_"
        self.taken.add(name)
        return name

    def _known(self, var: str, what: str) -> None:
        if var not in self.names:
            raise self.fail(f"{what} for unknown symbol {var!r}", "invalid SBML")

    # -- initial values --------------------------------------------------------------------
    def _initial_values(self) -> None:
        """Value of every symbol at t = 0 (initial assignments and rules included)."""
        self.values: dict[str, float | None] = {}
        self.defining: dict[str, Expr | None] = {}
        for sid in self.names:
            self.defining[sid] = self._initial_expr(sid)
        for name, (_, initial) in self.moieties.items():
            self.defining[name] = initial
        self._evaluating: list[str] = []

    def _initial_expr(self, sid: str) -> Expr | None:
        if sid in self.initial_math:
            return self.initial_math[sid]
        if sid in self.rules:
            return self.rules[sid]
        if sid in self.compartments:
            c = self.compartments[sid]
            if c.isSetSize():
                return sympy.Float(c.getSize())
            return sympy.Integer(1) if self.level[0] < 3 else None
        if sid in self.parameters:
            p = self.parameters[sid]
            return sympy.Float(p.getValue()) if p.isSetValue() else None
        if sid in self.species:
            s = self.species[sid]
            size = sympy.Symbol(self.names[s.getCompartment()], real=True)
            if s.isSetInitialAmount():
                amount = sympy.Float(s.getInitialAmount())
                return amount if self.only_substance[sid] else amount / size
            if s.isSetInitialConcentration():
                conc = sympy.Float(s.getInitialConcentration())
                return conc * size if self.only_substance[sid] else conc
            return None
        if sid in self.refs:
            sr = self.refs[sid]
            return sympy.Float(sr.getStoichiometry()) if sr.isSetStoichiometry() else None
        return None

    def value(self, sid: str) -> float:
        """Initial value of an SBML symbol (or a local parameter's il2sim name)."""
        if sid in self.local:
            return self.local[sid][1]
        cached = self.values.get(sid)
        if cached is not None:
            return cached
        if sid in self._evaluating:
            cycle = " -> ".join(self._evaluating[self._evaluating.index(sid):] + [sid])
            raise self.fail(f"initial values depend on each other in a cycle ({cycle})",
                            "algebraic loop")
        expr = self.defining.get(sid)
        if expr is None:
            raise self.fail(f"{sid!r} has no initial value (no value, initial assignment or "
                            "rule)", "undefined value")
        expr = self._replace_rate_of(expr, self.equations, sid)
        self._evaluating.append(sid)
        try:
            if expr.has(delay_fn):
                expr = self._before_start(expr, sid)
            subs = {s: sympy.Float(self.value(self.by_name[str(s)]))
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

    def _expand_rules(self, expr: Expr, depth: int = 0) -> Expr:
        """``expr`` with assignment-rule symbols replaced by their rules (recursively)."""
        subs = {}
        for symbol in expr.free_symbols:
            sid = self.by_name.get(str(symbol))
            if sid in self.rules and depth < 100:
                subs[symbol] = self._expand_rules(
                    self._replace_rate_of(self.rules[sid], self.equations, sid), depth + 1)
        return expr.xreplace(subs) if subs else expr

    def _before_start(self, expr: Expr, where: str) -> Expr:
        """``expr`` at t = 0 with each ``delay(x, d)`` as ``x`` at time ``-d``: states and
        parameters at their initial values, assignment rules (which hold at all times) of
        time at ``-d`` (SBML Test Suite cases 01318, 01522)."""
        def history(term: Expr) -> Expr:
            arg, lag = term.args
            lag = lag.xreplace({s: sympy.Float(self.value(self.by_name[str(s)]))
                                for s in lag.free_symbols if s != TIME})
            return self._expand_rules(arg).xreplace({TIME: -lag})
        return expr.replace(lambda e: isinstance(e, delay_fn), history)

    def _check_delays(self, exprs: Iterable[Expr]) -> None:
        """Refuse a delayed variable whose initial assignment depends on time: SBML takes
        that assignment as its history before t = 0 (Test Suite case 00938), il2sim the
        initial value; and delays in a model with fast reactions (case 01539)."""
        for expr in exprs:
            for term in expr.atoms(delay_fn):
                if term.args[0].has(delay_fn) or term.args[1].has(delay_fn):
                    raise self.fail(f"{term}: a nested delay is not supported", "delay")
                if not self._constant_in_time(term.args[1]) or \
                        term.args[1].free_symbols & {sympy.Symbol(self.names[sid], real=True)
                                                     for sid in self.event_targets
                                                     if sid in self.names}:
                    raise self.fail(f"{term}: the delay must be constant (il2sim simulates "
                                    "delays of numbers and parameters only)", "delay")
                if self.moieties:
                    raise self.fail(f"{term} in a model with fast reactions: SBML's history "
                                    "before t = 0 is the state before their equilibrium, "
                                    "which il2sim does not keep", "delay")
                for symbol in self._expand_rules(term.args[0]).free_symbols:
                    sid = self.by_name.get(str(symbol))
                    if sid in self.initial_math and self.initial_math[sid].has(TIME):
                        raise self.fail(f"{term}: {sid!r} has an initial assignment of time, "
                                        "which SBML takes as its history before t = 0; il2sim "
                                        "holds the initial value there", "delay")

    # -- the model -------------------------------------------------------------------------
    def _equations(self) -> None:
        """d(value)/dt of every state: its rate rule, or its reactions."""
        sym = {sid: sympy.Symbol(n, real=True) for sid, n in self.names.items()}
        equations: dict[str, Expr] = {}
        for sid, role in self.role.items():
            if role != "state":
                continue
            equations[sid] = self.rates[sid] if sid in self.rates else sympy.Integer(0)
        self.amount_equations: dict[str, Expr] = {sid: sympy.Integer(0) for sid in self.amounts}
        for rid, r in self.reactions.items():
            if rid in self.fast:
                continue  # at equilibrium: see _fast_equilibrium
            for sign, refs in ((-1, r.getListOfReactants()), (1, r.getListOfProducts())):
                for sr in refs:
                    sid = sr.getSpecies()
                    species = self.species[sid]
                    amount = sid in self.amounts and not (species.getBoundaryCondition()
                                                          or species.getConstant())
                    if not amount and (self.role.get(sid) != "state" or sid in self.rates):
                        continue  # boundary, constant or rule-driven species
                    stoich = self._stoichiometry(sr, rid)
                    term = sign * stoich * sym[rid]
                    factor = self._conversion_factor(sid)
                    if factor is not None:
                        term = term * sym[factor]
                    if amount:
                        self.amount_equations[sid] += term
                        continue
                    if not self.only_substance[sid]:
                        term = term / sym[self.species[sid].getCompartment()]
                    equations[sid] = equations[sid] + term
        self.by_name = {name: sid for sid, name in self.names.items()}
        for name in self.local:
            self.by_name[name] = name
        if self.fast:
            self._fast_equilibrium(equations)
        self.equations = self._substitute_rate_of(equations)
        self.amount_equations = {sid: self._replace_rate_of(e, self.equations, sid)
                                 for sid, e in self.amount_equations.items()}

    def _fast_equilibrium(self, equations: dict[str, Expr]) -> None:
        """Fast reactions at equilibrium (SBML Level 2: they act instantaneously).

        With ``N`` the fast reactions' stoichiometry over the species they change, each
        row ``l`` of the left null space of ``N`` is a conserved moiety ``M = sum l_i a_i``
        of amounts ``a_i`` that only slow reactions and rules change: it becomes a state,
        ``dM/dt = sum l_i da_i/dt`` (slow terms). The species are then the solution of
        ``kinetic law = 0`` for every fast reaction together with the moieties, where SymPy
        finds it exactly and uniquely; otherwise the model is refused.
        """
        fail = "fast reactions"
        species: list[str] = []
        for rid in self.fast:
            for sr in self._references(self.reactions[rid]):
                sid = sr.getSpecies()
                if self.role.get(sid) == "state" and sid not in self.rates \
                        and sid not in species:
                    species.append(sid)
                elif self.role.get(sid) not in ("param", "state"):
                    raise self.fail(f"fast reaction {rid!r}: species {sid!r} is not a plain "
                                    "state (rule, or a compartment that changes size)", fail)
        matrix = sympy.zeros(len(species), len(self.fast))
        for j, rid in enumerate(self.fast):
            r = self.reactions[rid]
            for sign, refs in ((-1, r.getListOfReactants()), (1, r.getListOfProducts())):
                for sr in refs:
                    if sr.getSpecies() in species:
                        stoich = self._stoichiometry(sr, rid)
                        if not stoich.is_number:
                            raise self.fail(f"fast reaction {rid!r}: variable stoichiometry",
                                            fail)
                        factor = self._conversion_factor(sr.getSpecies())
                        if factor is not None:
                            stoich = stoich * sympy.Symbol(self.names[factor], real=True)
                        matrix[species.index(sr.getSpecies()), j] += sign * stoich
        changed = {self.names[t] for t in self.event_targets if t in self.names}
        for rid in self.fast:
            if {str(x) for x in self.rules[rid].free_symbols} & changed:
                raise self.fail(f"fast reaction {rid!r}: an event changes its kinetic law, "
                                "which may leave its equilibrium undetermined", fail)
        if matrix.rank() != len(self.fast):
            raise self.fail("fast reactions whose stoichiometries are dependent", fail)
        sym = {sid: sympy.Symbol(self.names[sid], real=True) for sid in species}

        def amount(sid: str, value: Expr) -> Expr:
            if self.only_substance[sid]:
                return value
            return value * sympy.Symbol(self.names[self.species[sid].getCompartment()],
                                        real=True)

        constraints = [self.rules[rid] for rid in self.fast]
        for row in matrix.T.nullspace():
            name = self._unique_local("moiety")
            moiety = sympy.Symbol(name, real=True)
            rate = sum((row[i] * amount(sid, equations[sid]) for i, sid in enumerate(species)),
                       sympy.Integer(0))
            start = {sid: self._initial_expr(sid) for sid in species}
            initial = sum((row[i] * amount(sid, sympy.nan if start[sid] is None else start[sid])
                           for i, sid in enumerate(species)), sympy.Integer(0))
            self.moieties[name] = (rate, initial)
            constraints.append(sum((row[i] * amount(sid, sym[sid])
                                    for i, sid in enumerate(species)), sympy.Integer(0))
                               - moiety)
            self.by_name[name] = name
        unknowns = [sym[sid] for sid in species]
        groups: list[tuple[list[Expr], set[Expr]]] = []  # constraints coupled by unknowns
        for c in constraints:
            own = c.free_symbols & set(unknowns)
            coupled = [g for g in groups if g[1] & own]
            merged = ([c] + [x for g in coupled for x in g[0]],
                      own.union(*(g[1] for g in coupled)))
            groups = [g for g in groups if not g[1] & own] + [merged]
        solution: dict[Expr, Expr] = {}
        self.fast_check = sympy.Integer(1)
        for group, own in groups:
            variables = sorted(own, key=str)
            try:
                found = sympy.solve(group, variables, dict=True)
            except (NotImplementedError, ValueError, TypeError):
                found = []
            if len(group) != len(variables) or len(found) != 1 or set(found[0]) != own:
                names = (", ".join(map(str, variables[:6])) + (", ..." if len(variables) > 6
                                                                else "")
                         or "a kinetic law without its reaction's species")
                raise self.fail(f"fast reactions ({len(self.fast)}): SymPy finds no unique "
                                f"exact equilibrium for {names}", fail)
            solution.update(found[0])
            self.fast_check *= sympy.Matrix(group).jacobian(variables).det()
        for sid in species:
            self.rules[sid] = solution[sym[sid]]
            self.role[sid] = "rule"
            del equations[sid]

    def _build(self) -> Model:
        names = self.names
        equations = self.equations
        rules = {sid: self._replace_rate_of(e, equations, sid) for sid, e in self.rules.items()}
        for sid in [s for s, role in self.role.items() if role == "param"]:
            # the spec's parameters are finite: a constant inf or NaN is an intermediate
            node = self.meta.get(sid)
            if sid in self.event_targets or (node is not None and _tag(node) == "input"):
                continue
            try:
                value = self.value(sid)
            except SbmlError:
                continue
            if not math.isfinite(value):
                rules[sid] = sympy.nan if math.isnan(value) else \
                    (sympy.oo if value > 0 else -sympy.oo)
                self.role[sid] = "rule"
        amount_states: list[State] = []
        amount_text: dict[str, str] = {}
        for sid, name in self.amounts.items():  # concentration = amount / size
            cid = self.species[sid].getCompartment()
            rules[sid] = sympy.Symbol(name, real=True) / sympy.Symbol(names[cid], real=True)
            amount = self.value(sid) * self.value(cid)
            if not math.isfinite(amount):
                raise self.fail(f"initial amount of {sid!r} is {amount:g}: il2sim states must "
                                "start finite", "non-finite value")
            amount_states.append(State(name, amount, self._amount_unit(sid),
                                       f"amount of SBML species {sid!r} (its compartment "
                                       f"{cid!r} changes size; {names[sid]} = {name}/"
                                       f"{names[cid]})", signed=amount < 0))
            amount_text[name] = to_text(self.amount_equations[sid])
        # which symbols the dynamics use
        used: set[str] = set()
        event_exprs = [e for _, trigger, lag, priority, assignments in self.event_math
                       for e in (trigger, lag, priority, *(v for _, v in assignments))
                       if e is not None]
        self._check_delays((*equations.values(), *rules.values(),
                            *self.amount_equations.values(), *event_exprs))
        for expr in (*equations.values(), *rules.values(), *self.amount_equations.values(),
                     *event_exprs):
            used |= {str(s) for s in expr.free_symbols}
        referenced_rules = {sid for sid in rules if names[sid] in used}
        deps = {sid: {self.by_name[str(s)] for s in e.free_symbols
                      if str(s) in self.by_name and self.by_name[str(s)] in rules}
                for sid, e in rules.items()}
        order = _toposort(deps, "assignment rules and reaction rates")
        roles = {sid: _tag(node) for sid, node in self.meta.items() if sid}
        observables = [sid for sid in order if sid not in self.reactions
                       and (roles.get(sid) == "observable"
                            or (sid not in referenced_rules and roles.get(sid) is None))]
        intermediates = [sid for sid in order if sid not in observables]

        states: list[State] = []
        for sid in self.role:
            if self.role[sid] != "state":
                continue
            value = self.value(sid)
            if not math.isfinite(value):
                raise self.fail(f"initial value of {sid!r} is not finite ({value})",
                                "non-finite value")
            node = self.meta.get(sid)
            log = node is not None and _tag(node) == "state" and node.get("log") == "true"
            # a species may be negative only if it starts so; other SBML quantities freely
            signed = (node.get("signed") == "true" if node is not None and
                      _tag(node) == "state" else value < 0 or sid not in self.species)
            if node is not None and _tag(node) == "state":
                value = _exact_value(node, value)
            states.append(State(names[sid], value, self._unit(sid), self._meaning(sid),
                                log=log, signed=signed))
        params: list[Param] = []
        inputs: list[Input] = []
        dropped: list[str] = []
        for sid in self.role:
            if self.role[sid] != "param":
                continue
            node = self.meta.get(sid)
            if node is not None and _tag(node) == "input":
                inputs.append(Input(names[sid], node.get("unit", UNDECLARED),
                                    node.get("meaning", "input")))
                continue
            if node is not None and _tag(node) == "container" and names[sid] not in used:
                dropped.append(sid)
                continue
            try:
                value = self.value(sid)
            except SbmlError:
                if names[sid] in used or self.defining.get(sid) is not None:
                    raise
                dropped.append(sid)
                continue
            if not math.isfinite(value):
                raise self.fail(f"value of {sid!r} is not finite ({value})", "non-finite value")
            params.append(self._param(sid, value))
        for name, (lid, value, _) in self.local.items():
            if not math.isfinite(value):
                raise self.fail(f"local parameter {lid!r} is not finite", "non-finite value")
            params.append(Param(name, value, UNDECLARED,
                                f"local parameter {lid!r} of a reaction", self._source(),
                                (-math.inf, math.inf)))
        for sid in dropped:
            del self.names[sid]
        states += amount_states
        if self.moieties:  # the equilibrium must be unique where the run starts
            check = self.fast_check.xreplace(
                {x: sympy.Float(self.value(self.by_name[str(x)]))
                 for x in self.fast_check.free_symbols if x != TIME}).xreplace(
                {TIME: sympy.Integer(0)})
            if not (check.is_number and check != 0 and check.is_finite):
                raise self.fail("fast reactions: their equilibrium is not unique at the start "
                                f"(Jacobian determinant {check})", "fast reactions")
        for name, (rate, _) in self.moieties.items():
            states.append(State(name, self.value(name), UNDECLARED,
                                "conserved moiety of fast reactions (their species are at "
                                "equilibrium)", signed=True))
            amount_text[name] = to_text(self._replace_rate_of(rate, equations, name))
        if not states:  # the spec needs a state; a constant one changes nothing
            name = self._unique_local("no_state")
            states.append(State(name, 0.0, "1", EMPTY_STATE_MEANING))
            equations_text = {name: "0"}
        else:
            equations_text = {}
        equations_text.update({names[sid]: to_text(e) for sid, e in equations.items()})
        equations_text.update(amount_text)
        items = {
            sid: (names[sid], to_text(rules[sid]), self._unit(sid), self._meaning(sid))
            for sid in order
        }
        meta_model = self.meta.get("")
        model_name = (meta_model.get("name") if meta_model is not None else None) \
            or legal_name(self.sbml.getId() or self.path.stem)
        try:
            return Model(
                name=model_name,
                title=self._title(meta_model),
                citation=(meta_model.get("citation") if meta_model is not None else None)
                or self._citation(),
                time_unit=(meta_model.get("time_unit") if meta_model is not None else None)
                or self._time_unit(),
                states=tuple(states),
                params=tuple(params),
                equations=equations_text,
                inputs=tuple(inputs),
                intermediates=tuple(Intermediate(*items[sid]) for sid in intermediates),
                observables=tuple(Observable(*items[sid]) for sid in observables),
                routes=self._routes(meta_model, inputs),
                notes=self._notes(meta_model, dropped),
                events=self._events(),
            )
        except ModelError as exc:
            raise self.fail(f"cannot build an il2sim model: {exc}", "model spec") from None

    def _events(self) -> tuple[Event, ...]:
        """The model's events: targets mapped to states and parameters (a concentration
        integrated as an amount is set through ``amount = value * size``)."""
        events = []
        taken: set[str] = set()
        for event, trigger, delay, priority, assignments in self.event_math:
            eid = event.getId() or "event"
            node = _il2sim_annotation(event)
            meta = node if node is not None and _tag(node) == "event" else None
            name = str(meta.get("name")) if meta is not None and meta.get("name") else \
                legal_name(eid)
            while name in taken:
                name += "_"
            taken.add(name)
            where = f"event {eid!r}"
            pairs = []
            new_size = {var: value for var, value in assignments if var in self.compartments}
            for var, value in assignments:
                role = self.role.get(var)
                value = self._replace_rate_of(value, self.equations, where)
                # SBML: an assigned concentration is an amount at the size before the
                # event; a size the event changes keeps amounts (test suite 01506, 01779)
                cid = self.species[var].getCompartment() if var in self.species else ""
                if role == "amount":
                    size = sympy.Symbol(self.names[cid], real=True)
                    pairs.append((self.amounts[var], to_text(value * size)))
                elif role == "state" and cid in new_size and not self.only_substance[var]:
                    size = sympy.Symbol(self.names[cid], real=True)
                    pairs.append((self.names[var], to_text(value * size / new_size[cid])))
                elif role in ("state", "param"):
                    pairs.append((self.names[var], to_text(value)))
                else:
                    raise self.fail(f"{where} assigns {var!r}, which a rule defines",
                                    "invalid SBML")
            assigned = {var for var, _ in assignments}
            for sid, species in self.species.items():  # amounts stay when a size changes
                cid = species.getCompartment()
                if cid in new_size and sid not in assigned and self.role[sid] == "state" \
                        and not self.only_substance[sid]:
                    symbol, size = (sympy.Symbol(self.names[x], real=True) for x in (sid, cid))
                    pairs.append((self.names[sid], to_text(symbol * size / new_size[cid])))
            trigger = self._replace_rate_of(trigger, self.equations, where)
            if self.level[0] >= 3:
                persistent = bool(event.getTrigger().getPersistent())
                initial_value = bool(event.getTrigger().getInitialValue())
            else:  # Level 2: a trigger true at the start does not fire; never cancelled
                persistent = initial_value = True
            use_trigger = (bool(event.getUseValuesFromTriggerTime())
                           if event.isSetUseValuesFromTriggerTime() or self.level[0] < 3
                           else True)
            events.append(Event(
                name, to_text(trigger), tuple(pairs),
                delay=None if delay is None else
                to_text(self._replace_rate_of(delay, self.equations, where)),
                priority=None if priority is None else
                to_text(self._replace_rate_of(priority, self.equations, where)),
                persistent=persistent, initial_value=initial_value,
                use_values_from_trigger_time=use_trigger,
                meaning=str(meta.get("meaning", "")) if meta is not None else
                f"SBML event {eid!r}"))
        return tuple(events)

    def _stoichiometry(self, sr: libsbml.SpeciesReference, rid: str) -> Expr:
        if sr.isSetId() and sr.getId() in self.names:
            return sympy.Symbol(self.names[sr.getId()], real=True)
        if sr.isSetStoichiometryMath():  # Level 2: the stoichiometry at each time
            return self.reader.number(sr.getStoichiometryMath().getMath(),
                                      f"stoichiometry math of {sr.getSpecies()!r} in {rid!r}")
        if self.level[0] < 3 or sr.isSetStoichiometry():
            value = float(sr.getStoichiometry())
            if not math.isfinite(value):
                raise self.fail(f"stoichiometry of {sr.getSpecies()!r} in reaction {rid!r} is "
                                f"not a finite number ({value})", "non-finite value")
            return sympy.Integer(int(value)) if value == int(value) else sympy.Float(value)
        raise self.fail(f"stoichiometry of {sr.getSpecies()!r} in reaction {rid!r} is not set",
                        "undefined value")

    def _conversion_factor(self, sid: str) -> str | None:
        s = self.species[sid]
        if self.level[0] >= 3:
            if s.isSetConversionFactor():
                return str(s.getConversionFactor())
            if self.sbml.isSetConversionFactor():
                return str(self.sbml.getConversionFactor())
        return None

    def _substitute_rate_of(self, equations: dict[str, Expr]) -> dict[str, Expr]:
        return {sid: self._replace_rate_of(e, equations, sid) for sid, e in equations.items()}

    def _replace_rate_of(self, expr: Expr, equations: Mapping[str, Expr], where: str) -> Expr:
        if not expr.has(_RATE_OF):
            return expr
        if expr.has(delay_fn):  # before t = 0 the history is constant: every rate is 0
            def delayed(term: Expr) -> Expr:
                arg, lag = term.args
                if not arg.has(_RATE_OF):
                    return term
                before = arg.replace(lambda e: isinstance(e, _RATE_OF),
                                     lambda e: sympy.Integer(0))
                after = self._replace_rate_of(arg, equations, where)
                return sympy.Piecewise((delay_fn(after, lag), lag <= TIME),
                                       (delay_fn(before, lag), True))
            expr = expr.replace(lambda e: isinstance(e, delay_fn), delayed)

        def rate(symbol: Expr) -> Expr:
            sid = self.by_name[str(symbol)]
            if sid in equations:
                inner = equations[sid]
                if inner.has(_RATE_OF):
                    raise self.fail(f"rateOf({sid}) in {where!r} refers to another rateOf()",
                                    "rateOf")
                return inner
            if sid in self.local or self.role.get(sid) == "param":
                return sympy.Integer(0)
            if sid in self.amounts:
                raise self.fail(f"rateOf({sid}) in {where!r}: the rate of a concentration in a "
                                "compartment whose size changes is not supported", "rateOf")
            raise self.fail(f"rateOf({sid}) in {where!r}: the rate of an assigned variable is "
                            "not supported", "rateOf")

        return expr.replace(lambda e: isinstance(e, _RATE_OF), lambda e: rate(e.args[0]))

    # -- metadata --------------------------------------------------------------------------
    def _param(self, sid: str, value: float) -> Param:
        node = self.meta.get(sid)
        if node is not None and _tag(node) == "param":
            value = _exact_value(node, value)
            return Param(self.names[sid], value, node.get("unit", UNDECLARED),
                         node.get("meaning", self._meaning(sid)),
                         node.get("source", self._source()),
                         (float(node.get("lower", "-inf")), float(node.get("upper", "inf"))))
        return Param(self.names[sid], value, self._unit(sid), self._meaning(sid),
                     self._source(), (-math.inf, math.inf))

    def _citation(self) -> str:
        """The model's id and file, and the papers its annotation says describe it."""
        text = f"SBML model {self.sbml.getId() or '(no id)'} in {self.label}"
        papers = []
        for i in range(self.sbml.getNumCVTerms()):
            cv = self.sbml.getCVTerm(i)
            described = (cv.getQualifierType() == libsbml.BIOLOGICAL_QUALIFIER
                         and cv.getBiologicalQualifierType() == libsbml.BQB_IS_DESCRIBED_BY) or (
                cv.getQualifierType() == libsbml.MODEL_QUALIFIER
                and cv.getModelQualifierType() == libsbml.BQM_IS_DESCRIBED_BY)
            if described:
                papers += [cv.getResourceURI(j) for j in range(cv.getNumResources())]
        return text + (f"; described by {', '.join(papers)}" if papers else "")

    def _source(self) -> str:
        return f"SBML file {self.label} (model {self.sbml.getId() or 'without id'})"

    def _title(self, meta: ET.Element | None) -> str:
        if meta is not None and meta.get("title"):
            return str(meta.get("title"))
        return str(self.sbml.getName() or self.sbml.getId() or self.path.stem)

    def _meaning(self, sid: str) -> str:
        node = self.meta.get(sid)
        if node is not None and node.get("meaning"):
            return str(node.get("meaning"))
        element = (self.compartments.get(sid) or self.species.get(sid)
                   or self.parameters.get(sid) or self.reactions.get(sid) or self.refs.get(sid))
        kind = ("compartment size" if sid in self.compartments else
                "species" if sid in self.species else
                "reaction rate" if sid in self.reactions else
                "stoichiometry" if sid in self.refs else "parameter")
        if sid in self.species:
            kind += " amount" if self.only_substance[sid] else \
                " concentration"
        label = element.getName() if element is not None and element.isSetName() else ""
        text = f"SBML {kind} {sid!r}" + (f": {label}" if label and label != sid else "")
        return text

    def _unit(self, sid: str) -> str:
        node = self.meta.get(sid)
        if node is not None and node.get("unit"):
            return str(node.get("unit"))
        m = self.sbml
        if sid in self.species:
            s = self.species[sid]
            substance = s.getSubstanceUnits() or (m.getSubstanceUnits() if self.level[0] >= 3
                                                  else "substance")
            amount = self._unit_text(substance)
            if self.only_substance[sid] or amount is None:
                return amount or UNDECLARED
            size = self._compartment_unit(s.getCompartment())
            if not size:
                return UNDECLARED
            return f"{amount}/({size})" if re.search(r"[*/]", size) else f"{amount}/{size}"
        if sid in self.compartments:
            return self._compartment_unit(sid) or UNDECLARED
        if sid in self.parameters:
            return self._unit_text(self.parameters[sid].getUnits()) or UNDECLARED
        if sid in self.reactions:
            extent = m.getExtentUnits() if self.level[0] >= 3 else "substance"
            per = self._unit_text(m.getTimeUnits() if self.level[0] >= 3 else "time")
            top = self._unit_text(extent)
            return f"{top}/{per}" if top and per else UNDECLARED
        if sid in self.refs:
            return "1"
        return UNDECLARED

    def _amount_unit(self, sid: str) -> str:
        s = self.species[sid]
        substance = s.getSubstanceUnits() or (self.sbml.getSubstanceUnits()
                                              if self.level[0] >= 3 else "substance")
        return self._unit_text(substance) or UNDECLARED

    def _compartment_unit(self, cid: str) -> str | None:
        c = self.compartments[cid]
        if c.getUnits():
            return self._unit_text(c.getUnits())
        dims = c.getSpatialDimensionsAsDouble() if c.isSetSpatialDimensions() else (
            3.0 if self.level[0] < 3 else math.nan)
        m = self.sbml
        if self.level[0] >= 3:
            ref = {3.0: m.getVolumeUnits(), 2.0: m.getAreaUnits(), 1.0: m.getLengthUnits()}
            return self._unit_text(ref.get(dims, ""))
        return self._unit_text({3.0: "volume", 2.0: "area", 1.0: "length"}.get(dims, ""))

    def _unit_text(self, ref: str) -> str | None:
        if not ref:
            return None
        ud = self.sbml.getUnitDefinition(ref)
        if ud is not None:
            return unit_definition_text(ud)
        if ref in _L2_UNITS and self.level[0] < 3:
            return _L2_UNITS[ref]
        if libsbml.UnitKind_isValidUnitKindString(ref, self.level[0], self.level[1]):
            return "1" if ref == "dimensionless" else ref
        return None

    def _time_unit(self) -> str:
        """The model's time unit; ``second`` (noted) where the file declares none that
        converts to a time (the engine needs one)."""
        ref = self.sbml.getTimeUnits() if self.level[0] >= 3 else "time"
        text = self._unit_text(ref)
        if text is not None:
            try:
                to_magnitude(f"1 {text}", "s", what="time unit")
                return text
            except UnitError:
                pass
        self.time_note = (f"Time unit {text!r} is not a time; taken as second." if text else
                          "The file declares no time unit; taken as second.")
        return "second"

    def _routes(self, meta: ET.Element | None, inputs: list[Input]) -> tuple[DoseRoute, ...]:
        if meta is None:
            return ()
        by_route = {}
        for sid, node in self.meta.items():
            if sid and _tag(node) == "input" and node.get("route"):
                by_route[node.get("route")] = self.names.get(sid)
        routes = []
        for node in meta:
            if _tag(node) != "route":
                continue
            name = str(node.get("name"))
            routes.append(DoseRoute(name, str(node.get("state")), str(node.get("unit")),
                                    str(node.get("meaning", "")),
                                    input=node.get("input") or by_route.get(name),
                                    fraction=node.get("fraction")))
        return tuple(routes)

    def _notes(self, meta: ET.Element | None, dropped: list[str]) -> str:
        if meta is not None:
            return str(meta.get("notes", ""))
        parts = [f"Imported from SBML Level {self.level[0]} Version {self.level[1]} "
                 f"({self.label})."]
        if self.renamed:
            parts.append("Renamed SBML ids: " + ", ".join(
                f"{k} -> {v}" for k, v in self.renamed.items()) + ".")
        if dropped:
            parts.append("Left out (no value, unused): " + ", ".join(dropped) + ".")
        if self.time_note:
            parts.append(self.time_note)
        if self.sbml.getNumConstraints():
            parts.append(f"{self.sbml.getNumConstraints()} SBML constraints ignored.")
        return " ".join(parts)
