"""Flux balance analysis of fbc models: hand-solved linear programs and Test Suite results.

The small network: uptake ``R1: X -> A`` (0 <= v1 <= 10), ``R2: A -> B``, ``R3: A -> 2 C``,
``R4: B -> Y`` and ``R5: C -> Y`` (all irreversible, v <= 1000); A, B, C balanced, X and Y
boundary species. Steady state: v1 = v2 + v3, v4 = v2, v5 = 2 v3. Maximising v5 gives
v3 = v1 = 10, v5 = 20, v2 = v4 = 0 (by hand); maximising v4 + v5 likewise 20.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from il2sim.sbml import SbmlError, import_sbml
from il2sim.sbml.fbc import flux_balance

FBC2 = "http://www.sbml.org/sbml/level3/version1/fbc/version2"
FBC1 = "http://www.sbml.org/sbml/level3/version1/fbc/version1"
REACTIONS = (("R1", "X", "A", 1), ("R2", "A", "B", 1), ("R3", "A", "C", 2), ("R4", "B", "Y", 1),
             ("R5", "C", "Y", 1))


def _number(x: float) -> str:
    return "INF" if x == float("inf") else repr(x)


def network(objective: dict[str, float], *, sense: str = "maximize", version: int = 2,
            upper_r1: float = 10, lower_r4: float = 0, upper: float = 1000) -> str:
    """The network above as fbc Version ``version``, objective ``sum c_j v_j``; ``upper``
    bounds every flux but v1."""
    species = "".join(
        f'<species id="{s}" compartment="c" initialAmount="0" hasOnlySubstanceUnits="true" '
        f'boundaryCondition="{str(s in "XY").lower()}" constant="false"/>' for s in "ABCXY")
    bounds = {r: (0.0, upper) for r, *_ in REACTIONS}
    bounds["R1"] = (0.0, upper_r1)
    bounds["R4"] = (lower_r4, 1000.0)
    reactions = ""
    for rid, src, dst, n in REACTIONS:
        attrs = (f' fbc:lowerFluxBound="{rid}_lb" fbc:upperFluxBound="{rid}_ub"'
                 if version == 2 else "")
        reactions += (
            f'<reaction id="{rid}" reversible="false" fast="false"{attrs}><listOfReactants>'
            f'<speciesReference species="{src}" stoichiometry="1" constant="true"/>'
            f'</listOfReactants><listOfProducts><speciesReference species="{dst}" '
            f'stoichiometry="{n}" constant="true"/></listOfProducts></reaction>')
    parameters = ""
    v1_bounds = ""
    if version == 2:
        parameters = "<listOfParameters>" + "".join(
            f'<parameter id="{r}_lb" value="{lo}" constant="true"/>'
            f'<parameter id="{r}_ub" value="{_number(hi)}" constant="true"/>'
            for r, (lo, hi) in bounds.items()) + "</listOfParameters>"
    else:
        v1_bounds = "<fbc:listOfFluxBounds>" + "".join(
            f'<fbc:fluxBound fbc:reaction="{r}" fbc:operation="greaterEqual" fbc:value="{lo}"/>'
            f'<fbc:fluxBound fbc:reaction="{r}" fbc:operation="lessEqual" '
            f'fbc:value="{_number(hi)}"/>'
            for r, (lo, hi) in bounds.items()) + "</fbc:listOfFluxBounds>"
    flux_objectives = "".join(
        f'<fbc:fluxObjective fbc:reaction="{r}" fbc:coefficient="{c}"/>'
        for r, c in objective.items())
    strict = ' fbc:strict="true"' if version == 2 else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/'
        f'version1/core" xmlns:fbc="{FBC2 if version == 2 else FBC1}" level="3" version="1" '
        f'fbc:required="false"><model id="net"{strict}><listOfCompartments>'
        '<compartment id="c" size="1" spatialDimensions="3" constant="true"/>'
        f"</listOfCompartments><listOfSpecies>{species}</listOfSpecies>{parameters}"
        f"<listOfReactions>{reactions}</listOfReactions>{v1_bounds}"
        '<fbc:listOfObjectives fbc:activeObjective="obj"><fbc:objective fbc:id="obj" '
        f'fbc:type="{sense}"><fbc:listOfFluxObjectives>{flux_objectives}'
        "</fbc:listOfFluxObjectives></fbc:objective></fbc:listOfObjectives></model></sbml>")


@pytest.mark.parametrize("version", [1, 2])
def test_the_optimum_of_a_small_network_is_the_hand_solution(tmp_path: Path,
                                                             version: int) -> None:
    path = tmp_path / "net.xml"
    path.write_text(network({"R5": 1.0}, version=version))
    optimum = flux_balance(path)
    assert optimum.objective == "obj" and optimum.sense == "maximize"
    assert optimum["obj"] == pytest.approx(20.0, rel=1e-9)
    np.testing.assert_allclose([optimum[r] for r in ("R1", "R2", "R3", "R4", "R5")],
                               [10, 0, 10, 0, 20], atol=1e-9)


def test_a_forced_flux_and_minimisation(tmp_path: Path) -> None:
    # v4 >= 4 forces v2 = 4; minimising v1 then gives v1 = 4, v3 = 0
    path = tmp_path / "net.xml"
    path.write_text(network({"R1": 1.0}, sense="minimize", lower_r4=4))
    optimum = flux_balance(path)
    assert optimum.value == pytest.approx(4.0, rel=1e-9)
    np.testing.assert_allclose([optimum[r] for r in ("R1", "R2", "R3", "R4", "R5")],
                               [4, 4, 0, 4, 0], atol=1e-9)


def test_unbounded_problems_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "net.xml"
    path.write_text(network({"R5": 1.0}, upper_r1=float("inf"), upper=float("inf")))
    with pytest.raises(SbmlError, match="unbounded: objective 'obj'"):
        flux_balance(path)


def test_a_model_without_fbc_is_refused_and_import_refuses_fbc(tmp_path: Path) -> None:
    path = tmp_path / "net.xml"
    path.write_text(network({"R5": 1.0}))
    with pytest.raises(SbmlError, match="package 'fbc'"):
        import_sbml(path)
    plain = tmp_path / "plain.xml"
    plain.write_text('<?xml version="1.0" encoding="UTF-8"?><sbml xmlns="http://www.sbml.org/sbml/level3/'
                     'version2/core" level="3" version="2"><model id="m"/></sbml>')
    with pytest.raises(SbmlError, match="no flux balance"):
        flux_balance(plain)
    optimum = flux_balance(path)
    with pytest.raises(SbmlError, match="neither a reaction nor the active objective"):
        optimum["nope"]


@pytest.mark.parametrize("case", ["01186", "01195", "01623", "01630"])
def test_suite_cases_match_their_published_fluxes(shared_data: Path, case: str) -> None:
    """SBML Test Suite fbc cases (v1 bounds, an equality bound, an initial assignment to a
    stoichiometry, a rule without math): the suite's results row, its tolerances."""
    folder = shared_data / "sbml-test-suite/cases" / case
    if not folder.is_dir():
        pytest.skip("no SBML Test Suite in shared data")
    header, row = (folder / f"{case}-results.csv").read_text().split()[:2]
    optimum = flux_balance(folder / f"{case}-sbml-l3v2.xml")
    for name, want in zip(header.split(","), row.split(",")):
        assert optimum[name] == pytest.approx(float(want), rel=1e-3, abs=1e-3), name


def test_an_infeasible_problem_is_nan_not_an_error(tmp_path: Path) -> None:
    """The SBML Test Suite's answer to an infeasible problem (cases 01196, 01616) is NaN
    for the objective and every flux."""
    path = tmp_path / "net.xml"
    for version in (1, 2):
        path.write_text(network({"R5": 1.0}, lower_r4=20, version=version))  # v1 >= 20 > 10
        optimum = flux_balance(path)
        assert optimum.status == "infeasible"
        assert np.isnan(optimum["obj"])
        assert all(np.isnan(optimum[r]) for r, *_ in REACTIONS)
    path.write_text(network({"R5": 1.0}, lower_r4=20).replace(  # lower > upper
        'id="R4_ub" value="1000.0"', 'id="R4_ub" value="5"'))
    assert flux_balance(path).status == "infeasible"


def test_a_bound_set_by_a_constant_rule_is_that_constant(tmp_path: Path) -> None:
    """A bound parameter whose assignment rule is constant does not change in time (Test
    Suite case 01620): the bound is the rule's value. Here R1's upper bound becomes 2*3 by
    a rule (the optimum of v5 is then 2 v1 = 12); a rule of time is refused."""
    text = network({"R5": 1.0}).replace(
        '<parameter id="R1_ub" value="10" constant="true"/>',
        '<parameter id="R1_ub" constant="false"/><parameter id="k" value="3" constant="true"/>')
    assert text.count('id="R1_ub"') == 1 and 'constant="false"' in text
    rule = ('<listOfRules><assignmentRule variable="R1_ub"><math xmlns="http://www.w3.org/1998/'
            'Math/MathML"><apply><times/><cn>2</cn><ci>k</ci></apply></math></assignmentRule>'
            '</listOfRules>')
    path = tmp_path / "rule.xml"
    path.write_text(text.replace("<listOfReactions>", rule + "<listOfReactions>"))
    optimum = flux_balance(path)
    assert optimum.status == "optimal"
    assert optimum["obj"] == pytest.approx(12.0, rel=1e-9)
    assert optimum["R1"] == pytest.approx(6.0, rel=1e-9)
    timed = rule.replace("<ci>k</ci>", '<csymbol encoding="text" definitionURL="http://www.sbml'
                         '.org/sbml/symbols/time"> t </csymbol>')
    path.write_text(text.replace("<listOfReactions>", timed + "<listOfReactions>"))
    with pytest.raises(SbmlError, match="changes in time"):
        flux_balance(path)
