"""SBML export and import: validity, libRoadRunner agreement, round trips, refusals."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import libsbml
import numpy as np
import pytest

import il2sim
from il2sim import Bolus, Infusion, Model, Regimen, Schedule, presets, simulate
from il2sim.sbml import SbmlError, export_sbml, import_sbml, legal_name, read_sbml

roadrunner = pytest.importorskip("roadrunner")
roadrunner.Logger.setLevel(roadrunner.Logger.LOG_ERROR)

MODELS = [m.name for m in il2sim.list_models()]
HORIZON = {"min": 600.0, "h": 72.0, "day": 100.0}
"""Untreated horizon per model time unit: a few half-lives of the fastest PK, and a KP98
tumour crash (down to about 1e-77 cells) for the day-scale models."""
TOL = {"rtol": 1e-10, "atol": 1e-12}


def run_roadrunner(sbml: str, times: Sequence[float], names: Sequence[str]) -> np.ndarray:
    """libRoadRunner on an SBML document or file: columns time, then ``names``."""
    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-20  # states fall to 1e-77 in tumour crashes
    rr.integrator.setValue("maximum_num_steps", 200_000)
    return np.asarray(rr.simulate(float(times[0]), float(times[-1]), len(times),
                                  ["time", *names]))


def assert_close(ours: np.ndarray, theirs: np.ndarray, names: Sequence[str], *,
                 rtol: float = 1e-5, floor: float = 1e-8) -> None:
    """Per variable: |ours - theirs| <= rtol*|theirs| + max(floor*max|theirs|, 1e-15).

    The floor keeps states that decay to 1e-77 (or stay at 0 up to rounding noise) from
    demanding digits no integrator keeps."""
    for j, name in enumerate(names):
        scale = max(np.max(np.abs(theirs[:, j])), np.max(np.abs(ours[:, j])))
        np.testing.assert_allclose(ours[:, j], theirs[:, j], rtol=rtol,
                                   atol=max(floor * scale, 1e-15), err_msg=name)


def trajectories(result: il2sim.SimulationResult) -> np.ndarray:
    return np.concatenate([result.states[0], result.observables[0]], axis=1)


def horizon(model: Model) -> np.ndarray:
    return np.linspace(0.0, HORIZON.get(model.time_unit, 100.0), 201)


# ------------------------------------------------------------------------------ export


@pytest.mark.parametrize("name", MODELS)
def test_export_is_valid_sbml_l3v2_with_units_and_metadata(name: str) -> None:
    model = il2sim.get_model(name)
    doc = libsbml.readSBMLFromString(export_sbml(model))
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    assert doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) == 0
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, False)
    assert doc.checkConsistency() == 0 or doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) == 0
    m = doc.getModel()
    assert m.getNumSpecies() == len(model.states)
    assert m.getNumRules() == len(model.states) + len(model.intermediates) + len(
        model.observables)
    assert m.getNumUnitDefinitions() > 0
    for p in model.params:  # libSBML writes 15 significant digits
        par = m.getParameter(p.name)
        assert par.getConstant() and par.getValue() == pytest.approx(p.value, rel=1e-14)
        notes = html.unescape(par.getNotesString())
        assert p.source in notes and p.meaning in notes


def test_export_writes_the_file_and_units_from_pint_strings(tmp_path: Path) -> None:
    model = il2sim.get_model("aldesleukin_pk")
    path = tmp_path / "pk.xml"
    text = export_sbml(model, path)
    assert path.read_text() == text
    m = libsbml.readSBMLFromString(text).getModel()
    per_min = m.getUnitDefinition(m.getParameter("k10").getUnits())
    unit = per_min.getUnit(0)
    assert libsbml.UnitKind_toString(unit.getKind()) == "second"
    assert (unit.getExponent(), unit.getMultiplier()) == (-1, 60.0)
    litre = m.getUnitDefinition(m.getParameter("V1").getUnits()).getUnit(0)
    assert libsbml.UnitKind_toString(litre.getKind()) == "litre"
    # IU has no SBML equivalent: the species carries no unit rather than a wrong one
    assert not m.getSpecies("A_c").isSetSubstanceUnits()
    assert m.getTimeUnits() and m.getUnitDefinition(m.getTimeUnits()).getUnit(0) \
        .getMultiplier() == 60.0


@pytest.mark.parametrize("name", MODELS)
def test_libroadrunner_reproduces_untreated_trajectories(name: str) -> None:
    model = il2sim.get_model(name)
    times = horizon(model)
    names = [*model.state_names, *model.observable_names]
    ours = trajectories(simulate(model, None, times=times, **TOL))
    assert_close(ours, run_roadrunner(export_sbml(model), times, names)[:, 1:], names)


REGIMENS = {
    "label high-dose (per-kg infusions)": ("aldesleukin_pk", presets.label_high_dose(),
                                           {"weight": 70.0}, 21 * 24 * 60.0),
    "low-dose IV boluses": ("aldesleukin_pk", presets.low_dose_iv(), {"weight": 70.0},
                            21 * 24 * 60.0),
    "SC depot with bioavailability": ("aldesleukin_pk", presets.subcutaneous(weeks=2), {},
                                      14 * 24 * 60.0),
    "KP98 cells and IL-2": (
        "kp1998",
        Regimen.of(Bolus(amount="1e6 cell", route="cells"), Schedule(every="30 day", count=4))
        + Regimen.of(Infusion(rate="1e5 arb/day", duration="20 day", route="il2"),
                     Schedule(at=["0 day", "50 day"])),
        {}, 150.0),
}


@pytest.mark.parametrize("case", list(REGIMENS))
def test_libroadrunner_reproduces_a_regimen_exported_as_events(case: str) -> None:
    name, regimen, covariates, end = REGIMENS[case]
    model = il2sim.get_model(name)
    times = np.linspace(0.0, end, 1201)
    text = export_sbml(model, regimen=regimen, covariates=covariates)
    assert libsbml.readSBMLFromString(text).getModel().getNumEvents() > 0
    names = [*model.state_names, *model.observable_names]
    result = simulate(model, regimen, times=times, covariates=covariates or None, **TOL)
    assert_close(trajectories(result), run_roadrunner(text, times, names)[:, 1:], names)


def test_export_merges_simultaneous_doses_into_one_event() -> None:
    # back-to-back infusions: the end of one and the start of the next cancel exactly
    regimen = Regimen.of(Infusion(amount="1e6 IU", duration="1 h"),
                         Schedule(every="1 h", count=3))
    m = libsbml.readSBMLFromString(
        export_sbml(il2sim.get_model("aldesleukin_pk"), regimen=regimen)).getModel()
    assert m.getNumEvents() == 2  # on at 0 min, off at 180 min


def test_export_refuses_what_it_cannot_resolve() -> None:
    model = il2sim.get_model("aldesleukin_pk")
    with pytest.raises(SbmlError, match="weight"):
        export_sbml(model, regimen=presets.label_high_dose())  # per-kg dose, no weight
    with pytest.raises(SbmlError, match="no parameter 'nope'"):
        export_sbml(model, params={"nope": 1.0})
    with pytest.raises(SbmlError, match="outside its bounds"):
        export_sbml(model, params={"F_sc": 2.0})
    with pytest.raises(SbmlError, match="not a Model"):
        export_sbml("kp1998")  # type: ignore[arg-type]


def test_export_takes_parameter_values() -> None:
    m = libsbml.readSBMLFromString(
        export_sbml(il2sim.get_model("kp1998"), params={"c": 0.02})).getModel()
    assert m.getParameter("c").getValue() == 0.02


# ------------------------------------------------------------------------------ round trip


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_keeps_the_model_and_its_trajectories(name: str, tmp_path: Path) -> None:
    model = il2sim.get_model(name)
    path = tmp_path / f"{name}.xml"
    export_sbml(model, path)
    back = import_sbml(path)
    assert back.name == model.name and back.time_unit == model.time_unit
    assert back.citation == model.citation
    assert back.params == model.params  # values, units, meanings, sources, bounds
    assert back.states == model.states  # including the log flags
    assert [o.name for o in back.observables] == list(model.observable_names)
    assert [(r.name, r.state, r.fraction) for r in back.routes] == [
        (r.name, r.state, r.fraction) for r in model.routes]
    times = horizon(model)
    np.testing.assert_allclose(trajectories(simulate(back, None, times=times, **TOL)),
                               trajectories(simulate(model, None, times=times, **TOL)),
                               rtol=1e-7, atol=1e-12)


def test_round_trip_keeps_dose_routes_working(tmp_path: Path) -> None:
    model = il2sim.get_model("aldesleukin_pk")
    path = tmp_path / "pk.xml"
    export_sbml(model, path)
    back = import_sbml(path)
    regimen = presets.label_high_dose() + presets.subcutaneous(weeks=1)
    times = np.linspace(0, 7 * 24 * 60, 301)
    kw = {"times": times, "covariates": {"weight": 70.0}, **TOL}
    np.testing.assert_allclose(simulate(back, regimen, **kw).states,
                               simulate(model, regimen, **kw).states, rtol=1e-7, atol=1e-9)


def test_a_file_with_dose_events_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "dosed.xml"
    export_sbml(il2sim.get_model("kp1998"), path,
                regimen=Regimen.of(Bolus(amount="1e6 cell", route="cells"), Schedule(at=["1 day"])))
    with pytest.raises(SbmlError, match="export the model without a regimen") as info:
        import_sbml(path)
    assert info.value.construct == "events"


# ------------------------------------------------------------------------------ BioModels

BIOMODELS = {  # file: horizon in the file's time unit
    "BIOMD0000000665.xml": 300.0,
    "BIOMD0000000732.xml": 500.0,
    "BIOMD0000000779.xml": 100.0,
    "BIOMD0000000913.xml": 100.0,
    "BIOMD0000001036.xml": 100.0,
}


@pytest.mark.parametrize("filename", list(BIOMODELS))
def test_biomodels_files_import_and_match_libroadrunner(shared_data: Path,
                                                        filename: str) -> None:
    path = shared_data / "biomodels" / filename
    imported = read_sbml(path)
    times = np.linspace(0.0, BIOMODELS[filename], 201)
    result = simulate(imported.model, None, times=times, **TOL)
    species = list(imported.species)
    ours = np.stack([imported.trajectory(result, s, "concentration")[0] for s in species], 1)
    theirs = run_roadrunner(str(path), times, [f"[{s}]" for s in species])[:, 1:]
    assert_close(ours, theirs, species)


def test_biomodels_kp98_file_maps_to_species_and_parameters(shared_data: Path) -> None:
    imported = read_sbml(shared_data / "biomodels" / "BIOMD0000000732.xml")
    model = imported.model
    assert set(model.state_names) == {"Tumor", "IL2", "Immune_cells"}
    assert {"Source", "Sink"} <= set(model.param_names)  # boundary species
    assert all(not s.log for s in model.states)  # imported states are linear
    assert model.time_unit == "day"
    assert "Tumor_growth" in {i.name for i in model.intermediates}  # reaction rates


# ------------------------------------------------------------------------------ import semantics

L3 = ('<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/'
      'version2/core" level="3" version="2"><model id="m">{body}</model></sbml>')


def sbml(body: str) -> str:
    return L3.format(body=body)


def mathml(formula: str) -> str:
    node = libsbml.parseL3Formula(formula)
    assert node is not None, libsbml.getLastParseL3Error()
    return libsbml.writeMathMLToString(node).split("?>", 1)[1]


SEMANTICS = sbml(
    '<listOfFunctionDefinitions><functionDefinition id="hill">'
    + mathml("lambda(x, n, k, x^n/(k^n + x^n))")
    + "</functionDefinition></listOfFunctionDefinitions>"
    '<listOfCompartments><compartment id="cell" size="2" constant="true"/>'
    '<compartment id="pi" size="0.5" constant="true"/></listOfCompartments>'
    '<listOfSpecies>'
    '<species id="t" compartment="cell" initialConcentration="3" hasOnlySubstanceUnits="false"'
    ' boundaryCondition="false" constant="false"/>'
    '<species id="exp" compartment="pi" initialAmount="0" hasOnlySubstanceUnits="true"'
    ' boundaryCondition="false" constant="false"/>'
    '<species id="src" compartment="cell" initialConcentration="1" hasOnlySubstanceUnits="false"'
    ' boundaryCondition="true" constant="false"/>'
    '</listOfSpecies>'
    '<listOfParameters>'
    '<parameter id="k" value="0.3" constant="true"/>'
    '<parameter id="lambda" value="1" constant="true"/>'
    '<parameter id="_z" value="0" constant="false"/>'
    '<parameter id="g" constant="false"/>'
    '<parameter id="w" value="0" constant="false"/>'
    '</listOfParameters>'
    '<listOfInitialAssignments><initialAssignment symbol="lambda">'
    + mathml("2 * k + log(10, 100)") + "</initialAssignment></listOfInitialAssignments>"
    "<listOfRules>"
    '<assignmentRule variable="g">'
    + mathml("piecewise(cosh(time) - sinh(time), time < 1, root(3, 8) + (t > 1), true) + "
           "arctanh(0.5) + (xor(time > 2, t > 2) && true)")
    + "</assignmentRule>"
    '<rateRule variable="_z">' + mathml("hill(t, 2, lambda) - _z") + "</rateRule>"
    '<assignmentRule variable="w">' + mathml("max(t, exp) + abs(-t) + exponentiale") +
    "</assignmentRule>"
    "</listOfRules>"
    '<listOfReactions><reaction id="r1" reversible="false">'
    '<listOfReactants><speciesReference species="t" stoichiometry="2" constant="true"/>'
    '</listOfReactants>'
    '<listOfProducts><speciesReference species="exp" stoichiometry="1" constant="true"/>'
    '</listOfProducts>'
    "<kineticLaw>" + mathml("kf * t * cell * g / src")
    + '<listOfLocalParameters><localParameter id="kf" value="0.1"/></listOfLocalParameters>'
    "</kineticLaw></reaction></listOfReactions>"
)


def test_import_follows_sbml_semantics_like_libroadrunner(tmp_path: Path) -> None:
    path = tmp_path / "semantics.xml"
    path.write_text(SEMANTICS)
    imported = read_sbml(path)
    names = imported.names
    assert names["t"] == "t_" and names["exp"] == "exp_" and names["pi"] == "pi_"
    assert names["lambda"] == "lambda_" and names["_z"] == "z"
    assert imported.model.param("lambda_").value == pytest.approx(2.6)  # initial assignment
    assert imported.model.param("r1_kf").value == 0.1  # local parameter
    assert "t -> t_" in imported.model.notes and "_z -> z" in imported.model.notes
    times = np.linspace(0, 4, 81)
    result = simulate(imported.model, None, times=times, **TOL)
    ids = ["t", "exp", "_z", "g", "w"]
    ours = np.stack(
        [imported.trajectory(result, "t", "concentration")[0],
         imported.trajectory(result, "exp", "amount")[0],
         *[imported.trajectory(result, i)[0] for i in ids[2:]]], 1)
    theirs = run_roadrunner(SEMANTICS, times, ["[t]", "exp", "_z", "g", "w"])[:, 1:]
    assert_close(ours, theirs, ids, rtol=1e-7)
    # amounts and concentrations: t is a concentration in a compartment of size 2
    np.testing.assert_allclose(imported.trajectory(result, "t", "amount"),
                               2 * imported.trajectory(result, "t", "concentration"))


@pytest.mark.parametrize("level", [(2, 1), (2, 2), (2, 3), (2, 4), (2, 5), (3, 1), (3, 2)])
def test_import_reads_every_level_and_version(level: tuple[int, int], tmp_path: Path,
                                              shared_data: Path) -> None:
    doc = libsbml.readSBMLFromFile(str(shared_data / "biomodels" / "BIOMD0000001036.xml"))
    assert doc.setLevelAndVersion(*level, False)
    path = tmp_path / "converted.xml"
    libsbml.writeSBMLToFile(doc, str(path))
    imported = read_sbml(path)
    assert imported.level == level
    times = np.linspace(0, 50, 51)
    result = simulate(imported.model, None, times=times, **TOL)
    theirs = run_roadrunner(str(path), times, ["[Tumor_cells]"])[:, 1]
    np.testing.assert_allclose(imported.trajectory(result, "Tumor_cells", "concentration")[0],
                               theirs, rtol=1e-6)


def test_legal_names() -> None:
    assert legal_name("t") == "t_"
    assert legal_name("Max") == "Max_"
    assert legal_name("_J0") == "J0"
    assert legal_name("__") == "x"
    assert legal_name("k1") == "k1"
    assert legal_name("class") == "class_"


def test_an_unused_assignment_rule_becomes_an_observable(tmp_path: Path) -> None:
    path = tmp_path / "obs.xml"
    path.write_text(SEMANTICS)
    model = import_sbml(path)
    assert "w" in model.observable_names  # nothing refers to w
    assert "g" in {i.name for i in model.intermediates}  # the kinetic law uses g


# ------------------------------------------------------------------------------ refusals

SPECIES = ('<listOfCompartments><compartment id="c" size="1" constant="{const}"/>'
           '</listOfCompartments><listOfSpecies><species id="S" compartment="c" '
           'initialAmount="{init}" hasOnlySubstanceUnits="false" boundaryCondition="false" '
           'constant="false"/></listOfSpecies>')
PARAM = '<listOfParameters><parameter id="p" value="1" constant="false"/></listOfParameters>'


def rate_rule(formula: str, var: str = "S") -> str:
    return f'<listOfRules><rateRule variable="{var}">{mathml(formula)}</rateRule></listOfRules>'


REFUSED = {
    "delay in an event": SPECIES.format(const="true", init=1) + rate_rule("-S")
    + '<listOfEvents><event useValuesFromTriggerTime="true"><trigger initialValue="false" '
      'persistent="true">' + mathml("delay(S, time) > 1") + '</trigger><listOfEventAssignments>'
      '<eventAssignment variable="S">' + mathml("2") + "</eventAssignment>"
      "</listOfEventAssignments></event></listOfEvents>",
    "algebraic rules": SPECIES.format(const="true", init=1) + PARAM
    + f"<listOfRules><algebraicRule>{mathml('p - S')}</algebraicRule></listOfRules>",
    "delay": SPECIES.format(const="true", init=1) + rate_rule("-delay(S, S)"),
    "rateOf": SPECIES.format(const="true", init=1) + PARAM
    + '<listOfRules><assignmentRule variable="p">' + mathml("2*S") + "</assignmentRule>"
      '</listOfRules><listOfReactions><reaction id="r" reversible="false"><listOfProducts>'
      '<speciesReference species="S" stoichiometry="1" constant="true"/></listOfProducts>'
      f"<kineticLaw>{mathml('rateOf(p)')}</kineticLaw></reaction></listOfReactions>",
    "algebraic loop": SPECIES.format(const="true", init=1)
    + '<listOfParameters><parameter id="a" constant="false"/><parameter id="b" '
      'constant="false"/></listOfParameters><listOfRules>'
      f'<rateRule variable="S">{mathml("-S")}</rateRule>'
      f'<assignmentRule variable="a">{mathml("b + 1")}</assignmentRule>'
      f'<assignmentRule variable="b">{mathml("a + 1")}</assignmentRule></listOfRules>',
}


@pytest.mark.parametrize("construct", list(REFUSED))
def test_constructs_il2sim_cannot_represent_are_refused_by_name(construct: str,
                                                                 tmp_path: Path) -> None:
    text = sbml(REFUSED[construct])
    path = tmp_path / "refused.xml"
    path.write_text(text)
    with pytest.raises(SbmlError) as info:
        import_sbml(path)
    assert info.value.construct == construct.removesuffix(" in an event"), str(info.value)
    assert str(info.value).startswith(str(path))


def test_an_algebraic_rule_sympy_solves_uniquely_is_an_assignment_rule(tmp_path: Path) -> None:
    path = tmp_path / "algebraic.xml"
    path.write_text(sbml(SPECIES.format(const="true", init=3) + PARAM.replace(
        'value="1" constant="false"', 'constant="false"') + rate_rule("-S")
        + f"<listOfRules><algebraicRule>{mathml('2*p - S^3 - 1')}</algebraicRule>"
          "</listOfRules>").replace("</listOfRules><listOfRules>", ""))
    imported = read_sbml(path)
    result = simulate(imported.model, None, times=[0.0, 1.0], **TOL)
    s = 3 * np.exp(-np.array([0.0, 1.0]))
    np.testing.assert_allclose(imported.trajectory(result, "S")[0], s, rtol=1e-8)
    np.testing.assert_allclose(imported.trajectory(result, "p")[0], (s**3 + 1) / 2, rtol=1e-8)


def _level2_reaction(tmp_path: Path) -> tuple[libsbml.SBMLDocument, Path]:
    doc = libsbml.readSBMLFromString(sbml(
        SPECIES.format(const="true", init=1) + '<listOfReactions><reaction id="r" '
        'reversible="false"><listOfReactants><speciesReference species="S" stoichiometry="1" '
        'constant="true"/></listOfReactants><kineticLaw>' + mathml("0.5 * S")
        + "</kineticLaw></reaction></listOfReactions>"))
    assert doc.setLevelAndVersion(2, 4, False)
    return doc, tmp_path / "level2.xml"


def test_a_fast_reaction_is_at_equilibrium_with_its_moiety_a_state(tmp_path: Path) -> None:
    # fast A <-> B (kf*A - kr*B) and slow B -> (k*B): A + B = M with dM/dt = -k*B and
    # B = kf*M/(kf + kr), so M = M0*exp(-k*kf/(kf + kr)*t) (SBML Level 2 semantics)
    doc = libsbml.readSBMLFromString(sbml(
        '<listOfCompartments><compartment id="c" size="2" constant="true"/>'
        "</listOfCompartments><listOfSpecies>"
        + "".join(f'<species id="{x}" compartment="c" initialAmount="{a}" '
                  'hasOnlySubstanceUnits="false" boundaryCondition="false" '
                  'constant="false"/>' for x, a in (("A", 3), ("B", 1)))
        + '</listOfSpecies><listOfParameters><parameter id="kf" value="2" constant="true"/>'
        '<parameter id="kr" value="1" constant="true"/><parameter id="k" value="0.3" '
        'constant="true"/></listOfParameters><listOfReactions>'
        '<reaction id="fast" reversible="true"><listOfReactants><speciesReference '
        'species="A" stoichiometry="1" constant="true"/></listOfReactants><listOfProducts>'
        '<speciesReference species="B" stoichiometry="1" constant="true"/></listOfProducts>'
        f"<kineticLaw>{mathml('c*(kf*A - kr*B)')}</kineticLaw></reaction>"
        '<reaction id="slow" reversible="false"><listOfReactants><speciesReference '
        'species="B" stoichiometry="1" constant="true"/></listOfReactants>'
        f"<kineticLaw>{mathml('c*k*B')}</kineticLaw></reaction></listOfReactions>"))
    assert doc.setLevelAndVersion(2, 4, False)
    doc.getModel().getReaction("fast").setFast(True)
    path = tmp_path / "fast.xml"
    libsbml.writeSBMLToFile(doc, str(path))
    imported = read_sbml(path)
    times = np.array([0.0, 1.0, 5.0])
    result = simulate(imported.model, None, times=times, **TOL)
    moiety = 4.0 * np.exp(-0.3 * 2 / 3 * times)  # amounts: A + B = 4 at the start
    np.testing.assert_allclose(imported.trajectory(result, "B", "amount")[0], moiety * 2 / 3,
                               rtol=1e-8)
    np.testing.assert_allclose(imported.trajectory(result, "A", "amount")[0], moiety / 3,
                               rtol=1e-8)


def test_a_fast_reaction_without_a_unique_equilibrium_is_refused(tmp_path: Path) -> None:
    doc, path = _level2_reaction(tmp_path)
    reaction = doc.getModel().getReaction("r")
    reaction.setFast(True)
    reaction.getKineticLaw().setMath(libsbml.parseL3Formula("S^2 - 1"))  # S = 1 or -1
    libsbml.writeSBMLToFile(doc, str(path))
    with pytest.raises(SbmlError, match="no unique exact equilibrium") as info:
        import_sbml(path)
    assert info.value.construct == "fast reactions"


def test_stoichiometry_math_is_the_stoichiometry_at_each_time(tmp_path: Path) -> None:
    doc, path = _level2_reaction(tmp_path)
    reactant = doc.getModel().getReaction("r").getReactant(0)
    reactant.createStoichiometryMath().setMath(libsbml.parseL3Formula("1 + time"))
    libsbml.writeSBMLToFile(doc, str(path))
    imported = read_sbml(path)
    times = np.linspace(0, 2, 41)
    result = simulate(imported.model, None, times=times, **TOL)
    theirs = run_roadrunner(str(path), times, ["[S]"])[:, 1:]
    assert_close(imported.trajectory(result, "S", "concentration").T, theirs, ["S"],
                 rtol=1e-7)
    # dS/dt = -(1 + t) * 0.5 * S: S = exp(-(t + t^2/2)/2)
    np.testing.assert_allclose(theirs[:, 0], np.exp(-(times + times**2 / 2) / 2), rtol=1e-6)


def test_a_compartment_that_grows_keeps_amounts_and_dilutes_concentrations(
        tmp_path: Path) -> None:
    # c grows at 0.1 per unit time; S decays at 0.5 * amount; P is constant (amount kept)
    text = sbml(
        '<listOfCompartments><compartment id="c" size="1" constant="false"/>'
        '</listOfCompartments><listOfSpecies>'
        '<species id="S" compartment="c" initialConcentration="2" hasOnlySubstanceUnits="false"'
        ' boundaryCondition="false" constant="false"/>'
        '<species id="P" compartment="c" initialConcentration="1" hasOnlySubstanceUnits="false"'
        ' boundaryCondition="false" constant="true"/></listOfSpecies>'
        + rate_rule("0.1", var="c")
        + '<listOfReactions><reaction id="r" reversible="false"><listOfReactants>'
          '<speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>'
          f'<kineticLaw>{mathml("0.5 * S * c")}</kineticLaw></reaction></listOfReactions>')
    path = tmp_path / "growing.xml"
    path.write_text(text)
    imported = read_sbml(path)
    assert "S_amount" in imported.model.state_names
    times = np.linspace(0, 5, 51)
    result = simulate(imported.model, None, times=times, **TOL)
    ours = np.stack([imported.trajectory(result, "S", "concentration")[0],
                     imported.trajectory(result, "P", "amount")[0],
                     imported.trajectory(result, "P", "concentration")[0]], 1)
    theirs = run_roadrunner(text, times, ["[S]", "P", "[P]"])[:, 1:]
    assert_close(ours, theirs, ["[S]", "P", "[P]"], rtol=1e-7)
    np.testing.assert_allclose(ours[:, 1], 1.0)  # the amount of a constant species
    np.testing.assert_allclose(ours[:, 2], 1.0 / (1 + 0.1 * times))


def test_packages_are_refused(shared_data: Path) -> None:
    fbc = shared_data / "sbml-test-suite/cases/01186/01186-sbml-l3v2.xml"
    with pytest.raises(SbmlError, match="package 'fbc'") as info:
        import_sbml(fbc)
    assert info.value.construct == "package fbc"


def test_bad_files_give_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SbmlError, match="no such file"):
        import_sbml(tmp_path / "missing.xml")
    bad = tmp_path / "bad.xml"
    bad.write_text("<sbml")
    with pytest.raises(SbmlError, match="not valid SBML"):
        import_sbml(bad)
    bad.write_text("<?xml version='1.0'?><notsbml/>")
    with pytest.raises(SbmlError):
        import_sbml(bad)


def test_constant_math_of_functions_the_spec_lacks_is_evaluated(tmp_path: Path) -> None:
    path = tmp_path / "const.xml"
    path.write_text(sbml(SPECIES.format(const="true", init=1) + rate_rule("-S * floor(2.7)")
                         + '<listOfParameters><parameter id="q" constant="true"/>'
                         "</listOfParameters><listOfInitialAssignments>"
                         '<initialAssignment symbol="q">' + mathml("sin(pi/2) + factorial(3)")
                         + "</initialAssignment></listOfInitialAssignments>"))
    model = import_sbml(path)
    assert model.param("q").value == 7.0
    assert model.equations["S"] == "-2*S"
    assert math.isclose(simulate(model, None, times=[0, 1])["S"][0, 1], math.exp(-2),
                        rel_tol=1e-5)
