"""Imports run one way: each module imports only from its own layer or layers below it
(docs/design.md, "Layout and data flow"). Every import counts, at module level or inside a
function (a deferred import is still a dependency), except one under ``if TYPE_CHECKING:``
(an annotation, never run). Exceptions would be listed in ``ALLOWED`` with the reason each
needs; today there are none, and the list may only shrink."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "il2sim"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("il2sim.units", "il2sim.cache", "il2sim.config.errors", "il2sim.lazy"),
    ("il2sim.model",),
    ("il2sim.dosing",),
    ("il2sim.engine.events",),
    ("il2sim.sbml",),
    ("il2sim.engine",),
    ("il2sim.population",),
    ("il2sim.assessment",),
    ("il2sim.protocol",),
    ("il2sim.store",),
    ("il2sim.trial",),
    ("il2sim.config",),
    ("il2sim.io",),
    ("il2sim.analysis",),
    ("il2sim.validation",),
    ("il2sim.web",),
    ("il2sim.cli",),
)
"""Lowest first; a module belongs to the layer of its longest matching prefix."""

ALLOWED: dict[tuple[str, str], str] = {}


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                    best is None or len(prefix) > best[0]):
                best = (len(prefix), i)
    return None if best is None else best[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Modules ``path`` imports from il2sim (names from a package count as submodules
    where they are one), with the line."""
    found = []
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("il2sim")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("il2sim"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                is_module = (SRC.parent / Path(*sub.split("."))).with_suffix(".py").exists() \
                    or (SRC.parent / Path(*sub.split("."))).is_dir()
                found.append((sub if is_module else node.module, node.lineno))
    return found


def _violations() -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        importer = _module_name(path)
        own = _layer(importer)
        if own is None:  # the package root re-exports the faces' API: it may import all
            continue
        for imported, line in _imports(path):
            if imported == "il2sim":  # il2sim.__version__, the package's metadata
                continue
            theirs = _layer(imported)
            assert theirs is not None, f"{path}:{line}: {imported} is in no layer of LAYERS"
            if theirs > own:
                out.setdefault((importer, imported), []).append(
                    f"{path.relative_to(SRC.parent)}:{line}")
    return out


def test_every_module_is_in_a_layer() -> None:
    for path in SRC.rglob("*.py"):
        name = _module_name(path)
        assert name == "il2sim" or _layer(name) is not None, name


def test_imports_run_downstream_only() -> None:
    found = _violations()
    new = {pair: where for pair, where in found.items() if pair not in ALLOWED}
    assert not new, ("imports upstream (see docs/design.md, 'Layout and data flow'): "
                     + "; ".join(f"{a} -> {b} at {', '.join(w)}" for (a, b), w in new.items()))
    gone = sorted(set(ALLOWED) - set(found))
    assert not gone, f"no longer imported upstream, remove from ALLOWED: {gone}"


def test_the_checker_sees_deferred_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from il2sim.trial.runner import TrialSpec\n"
                      "    import il2sim.store\n"
                      "if TYPE_CHECKING:\n    from il2sim.web.app import app\n")
    assert [m for m, _ in _imports(source)] == ["il2sim.trial.runner", "il2sim.store"]
    order = [_layer(m) for m in ("il2sim.engine.events", "il2sim.sbml.write", "il2sim.engine.loop",
                                 "il2sim.protocol.decider", "il2sim.store",
                                 "il2sim.trial.runner", "il2sim.config.scenario")]
    assert order == sorted(order) and len(set(order)) == len(order)
