"""Malformed SBML never gives a traceback (issue 14, item 4).

Seeded mutations of the shipped BioModels files: deleted elements, dangling references,
non-numeric and out-of-range attribute values, removed required attributes, broken
MathML and truncated XML. Each mutated file either imports or is refused with
:class:`SbmlError` carrying a one-line message; never the import's safety net for an
unexpected exception (construct ``internal``), which would mean a crash il2sim did not
foresee. On the command line a refused file is one line on stderr and exit status 2.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from il2sim.cli import cli
from il2sim.sbml import SbmlError, import_sbml

SEED = 20_240_614
PER_FILE = 60
"""Mutations per BioModels file (five files: 300 in all)."""
MATHML = "http://www.w3.org/1998/Math/MathML"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# elements whose deletion leaves a dangling reference or a missing required part
_DELETABLE = ("compartment", "species", "parameter", "reaction", "speciesReference",
              "modifierSpeciesReference", "kineticLaw", "math", "functionDefinition",
              "unitDefinition", "unit", "assignmentRule", "rateRule", "algebraicRule",
              "initialAssignment", "event", "trigger", "eventAssignment", "delay",
              "localParameter", "listOfSpecies", "listOfCompartments", "listOfParameters")
# attributes that refer to another element's id
_REFERENCES = ("species", "compartment", "variable", "symbol", "units", "substanceUnits",
               "timeUnits", "volumeUnits", "conversionFactor", "outside", "spatialSizeUnits")
_NUMERIC = ("value", "size", "initialAmount", "initialConcentration", "stoichiometry",
            "spatialDimensions", "exponent", "scale", "multiplier")
_BOOLEAN = ("constant", "boundaryCondition", "hasOnlySubstanceUnits", "reversible", "fast",
            "persistent", "initialValue", "useValuesFromTriggerTime")
_REQUIRED = ("id", "species", "compartment", "variable", "symbol", "kind", "constant",
             "value", "size", "metaid")
_BAD_NUMBERS = ("abc", "", "1e999", "-1e999", "NaN", "-INF", "1,5", "0x10", "-1", "0")
_BAD_MATH = (
    f'<math xmlns="{MATHML}"><apply><plus/></apply></math>',
    f'<math xmlns="{MATHML}"><apply><divide/><cn>1</cn></apply></math>',
    f'<math xmlns="{MATHML}"><apply><foo/><cn>1</cn></apply></math>',
    f'<math xmlns="{MATHML}"><cn>abc</cn></math>',
    f'<math xmlns="{MATHML}"><ci> X_missing </ci></math>',
    f'<math xmlns="{MATHML}"><apply><ci> X_missing </ci><cn>1</cn></apply></math>',
    f'<math xmlns="{MATHML}"><apply><lt/><cn>1</cn><cn>2</cn></apply></math>',
    f'<math xmlns="{MATHML}"><apply><divide/><cn>1</cn><cn>0</cn></apply></math>',
    f'<math xmlns="{MATHML}"><apply><power/><cn>10</cn><cn>400</cn></apply></math>',
    f'<math xmlns="{MATHML}"><piecewise><piece><cn>1</cn></piece></piecewise></math>',
    f'<math xmlns="{MATHML}"><lambda><bvar><ci>x</ci></bvar></lambda></math>',
    f'<math xmlns="{MATHML}"/>',
    f'<math xmlns="{MATHML}"><apply><ln/><cn>-1</cn></apply></math>',
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _elements(root: ET.Element, *, model_only: bool = True) -> list[ET.Element]:
    """The SBML elements (not annotations, notes or MathML inside them)."""
    found: list[ET.Element] = []

    def walk(node: ET.Element) -> None:
        for child in node:
            tag = _local(child.tag)
            if tag in ("annotation", "notes"):
                continue
            found.append(child)
            if not child.tag.startswith("{" + MATHML) or not model_only:
                walk(child)
    walk(root)
    return found


def _parents(root: ET.Element) -> dict[ET.Element, ET.Element]:
    return {child: parent for parent in root.iter() for child in parent}


Mutation = Callable[[ET.Element, random.Random], str | None]


def _delete(root: ET.Element, rng: random.Random) -> str | None:
    nodes = [e for e in _elements(root) if _local(e.tag) in _DELETABLE]
    if not nodes:
        return None
    node = rng.choice(nodes)
    _parents(root)[node].remove(node)
    return f"deleted <{_local(node.tag)}>"


def _dangle(root: ET.Element, rng: random.Random) -> str | None:
    choices = [(e, a) for e in _elements(root) for a in _REFERENCES if a in e.attrib]
    choices += [(e, "") for e in _elements(root) if _local(e.tag) == "ci"]
    if not choices:
        return None
    node, attr = rng.choice(choices)
    if attr:
        node.set(attr, "X_missing")
        return f"<{_local(node.tag)} {attr}='X_missing'>"
    node.text = " X_missing "
    return "<ci>X_missing</ci>"


def _bad_value(root: ET.Element, rng: random.Random) -> str | None:
    choices = [(e, a) for e in _elements(root) for a in (*_NUMERIC, *_BOOLEAN) if a in e.attrib]
    choices += [(e, "") for e in _elements(root) if _local(e.tag) == "cn"]
    if not choices:
        return None
    node, attr = rng.choice(choices)
    value = rng.choice(_BAD_NUMBERS) if attr not in _BOOLEAN else rng.choice(
        ("maybe", "", "2", "TRUE"))
    if attr:
        node.set(attr, value)
    else:
        node.text = value
    return f"<{_local(node.tag)} {attr or 'text'}={value!r}>"


def _unset(root: ET.Element, rng: random.Random) -> str | None:
    choices = [(e, a) for e in _elements(root) for a in _REQUIRED if a in e.attrib]
    if not choices:
        return None
    node, attr = rng.choice(choices)
    del node.attrib[attr]
    return f"<{_local(node.tag)}> without {attr}"


def _break_math(root: ET.Element, rng: random.Random) -> str | None:
    maths = [e for e in _elements(root) if _local(e.tag) == "math"]
    if not maths:
        return None
    node = rng.choice(maths)
    text = rng.choice(_BAD_MATH)
    parent = _parents(root)[node]
    index = list(parent).index(node)
    parent.remove(node)
    parent.insert(index, ET.fromstring(text))
    return f"math replaced by {text[len(MATHML) + 16:]}"


def _duplicate_id(root: ET.Element, rng: random.Random) -> str | None:
    ids = [e for e in _elements(root) if "id" in e.attrib]
    if len(ids) < 2:
        return None
    a, b = rng.sample(ids, 2)
    b.set("id", a.get("id", ""))
    return f"duplicate id {a.get('id')!r}"


_MUTATIONS: tuple[Mutation, ...] = (_delete, _dangle, _bad_value, _unset, _break_math,
                                     _duplicate_id)


def mutants(path: Path, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """``count`` mutated versions of the file: (what was done, the file's text). One in
    ten is the file truncated at a random point (XML that does not parse)."""
    text = path.read_text()
    ET.register_namespace("", ET.fromstring(text).tag[1:].split("}")[0])
    out: list[tuple[str, str]] = []
    while len(out) < count:
        if rng.random() < 0.1:
            cut = rng.randrange(len(text) // 4, len(text))
            out.append((f"truncated at {cut}", text[:cut]))
            continue
        root = ET.fromstring(text)
        done = [m(root, rng) for m in rng.sample(_MUTATIONS, rng.choice((1, 1, 1, 2)))]
        if any(d is None for d in done):
            continue
        text_out = _DECLARATION + ET.tostring(root, encoding="unicode")
        out.append(("; ".join(d for d in done if d), text_out))
    return out


@pytest.fixture(scope="module")
def biomodels(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "biomodels").glob("*.xml"))
    if not files:
        pytest.skip(f"no BioModels files in {shared_data / 'biomodels'}")
    return files


def test_mutated_biomodels_import_or_give_one_line_errors(biomodels: list[Path],
                                                          tmp_path: Path) -> None:
    rng = random.Random(SEED)
    outcomes = {"imported": 0, "refused": 0}
    refused: list[Path] = []
    imported: list[Path] = []
    crashes: list[str] = []
    for source in biomodels:
        for k, (what, text) in enumerate(mutants(source, PER_FILE, rng)):
            path = tmp_path / f"{source.stem}-{k}.xml"
            path.write_text(text)
            try:
                import_sbml(path)
                imported.append(path)
                outcomes["imported"] += 1
            except SbmlError as exc:
                message = str(exc)
                if exc.construct == "internal" or "\n" in message or not message:
                    crashes.append(f"{source.name} [{what}]: {message!r}")
                refused.append(path)
                outcomes["refused"] += 1
            except Exception as exc:  # the point of the test: none may escape
                crashes.append(f"{source.name} [{what}]: {type(exc).__name__}: {exc}")
    assert not crashes, "\n".join(crashes)
    assert sum(outcomes.values()) == PER_FILE * len(biomodels)
    # the mutations matter: many are refused, and some still import
    assert outcomes["refused"] >= len(biomodels) * PER_FILE // 3, outcomes
    assert outcomes["imported"] >= 10, outcomes
    runner = CliRunner()
    for path in refused[::5]:  # the command line: one line on stderr, exit status 2
        result = runner.invoke(cli, ["import", str(path)])
        assert result.exit_code == 2, (path.name, result.output, result.exception)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, \
            (path.name, result.stderr)
    for path in imported[::5]:  # and shows what it imported
        result = runner.invoke(cli, ["import", str(path)])
        assert result.exit_code == 0, (path.name, result.output, result.exception)


def test_a_reference_to_an_undeclared_species_is_one_line_and_exit_2(
        biomodels: list[Path], tmp_path: Path) -> None:
    source = next(p for p in biomodels if p.name == "BIOMD0000000732.xml")
    text = source.read_text()
    root = ET.fromstring(text)
    ET.register_namespace("", root.tag[1:].split("}")[0])
    ref = next(e for e in root.iter() if _local(e.tag) == "speciesReference")
    ref.set("species", "B_missing")
    path = tmp_path / "dangling.xml"
    path.write_text(_DECLARATION + ET.tostring(root, encoding="unicode"))
    with pytest.raises(SbmlError, match="undeclared species 'B_missing'") as info:
        import_sbml(path)
    assert info.value.construct == "invalid SBML"
    result = CliRunner().invoke(cli, ["import", str(path)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "B_missing" in result.stderr


def test_the_mutations_are_deterministic(biomodels: list[Path]) -> None:
    first = mutants(biomodels[0], 20, random.Random(SEED))
    again = mutants(biomodels[0], 20, random.Random(SEED))
    assert first == again
    assert len({text for _, text in first}) >= 15  # and actually different from each other
