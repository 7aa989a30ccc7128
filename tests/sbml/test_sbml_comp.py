"""Hierarchical SBML (comp package): flattened by libSBML, then imported with core semantics.

Exact solutions: a submodel of first-order decay ``dS/dt = -k S`` (S amount, compartment of
size 1) gives ``S(t) = S0 exp(-k t)``; a replaced element takes the value of its replacement
(SBML Level 3 comp Version 1, Smith et al. 2015, section 3.6, doi:10.1515/jib-2015-268).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from il2sim import simulate
from il2sim.sbml import SbmlError, import_sbml, read_sbml

TOL = {"rtol": 1e-10, "atol": 1e-12}
TIMES = np.linspace(0.0, 5.0, 11)
COMP = "http://www.sbml.org/sbml/level3/version1/comp/version1"

DECAY = """
  <model{attrs} id="decay">
   <listOfCompartments><compartment id="c" size="1" spatialDimensions="3" constant="true"/>
   </listOfCompartments>
   <listOfSpecies><species id="S" compartment="c" initialAmount="{s0}"
     hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/></listOfSpecies>
   <listOfParameters><parameter id="k" value="0.1" constant="true"/></listOfParameters>
   <listOfReactions><reaction id="J" reversible="false">
    <listOfReactants><speciesReference species="S" stoichiometry="1" constant="true"/>
    </listOfReactants>
    <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k</ci>
     <ci>S</ci></apply></math></kineticLaw>
   </reaction></listOfReactions>
  </model{attrs}>"""


def document(main: str, definitions: str = "") -> str:
    """A comp document: ``definitions`` inside ``listOfModelDefinitions``, then ``main``."""
    defs = (f"<comp:listOfModelDefinitions>{definitions}</comp:listOfModelDefinitions>"
            if definitions else "")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="http://www.sbml.org/sbml/'
            f'level3/version2/core" xmlns:comp="{COMP}" level="3" version="2" '
            f'comp:required="true">{main}{defs}</sbml>')


# Two instances of the decay model; the top model's k replaces the k of instance A.
TWO_SUBMODELS = document(
    '<model id="top" timeUnits="second">'
    '<listOfParameters><parameter id="k" value="0.5" constant="true">'
    '<comp:listOfReplacedElements><comp:replacedElement comp:submodelRef="A" '
    'comp:idRef="k"/></comp:listOfReplacedElements></parameter></listOfParameters>'
    '<comp:listOfSubmodels><comp:submodel comp:id="A" comp:modelRef="decay"/>'
    '<comp:submodel comp:id="B" comp:modelRef="decay"/></comp:listOfSubmodels></model>',
    DECAY.format(attrs="", s0=2).replace("<model id=", "<comp:modelDefinition id=")
    .replace("</model>", "</comp:modelDefinition>"))

# The same two instances written flat by hand, as the flattening should produce.
FLAT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/'
    'version2/core" level="3" version="2"><model id="top" timeUnits="second">'
    "<listOfCompartments>"
    + "".join(f'<compartment id="{x}__c" size="1" spatialDimensions="3" constant="true"/>'
              for x in "AB")
    + "</listOfCompartments><listOfSpecies>"
    + "".join(f'<species id="{x}__S" compartment="{x}__c" initialAmount="2" '
              'hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>'
              for x in "AB")
    + '</listOfSpecies><listOfParameters><parameter id="k" value="0.5" constant="true"/>'
    '<parameter id="B__k" value="0.1" constant="true"/></listOfParameters><listOfReactions>'
    + "".join(f'<reaction id="{x}__J" reversible="false"><listOfReactants><speciesReference '
              f'species="{x}__S" stoichiometry="1" constant="true"/></listOfReactants>'
              '<kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/>'
              f"<ci>{k}</ci><ci>{x}__S</ci></apply></math></kineticLaw></reaction>"
              for x, k in (("A", "k"), ("B", "B__k")))
    + "</listOfReactions></model></sbml>")


def test_submodels_with_a_replaced_parameter_match_the_exact_solution(tmp_path: Path) -> None:
    path = tmp_path / "comp.xml"
    path.write_text(TWO_SUBMODELS)
    imported = read_sbml(path)
    assert {"A__S", "B__S", "k", "B__k"} <= set(imported.names)
    assert "A__k" not in imported.names  # replaced by the top model's k
    result = simulate(imported.model, None, times=TIMES, **TOL)
    np.testing.assert_allclose(imported.trajectory(result, "A__S", "amount")[0],
                               2 * np.exp(-0.5 * TIMES), rtol=1e-8)
    np.testing.assert_allclose(imported.trajectory(result, "B__S", "amount")[0],
                               2 * np.exp(-0.1 * TIMES), rtol=1e-8)


def test_the_flattened_model_simulates_as_the_same_model_written_flat(tmp_path: Path) -> None:
    (tmp_path / "comp.xml").write_text(TWO_SUBMODELS)
    (tmp_path / "flat.xml").write_text(FLAT)
    hier, flat = read_sbml(tmp_path / "comp.xml"), read_sbml(tmp_path / "flat.xml")
    a = simulate(hier.model, None, times=TIMES, **TOL)
    b = simulate(flat.model, None, times=TIMES, **TOL)
    for sid in ("A__S", "B__S"):
        np.testing.assert_allclose(hier.trajectory(a, sid, "amount")[0],
                                   flat.trajectory(b, sid, "amount")[0], rtol=1e-12)


def external(source: str) -> str:
    """A top model whose one submodel comes from ``source`` (a file beside it)."""
    return document(
        '<model id="top" timeUnits="second"><comp:listOfSubmodels><comp:submodel comp:id="A" '
        'comp:modelRef="ext"/></comp:listOfSubmodels></model>'
        "<comp:listOfExternalModelDefinitions>"
        f'<comp:externalModelDefinition comp:id="ext" comp:source="{source}" '
        'comp:modelRef="decay"/></comp:listOfExternalModelDefinitions>')


def test_an_external_model_is_read_beside_the_file_whatever_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "decay.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/'
        'version2/core" level="3" version="2">' + DECAY.format(attrs="", s0=3) + "</sbml>")
    (folder / "top.xml").write_text(external("decay.xml"))
    monkeypatch.chdir(tmp_path)
    assert os.getcwd() != str(folder)
    imported = read_sbml(Path("case") / "top.xml")
    result = simulate(imported.model, None, times=TIMES, **TOL)
    np.testing.assert_allclose(imported.trajectory(result, "A__S", "amount")[0],
                               3 * np.exp(-0.1 * TIMES), rtol=1e-8)


def test_an_unresolvable_external_model_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "top.xml"
    path.write_text(external("missing-model.xml"))
    with pytest.raises(SbmlError, match="cannot flatten.*'comp'.*missing-model.xml") as info:
        import_sbml(path)
    assert info.value.construct == "comp external model"


def test_a_replacement_of_an_unknown_element_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(TWO_SUBMODELS.replace('comp:idRef="k"', 'comp:idRef="nonexistent"'))
    with pytest.raises(SbmlError, match="cannot flatten the hierarchical model") as info:
        import_sbml(path)
    assert info.value.construct == "package comp"


def test_the_suite_cases_flatten_and_pass(shared_data: Path) -> None:
    """Test Suite case 01125 (a submodel whose parameter is replaced) against its results."""
    case = shared_data / "sbml-test-suite/cases/01125"
    if not case.is_dir():
        pytest.skip("no SBML Test Suite in shared data")
    imported = read_sbml(case / "01125-sbml-l3v2.xml")
    expected = np.loadtxt(case / "01125-results.csv", delimiter=",", skiprows=1)
    result = simulate(imported.model, None, times=expected[:, 0], **TOL)
    np.testing.assert_allclose(imported.trajectory(result, "param1")[0], expected[:, 1],
                               rtol=1e-4, atol=1e-4)
