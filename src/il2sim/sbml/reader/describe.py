"""What the SBML reader says about each quantity: unit, meaning, source, and the model's
title, citation, time unit, dose routes and notes."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import libsbml

from il2sim.model.spec import DoseRoute, Input, Param
from il2sim.sbml.mathml import unit_definition_text
from il2sim.sbml.reader.common import UNDECLARED, exact_value, tag
from il2sim.sbml.reader.source import Elements, Names, Source
from il2sim.units import UnitError, to_magnitude

__all__ = ["amount_unit", "citation", "meaning", "notes", "param", "routes", "source", "time_unit",
           "title", "unit"]

_L2_UNITS = {"substance": "mole", "volume": "litre", "area": "metre**2", "length": "metre",
             "time": "second"}


def param(src: Source, el: Elements, names: Names, sid: str, value: float) -> Param:
    node = src.meta.get(sid)
    if node is not None and tag(node) == "param":
        value = exact_value(node, value)
        return Param(names.names[sid], value, node.get("unit", UNDECLARED),
                     node.get("meaning", meaning(src, el, sid)),
                     node.get("source", source(src)),
                     (float(node.get("lower", "-inf")), float(node.get("upper", "inf"))))
    return Param(names.names[sid], value, unit(src, el, sid), meaning(src, el, sid),
                 source(src), (-math.inf, math.inf))


def citation(src: Source) -> str:
    """The model's id and file, and the papers its annotation says describe it."""
    text = f"SBML model {src.sbml.getId() or '(no id)'} in {src.label}"
    papers = []
    for i in range(src.sbml.getNumCVTerms()):
        cv = src.sbml.getCVTerm(i)
        described = (cv.getQualifierType() == libsbml.BIOLOGICAL_QUALIFIER
                     and cv.getBiologicalQualifierType() == libsbml.BQB_IS_DESCRIBED_BY) or (
            cv.getQualifierType() == libsbml.MODEL_QUALIFIER
            and cv.getModelQualifierType() == libsbml.BQM_IS_DESCRIBED_BY)
        if described:
            papers += [cv.getResourceURI(j) for j in range(cv.getNumResources())]
    return text + (f"; described by {', '.join(papers)}" if papers else "")


def source(src: Source) -> str:
    return f"SBML file {src.label} (model {src.sbml.getId() or 'without id'})"


def title(src: Source, meta: ET.Element | None) -> str:
    if meta is not None and meta.get("title"):
        return str(meta.get("title"))
    return str(src.sbml.getName() or src.sbml.getId() or src.path.stem)


def meaning(src: Source, el: Elements, sid: str) -> str:
    node = src.meta.get(sid)
    if node is not None and node.get("meaning"):
        return str(node.get("meaning"))
    element = (el.compartments.get(sid) or el.species.get(sid)
               or el.parameters.get(sid) or el.reactions.get(sid) or el.refs.get(sid))
    kind = ("compartment size" if sid in el.compartments else
            "species" if sid in el.species else
            "reaction rate" if sid in el.reactions else
            "stoichiometry" if sid in el.refs else "parameter")
    if sid in el.species:
        kind += " amount" if el.only_substance[sid] else \
            " concentration"
    label = element.getName() if element is not None and element.isSetName() else ""
    text = f"SBML {kind} {sid!r}" + (f": {label}" if label and label != sid else "")
    return text


def unit(src: Source, el: Elements, sid: str) -> str:
    node = src.meta.get(sid)
    if node is not None and node.get("unit"):
        return str(node.get("unit"))
    m, level = src.sbml, src.level
    if sid in el.species:
        s = el.species[sid]
        substance = s.getSubstanceUnits() or (m.getSubstanceUnits() if level[0] >= 3
                                              else "substance")
        amount = _unit_text(src, substance)
        if el.only_substance[sid] or amount is None:
            return amount or UNDECLARED
        size = _compartment_unit(src, el, s.getCompartment())
        if not size:
            return UNDECLARED
        return f"{amount}/({size})" if re.search(r"[*/]", size) else f"{amount}/{size}"
    if sid in el.compartments:
        return _compartment_unit(src, el, sid) or UNDECLARED
    if sid in el.parameters:
        return _unit_text(src, el.parameters[sid].getUnits()) or UNDECLARED
    if sid in el.reactions:
        extent = m.getExtentUnits() if level[0] >= 3 else "substance"
        per = _unit_text(src, m.getTimeUnits() if level[0] >= 3 else "time")
        top = _unit_text(src, extent)
        return f"{top}/{per}" if top and per else UNDECLARED
    if sid in el.refs:
        return "1"
    return UNDECLARED


def amount_unit(src: Source, el: Elements, sid: str) -> str:
    s = el.species[sid]
    substance = s.getSubstanceUnits() or (src.sbml.getSubstanceUnits()
                                          if src.level[0] >= 3 else "substance")
    return _unit_text(src, substance) or UNDECLARED


def _compartment_unit(src: Source, el: Elements, cid: str) -> str | None:
    c = el.compartments[cid]
    if c.getUnits():
        return _unit_text(src, c.getUnits())
    dims = c.getSpatialDimensionsAsDouble() if c.isSetSpatialDimensions() else (
        3.0 if src.level[0] < 3 else math.nan)
    m = src.sbml
    if src.level[0] >= 3:
        ref = {3.0: m.getVolumeUnits(), 2.0: m.getAreaUnits(), 1.0: m.getLengthUnits()}
        return _unit_text(src, ref.get(dims, ""))
    return _unit_text(src, {3.0: "volume", 2.0: "area", 1.0: "length"}.get(dims, ""))


def _unit_text(src: Source, ref: str) -> str | None:
    if not ref:
        return None
    ud = src.sbml.getUnitDefinition(ref)
    if ud is not None:
        return unit_definition_text(ud)
    if ref in _L2_UNITS and src.level[0] < 3:
        return _L2_UNITS[ref]
    if libsbml.UnitKind_isValidUnitKindString(ref, src.level[0], src.level[1]):
        return "1" if ref == "dimensionless" else ref
    return None


def time_unit(src: Source) -> tuple[str, str]:
    """The model's time unit, and a note: ``second`` (noted) where the file declares none
    that converts to a time (the engine needs one); the note is empty otherwise."""
    ref = src.sbml.getTimeUnits() if src.level[0] >= 3 else "time"
    text = _unit_text(src, ref)
    if text is not None:
        try:
            to_magnitude(f"1 {text}", "s", what="time unit")
            return text, ""
        except UnitError:
            pass
    note = (f"Time unit {text!r} is not a time; taken as second." if text else
            "The file declares no time unit; taken as second.")
    return "second", note


def routes(src: Source, names: Names, meta: ET.Element | None,
           inputs: list[Input]) -> tuple[DoseRoute, ...]:
    if meta is None:
        return ()
    by_route = {}
    for sid, node in src.meta.items():
        if sid and tag(node) == "input" and node.get("route"):
            by_route[node.get("route")] = names.names.get(sid)
    out = []
    for node in meta:
        if tag(node) != "route":
            continue
        name = str(node.get("name"))
        out.append(DoseRoute(name, str(node.get("state")), str(node.get("unit")),
                             str(node.get("meaning", "")),
                             input=node.get("input") or by_route.get(name),
                             fraction=node.get("fraction")))
    return tuple(out)


def notes(src: Source, names: Names, meta: ET.Element | None, dropped: list[str],
          time_note: str) -> str:
    if meta is not None:
        return str(meta.get("notes", ""))
    parts = [f"Imported from SBML Level {src.level[0]} Version {src.level[1]} "
             f"({src.label})."]
    if names.renamed:
        parts.append("Renamed SBML ids: " + ", ".join(
            f"{k} -> {v}" for k, v in names.renamed.items()) + ".")
    if dropped:
        parts.append("Left out (no value, unused): " + ", ".join(dropped) + ".")
    if time_note:
        parts.append(time_note)
    if src.sbml.getNumConstraints():
        parts.append(f"{src.sbml.getNumConstraints()} SBML constraints ignored.")
    return " ".join(parts)
