"""Run the SBML Test Suite's semantic cases through il2sim's SBML import and engine.

    .venv/bin/python scripts/sbml_test_suite.py                 # all cases, 2 processes
    .venv/bin/python scripts/sbml_test_suite.py --every 60      # every 60th case
    .venv/bin/python scripts/sbml_test_suite.py --cases 00001 00026 --no-write
    .venv/bin/python scripts/sbml_test_suite.py --events --backend native   # event cases

For each case (``shared/data/sbml-test-suite/cases/NNNNN``) the highest SBML level it exists
in is imported, simulated with the reference backend at the times of its results file, and
every listed variable (amount or concentration as the settings say) is compared with the
suite's rule |expected - simulated| <= absolute + relative * |expected|. A case is
``pass``, ``fail`` (wrong numbers), ``refused`` (an ``SbmlError``: the import names a
construct il2sim cannot represent; not a pass) or ``error`` (the simulation failed).
Hierarchical (comp) models are flattened by the import. A flux balance case (fbc package,
results without a time column) is solved by ``il2sim.sbml.fbc.flux_balance`` and its
one row of fluxes and objective value compared by the same rule.

Prints the pass rate overall, on cases whose tags avoid the constructs il2sim refuses by
design, and per component and test tag; lists every failure and refusal with its reason;
writes the tables to ``docs/sbml-support.md`` (between the generated-results markers).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Literal

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "sbml-support.md"
BEGIN, END = "<!-- sbml-test-suite results: begin -->", "<!-- sbml-test-suite results: end -->"
LEVELS = ("l3v2", "l3v1", "l2v5", "l2v4", "l2v3", "l2v2", "l2v1")
RTOL, ATOL = 1e-10, 1e-14
"""Integrator tolerances used for every case (far below the suite's)."""
CASE_TIMEOUT_S = 300
"""A time budget per case, not a pass criterion: case 00966 fires about 100,000 events and
takes about 40 s alone, over 60 s on a loaded 2-core machine."""
Quantity = Literal["value", "amount", "concentration"]

# Constructs il2sim refuses by design (componentTags / testTags of the suite): none since
# delay() is simulated (non-constant and nested delays, refused, count against the rate).
UNSUPPORTED_TAGS: set[str] = set()
UNSUPPORTED_PREFIXES: tuple[str, ...] = ()


def shared_cases() -> Path:
    root = Path(os.environ.get("IL2SIM_SHARED", REPO.parent / "shared"))
    return root / "data" / "sbml-test-suite" / "cases"


@dataclass
class CaseResult:
    """Outcome of one case."""

    case: str
    status: str  # pass, fail, refused, error
    reason: str = ""
    construct: str = ""
    component_tags: tuple[str, ...] = ()
    test_tags: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def tags(self) -> tuple[str, ...]:
        return self.component_tags + self.test_tags

    @property
    def supported(self) -> bool:
        """Whether the case's tags avoid every construct il2sim refuses by design."""
        return not any(t in UNSUPPORTED_TAGS or t.startswith(UNSUPPORTED_PREFIXES)
                       for t in self.tags)


@dataclass(frozen=True)
class Settings:
    start: float
    duration: float
    steps: int
    variables: tuple[str, ...]
    absolute: float
    relative: float
    amount: frozenset[str] = field(default_factory=frozenset)
    concentration: frozenset[str] = field(default_factory=frozenset)


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def read_settings(path: Path) -> Settings:
    raw: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            raw[key.strip()] = value.strip()
    return Settings(
        start=float(raw.get("start") or 0), duration=float(raw.get("duration") or 0),
        steps=int(float(raw.get("steps") or 0)), variables=_names(raw.get("variables", "")),
        absolute=float(raw.get("absolute") or 0), relative=float(raw.get("relative") or 0),
        amount=frozenset(_names(raw.get("amount", ""))),
        concentration=frozenset(_names(raw.get("concentration", ""))))


def read_tags(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    text = path.read_text(errors="replace")
    found = {}
    for key in ("componentTags", "testTags"):
        match = re.search(rf"^{key}:(.*)$", text, re.MULTILINE)
        found[key] = _names(match.group(1)) if match else ()
    return found["componentTags"], found["testTags"]


def model_file(case_dir: Path, prefer: str | None = None) -> Path | None:
    """The case's SBML file: level ``prefer`` (e.g. ``l2v4``) if given and present, else the
    highest level it exists in."""
    for level in ((prefer,) if prefer else ()) + LEVELS:
        path = case_dir / f"{case_dir.name}-sbml-{level}.xml"
        if path.is_file():
            return path
    return None


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Timeout


def run_case(case_dir: Path, *, timeout_s: int = CASE_TIMEOUT_S,
             level: str | None = None, backend: str = "scipy") -> CaseResult:
    """Import, simulate (with ``backend``) and check one case of the suite."""
    import libsbml

    from il2sim.engine import SimulationError, simulate
    from il2sim.sbml import SbmlError, read_sbml
    from il2sim.sbml.fbc import flux_balance

    case = case_dir.name
    component_tags, test_tags = read_tags(case_dir / f"{case}-model.m")
    result = CaseResult(case, "error", component_tags=component_tags, test_tags=test_tags)
    started = time.perf_counter()
    use_alarm = hasattr(signal, "SIGALRM") and timeout_s > 0
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(timeout_s)
    try:
        path = model_file(case_dir, level)
        if path is None:
            raise SbmlError("no SBML file in the case folder", "file")
        settings = read_settings(case_dir / f"{case}-settings.txt")
        table = pd.read_csv(case_dir / f"{case}-results.csv", header=None, skiprows=1)
        header = [c.strip() for c in
                  (case_dir / f"{case}-results.csv").read_text().splitlines()[0].split(",")]
        if header[0].lower() != "time":  # a flux balance case: one row of fluxes
            fbc = libsbml.readSBMLFromFile(str(path)).getModel()
            if fbc is None or fbc.getPlugin("fbc") is None:
                raise SbmlError(f"not a time course (first column {header[0]!r})",
                                "not a time course")
            optimum = flux_balance(path)
            worst = _worst(settings, {name: (np.array([optimum[name]]),
                                             table.iloc[:, header.index(name)].to_numpy(float))
                                      for name in settings.variables}, np.zeros(1))
            result.status, result.reason = ("fail", worst[1]) if worst[0] > 0 else ("pass", "")
            return result
        # variables by column after the time axis (a variable may be called 'time')
        columns = {name: j for j, name in reversed(list(enumerate(header))) if j > 0}
        imported = read_sbml(path)
        times = table.iloc[:, 0].to_numpy(dtype=float)
        if times[0] < 0:
            raise SbmlError(f"simulation start {times[0]} < 0 (il2sim starts at 0)", "start")
        sim = simulate(imported.model, None, times=times, rtol=RTOL, atol=ATOL,
                       on_failure="raise", backend=backend)
        pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in settings.variables:
            quantity: Quantity = ("amount" if name in settings.amount else
                        "concentration" if name in settings.concentration else "value")
            if name not in imported.names:
                raise SbmlError(f"variable {name!r} is not in the imported model", "output")
            pairs[name] = (imported.trajectory(sim, name, quantity)[0],
                           table.iloc[:, columns[name]].to_numpy(dtype=float))
        worst = _worst(settings, pairs, times)
        if worst[0] > 0:
            result.status, result.reason = "fail", worst[1]
        else:
            result.status = "pass"
    except SbmlError as exc:
        reason = _one_line(exc).replace(str(case_dir) + os.sep, "")
        result.status, result.reason, result.construct = "refused", reason, \
            exc.construct or "other"
    except SimulationError as exc:
        result.status, result.reason = "error", f"simulation failed: {_one_line(exc)}"
    except _Timeout:
        result.status, result.reason = "error", f"timed out after {timeout_s} s"
    except Exception as exc:  # a bug in il2sim: report it, keep going
        result.status, result.reason = "error", f"{type(exc).__name__}: {_one_line(exc)}"
    finally:
        if use_alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    result.seconds = time.perf_counter() - started
    return result


def _worst(settings: Settings, pairs: dict[str, tuple[np.ndarray, np.ndarray]],
           times: np.ndarray) -> tuple[float, str]:
    """The largest excess over the suite's tolerance among ``name -> (got, want)``, and
    where it is (0 and "" when every point passes)."""
    worst: tuple[float, str] = (0.0, "")
    for name, (got, want) in pairs.items():
        excess = _excess(want, got, settings.absolute, settings.relative)
        k = int(np.argmax(excess))
        if excess[k] > worst[0]:
            worst = (float(excess[k]), f"{name} at t={times[k]:g}: expected {want[k]:.6g}, "
                                       f"got {got[k]:.6g}")
    return worst


def _excess(want: np.ndarray, got: np.ndarray, absolute: float, relative: float) -> np.ndarray:
    """How far each point lies outside the suite's tolerance (0 inside; inf for NaN)."""
    out = np.zeros(len(want))
    for i, (w, g) in enumerate(zip(want, got)):
        if math.isnan(w) or math.isinf(w):
            same = (math.isnan(w) and math.isnan(g)) or w == g
            out[i] = 0.0 if same else math.inf
        elif math.isnan(g):
            out[i] = math.inf
        else:
            out[i] = max(0.0, abs(w - g) - (absolute + relative * abs(w)))
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def has_events(case_dir: Path) -> bool:
    """Whether the case's model has events (a component tag ``EventNoDelay`` or
    ``EventWithDelay``)."""
    component_tags, _ = read_tags(case_dir / f"{case_dir.name}-model.m")
    return any(t.startswith("Event") for t in component_tags)


def select_cases(root: Path, names: Sequence[str] = (), every: int = 1,
                 events: bool = False) -> list[Path]:
    """Case folders, sorted; ``every``-th from the first (of the cases with model events
    only, if ``events``), or the named ones."""
    cases = sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    if events:
        cases = [c for c in cases if has_events(c)]
    if names:
        wanted = {n.zfill(5) for n in names}
        cases = [c for c in cases if c.name in wanted]
    return cases[::every]


def run_all(cases: Sequence[Path], jobs: int, *, progress: bool = True,
            level: str | None = None, backend: str = "scipy") -> list[CaseResult]:
    results: list[CaseResult] = []
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_case, c, level=level, backend=backend) for c in cases]
        for k, future in enumerate(as_completed(futures), 1):
            results.append(future.result())
            if progress and (k % 25 == 0 or k == len(cases)):
                passed = sum(r.status == "pass" for r in results)
                print(f"[{k}/{len(cases)}] {passed} passed, {time.perf_counter() - started:.0f} s",
                      file=sys.stderr, flush=True)
    return sorted(results, key=lambda r: r.case)


# ------------------------------------------------------------------------------ reporting


def _rate(results: Iterable[CaseResult]) -> str:
    items = list(results)
    if not items:
        return "-"
    passed = sum(r.status == "pass" for r in items)
    return f"{passed}/{len(items)} ({100.0 * passed / len(items):.1f}%)"


def _tag_table(results: Sequence[CaseResult], attr: str) -> list[str]:
    by_tag: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        for tag in getattr(r, attr):
            by_tag[tag].append(r)
    lines = ["| tag | cases | pass | fail | refused | error | pass rate |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for tag in sorted(by_tag, key=lambda t: (-len(by_tag[t]), t)):
        items = by_tag[tag]
        count = Counter(r.status for r in items)
        lines.append(f"| {tag} | {len(items)} | {count['pass']} | {count['fail']} | "
                     f"{count['refused']} | {count['error']} | "
                     f"{100.0 * count['pass'] / len(items):.0f}% |")
    return lines


def report(results: Sequence[CaseResult], *, elapsed: float, jobs: int) -> str:
    """The Markdown block written to docs/sbml-support.md."""
    supported = [r for r in results if r.supported]
    count = Counter(r.status for r in results)
    lines = [
        f"Run of {len(results)} cases ({jobs} processes, {elapsed:.0f} s; integrator "
        f"LSODA, rtol {RTOL:g}, atol {ATOL:g}).",
        "",
        "| | cases | pass rate |",
        "|---|---:|---:|",
        f"| all cases | {len(results)} | {_rate(results)} |",
        f"| cases without constructs il2sim refuses by design | {len(supported)} | "
        f"{_rate(supported)} |",
        "",
        f"Outcomes: {count['pass']} pass, {count['fail']} fail (wrong numbers), "
        f"{count['refused']} refused, {count['error']} error.",
        "",
        "Constructs refused by design (tags): " + (", ".join(
            [*sorted(UNSUPPORTED_TAGS), *(f"every `{p}:` tag" for p in UNSUPPORTED_PREFIXES)])
            or "none") + ".",
        "",
        "### Refusal reasons",
        "",
        "| construct | cases | of which without refused-by-design tags |",
        "|---|---:|---:|",
    ]
    refused = [r for r in results if r.status == "refused"]
    reasons = Counter(r.construct for r in refused)
    for construct, n in reasons.most_common():
        inside = sum(1 for r in refused if r.construct == construct and r.supported)
        lines.append(f"| {construct} | {n} | {inside} |")
    lines += ["", "### Failures and errors", ""]
    bad = [r for r in results if r.status in ("fail", "error")]
    if not bad:
        lines.append("None.")
    for r in bad:
        lines.append(f"- {r.case} ({r.status}; {', '.join(r.tags)}): {r.reason}")
    lines += ["", "### Refused cases without refused-by-design tags", ""]
    odd = [r for r in refused if r.supported]
    if not odd:
        lines.append("None.")
    for r in odd:
        lines.append(f"- {r.case} ({', '.join(r.tags)}): {r.reason}")
    lines += ["", "### By component tag", "", *_tag_table(results, "component_tags"),
              "", "### By test tag", "", *_tag_table(results, "test_tags")]
    return "\n".join(lines)


def write_doc(block: str, path: Path = DOC) -> None:
    text = path.read_text() if path.exists() else f"# SBML support\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n## SBML Test Suite\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", default=(), metavar="NNNNN",
                        help="run only these cases")
    parser.add_argument("--every", type=int, default=1, help="run every N-th case")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--root", type=Path, default=None, help="folder of the case folders")
    parser.add_argument("--level", choices=LEVELS, default=None,
                        help="prefer this SBML level/version where a case has it")
    parser.add_argument("--backend", default="scipy",
                        help="simulation backend (default scipy, the reference; a run with "
                             "another one never writes the docs)")
    parser.add_argument("--events", action="store_true",
                        help="only the cases with model events (component tags Event...)")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args(argv)
    root = args.root or shared_cases()
    if not root.is_dir():
        print(f"error: no test suite cases at {root} (set IL2SIM_SHARED)", file=sys.stderr)
        return 2
    cases = select_cases(root, args.cases, max(1, args.every), events=args.events)
    started = time.perf_counter()
    results = run_all(cases, max(1, args.jobs), level=args.level, backend=args.backend)
    elapsed = time.perf_counter() - started
    for r in results:
        if r.status != "pass":
            print(f"{r.case} {r.status}: {r.reason}")
    block = report(results, elapsed=elapsed, jobs=max(1, args.jobs))
    tables = block.split("### Refusal reasons", 1)[1].split("### Failures and errors", 1)[0]
    tags = block.split("### By component tag", 1)[1]
    supported = [r for r in results if r.supported]
    print(f"\npass rate: {_rate(results)} of all cases; {_rate(supported)} of the cases "
          "without constructs refused by design")
    print(f"\nrefusal reasons{tables}\nby component tag{tags}")
    if (not args.no_write and not args.cases and args.every == 1 and args.level is None
            and args.backend == "scipy" and not args.events):
        write_doc(block)
        print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
