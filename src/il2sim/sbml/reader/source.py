"""Stages 1-3 of the SBML reader: the document (read, validated, flattened, refused where
il2sim cannot represent it), its elements by kind, and their il2sim names."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import libsbml

from il2sim.sbml.mathml import SbmlError
from il2sim.sbml.reader.common import il2sim_annotation, legal_name, references, tag

__all__ = ["Elements", "Names", "Source", "collect", "name_symbols", "open_source"]

_PACKAGES_OK = {"layout", "render", "l3v2extendedmath"}


@dataclass(frozen=True)
class Source:
    """The SBML document and its model, with the file's il2sim annotations.

    ``meta`` maps an element id to its ``il2sim:*`` annotation (``""``: the model's)."""

    path: Path
    label: str
    doc: libsbml.SBMLDocument
    sbml: libsbml.Model
    level: tuple[int, int]
    meta: dict[str, ET.Element]

    def fail(self, message: str, construct: str = "") -> SbmlError:
        return fail(self.label, message, construct)


def fail(label: str, message: str, construct: str = "") -> SbmlError:
    return SbmlError(f"{label}: {message}", construct)


def open_source(path: Path) -> Source:
    """Stage 1: the file read by libSBML, refused when invalid, Level 1, of a package
    il2sim does not read, carrying il2sim dose events, or with a reaction without a kinetic
    law; a hierarchical (comp) model flattened first."""
    label = str(path)
    doc = _document(path, label)
    sbml = doc.getModel()
    _refuse_unsupported(sbml, label)
    return Source(path, label, doc, sbml, (doc.getLevel(), doc.getVersion()),
                  dict(_annotations(sbml)))


def _document(path: Path, label: str) -> libsbml.SBMLDocument:
    if not path.is_file():
        raise fail(label, "no such file", "file")
    doc = libsbml.readSBMLFromFile(str(path))
    errors = [doc.getError(i) for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if errors:
        e = errors[0]
        message = " ".join(e.getMessage().split())
        raise fail(label, f"not valid SBML (line {e.getLine()}): {message}", "invalid SBML")
    if doc.getModel() is None:
        raise fail(label, "the SBML document has no model", "invalid SBML")
    if doc.getLevel() < 2:
        raise fail(label, f"SBML Level {doc.getLevel()} is not supported (Level 2 or 3 only)",
                   "SBML Level 1")
    if doc.getPlugin("comp") is not None:
        doc = _flatten(doc, path, label)
    for i in range(doc.getNumPlugins()):
        package = doc.getPlugin(i).getPackageName()
        if package not in _PACKAGES_OK:
            raise fail(label, f"SBML package {package!r} is not supported (il2sim reads "
                       "SBML core models)", f"package {package}")
    return doc


def _flatten(doc: libsbml.SBMLDocument, path: Path, label: str) -> libsbml.SBMLDocument:
    """A hierarchical (comp) document as the one plain model it stands for.

    libSBML's ``CompFlatteningConverter`` instantiates every submodel (ids prefixed
    ``<submodel>__``), applies deletions, replacements and conversion factors, and drops
    the comp package (SBML Level 3 comp Version 1, Smith et al. 2015,
    doi:10.1515/jib-2015-268). External model definitions are read relative to the
    file's folder. Refused when the flattening fails, naming libSBML's first error.
    """
    props = libsbml.ConversionProperties()
    props.addOption("flatten comp", True)
    props.addOption("basePath", str(path.resolve().parent))
    props.addOption("leave_ports", False)
    props.addOption("abortIfUnflattenable", "all")  # an unknown package is refused
    status = doc.convert(props)
    errors = [doc.getError(i) for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if status != libsbml.LIBSBML_OPERATION_SUCCESS or errors:
        detail = (" ".join(errors[-1].getMessage().split()) if errors
                  else libsbml.OperationReturnValue_toString(status))
        external = any(e.getErrorId() == libsbml.CompUnresolvedReference for e in errors)
        raise fail(label, f"cannot flatten the hierarchical model (SBML package 'comp'): "
                   f"{detail}", "comp external model" if external else "package comp")
    if doc.getModel() is None:
        raise fail(label, "the flattened hierarchical model (SBML package 'comp') has no "
                   "model", "package comp")
    return doc


def _refuse_unsupported(m: libsbml.Model, label: str) -> None:
    doses = [event.getId() for event in m.getListOfEvents()
             if (node := il2sim_annotation(event)) is not None and tag(node) == "dose"]
    if doses:
        raise fail(label, f"dose events written by il2sim ({len(doses)} in the file) are a "
                   "regimen, not part of the model: export the model without a "
                   "regimen to re-import it", "events")
    for r in m.getListOfReactions():
        if not r.isSetKineticLaw() or r.getKineticLaw().getMath() is None:
            raise fail(label, f"reaction {r.getId()!r} has no kinetic law",
                       "reaction without kinetic law")


def _annotations(m: libsbml.Model) -> Iterable[tuple[str, ET.Element]]:
    for element in (*m.getListOfParameters(), *m.getListOfSpecies(),
                    *m.getListOfCompartments()):
        node = il2sim_annotation(element)
        if node is not None:
            yield element.getId(), node
    node = il2sim_annotation(m)
    if node is not None and tag(node) == "model":
        yield "", node


@dataclass(frozen=True)
class Elements:
    """Stage 2: the model's elements by kind (SBML id -> libSBML object).

    ``refs``: species references with an id (Level 3: symbols in math); ``events``: those
    that can fire (a trigger with math); ``only_substance``: whether a species' symbol is its
    amount (``hasOnlySubstanceUnits``, or a 0-dimensional compartment); ``species_info``:
    species id -> (compartment id, only_substance)."""

    functions: dict[str, libsbml.FunctionDefinition]
    compartments: dict[str, libsbml.Compartment]
    species: dict[str, libsbml.Species]
    parameters: dict[str, libsbml.Parameter]
    reactions: dict[str, libsbml.Reaction]
    fast: list[str]
    refs: dict[str, libsbml.SpeciesReference]
    rate_rules: dict[str, libsbml.Rule]
    assign_rules: dict[str, libsbml.Rule]
    algebraic: list[libsbml.Rule]
    initial: dict[str, libsbml.InitialAssignment]
    events: list[libsbml.Event]
    event_targets: set[str]
    only_substance: dict[str, bool]
    species_info: dict[str, tuple[str, bool]]


def collect(src: Source) -> Elements:
    """Stage 2: every element by kind; references to undeclared elements refused."""
    m, level = src.sbml, src.level
    compartments = {c.getId(): c for c in m.getListOfCompartments()}
    species = {s.getId(): s for s in m.getListOfSpecies()}
    reactions = {r.getId(): r for r in m.getListOfReactions()}
    refs: dict[str, libsbml.SpeciesReference] = {}  # symbols in math (Level 3)
    for r in m.getListOfReactions() if level[0] >= 3 else ():
        for sr in references(r):
            if sr.isSetId():
                refs[sr.getId()] = sr
    rate_rules: dict[str, libsbml.Rule] = {}
    assign_rules: dict[str, libsbml.Rule] = {}
    algebraic: list[libsbml.Rule] = []
    for i in range(m.getNumRules()):  # without math (L3V2) a rule does nothing
        rule = m.getRule(i)
        if rule.isSetMath() and rule.isAlgebraic():
            algebraic.append(rule)
        elif rule.isSetMath():
            (rate_rules if rule.isRate() else assign_rules)[rule.getVariable()] = rule
    # events that can fire: a trigger with math (L3V2 allows none: never fires)
    events = [e for e in m.getListOfEvents() if e.isSetTrigger() and e.getTrigger().isSetMath()]

    def zero_dimensional(cid: str) -> bool:
        c = compartments.get(cid)
        return c is not None and c.isSetSpatialDimensions() and \
            c.getSpatialDimensionsAsDouble() == 0

    # A species in a 0-dimensional compartment has no concentration: its symbol is its
    # amount whatever hasOnlySubstanceUnits says.
    only_substance = {
        sid: bool(s.getHasOnlySubstanceUnits()) or zero_dimensional(s.getCompartment())
        for sid, s in species.items()
    }
    el = Elements(
        functions={f.getId(): f for f in m.getListOfFunctionDefinitions()},
        compartments=compartments,
        species=species,
        parameters={p.getId(): p for p in m.getListOfParameters()},
        reactions=reactions,
        fast=[rid for rid, r in reactions.items() if r.isSetFast() and r.getFast()],
        refs=refs,
        rate_rules=rate_rules,
        assign_rules=assign_rules,
        algebraic=algebraic,
        initial={ia.getSymbol(): ia for ia in m.getListOfInitialAssignments()
                 if ia.isSetMath()},
        events=events,
        event_targets={ea.getVariable() for e in events
                       for ea in e.getListOfEventAssignments() if ea.isSetMath()},
        only_substance=only_substance,
        species_info={sid: (s.getCompartment(), only_substance[sid])
                      for sid, s in species.items()},
    )
    _check_references(src, el)
    return el


def _check_references(src: Source, el: Elements) -> None:
    """Refuse references to undeclared elements, which libSBML reads without an error
    (SBML L3V2 section 4.11.3: a species reference's ``species`` is the id of a species
    of the model; section 4.6.6: a conversion factor is a constant parameter's id)."""
    seen: set[str] = set()  # SBML L3V2 section 3.3: one SId namespace per model
    m = src.sbml
    for element in (*m.getListOfFunctionDefinitions(), *m.getListOfCompartments(),
                    *m.getListOfSpecies(), *m.getListOfParameters(),
                    *m.getListOfReactions(), *el.refs.values(), *m.getListOfEvents()):
        sid = element.getId()
        if sid and sid in seen:
            raise src.fail(f"the id {sid!r} is declared twice", "invalid SBML")
        seen.add(sid)
    for rid, r in el.reactions.items():
        for sr in (*references(r), *r.getListOfModifiers()):
            if sr.getSpecies() not in el.species:
                raise src.fail(f"reaction {rid!r} refers to undeclared species "
                               f"{sr.getSpecies()!r}", "invalid SBML")
    factors = [(f"species {sid!r}", s.getConversionFactor())
               for sid, s in el.species.items()
               if src.level[0] >= 3 and s.isSetConversionFactor()]
    if src.level[0] >= 3 and m.isSetConversionFactor():
        factors.append(("the model", m.getConversionFactor()))
    for owner, pid in factors:
        if pid not in el.parameters:
            raise src.fail(f"conversion factor of {owner} is the undeclared parameter "
                           f"{pid!r}", "invalid SBML")


@dataclass
class Names:
    """Stage 3: the il2sim name of every SBML symbol, and the registry of names in use.

    Later stages take new names from it (:meth:`unique_local`: local parameters, amount
    states, moieties) and the build drops the names of unused elements (:meth:`drop`).
    ``by_id_name`` maps an il2sim name back to its SBML id (the SBML symbols only)."""

    names: dict[str, str]
    renamed: dict[str, str]
    taken: set[str]
    by_id_name: dict[str, str] = field(default_factory=dict)

    def unique_local(self, base: str) -> str:
        """A new il2sim name from ``base``, used by no symbol and no earlier new name."""
        name = legal_name(base)
        while name in self.taken or name in self.names.values():
            name += "_"
        self.taken.add(name)
        return name

    def drop(self, sids: Iterable[str]) -> None:
        for sid in sids:
            del self.names[sid]


def name_symbols(el: Elements) -> Names:
    """Stage 3: every SBML id that is a value gets a legal, unique il2sim name."""
    ids = [*el.compartments, *el.species, *el.parameters, *el.reactions, *el.refs]
    taken = {i for i in ids if legal_name(i) == i}
    names: dict[str, str] = {}
    renamed: dict[str, str] = {}
    for sid in ids:
        name = legal_name(sid)
        if name != sid:
            while name in taken:
                name += "_"
            taken.add(name)
            renamed[sid] = name
        names[sid] = name
    return Names(names, renamed, taken, {name: sid for sid, name in names.items()})
