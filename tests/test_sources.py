"""The repository cites primary sources, never notes that live outside it.

The project's background notes (clinical facts, published models, the calibration trials and
the seed documents) are kept outside the repository; code and documents must cite the papers
they rest on instead (bibliography: docs/sources.md). This test fails on any file under
src/, examples/, scripts/ or docs/ (and README.md) that points at those notes.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("src", "examples", "scripts", "docs")
# The notes by file name, their folders, and the seed documents by number ("seed 002",
# "seeds 000 and 003").
FORBIDDEN = re.compile(
    r"CLINICAL\.md|MODELS\.md|TRIALS\.md|shared/science|shared/seeds|\bseeds? 00\d",
)


def _files() -> list[Path]:
    files = [REPO / "README.md"]
    for top in SCANNED:
        files += [p for p in sorted((REPO / top).rglob("*"))
                  if p.is_file() and "__pycache__" not in p.parts]
    return files


def test_pattern_catches_each_form() -> None:
    for text in ("see CLINICAL.md s3", "(MODELS.md s4)", "TRIALS.md C1", "seed 002: local",
                 "seeds 000 and 003", "``shared/science/MODELS.md``", "shared/seeds/"):
        assert FORBIDDEN.search(text), text
    for text in ("Konrad et al. 1990, Cancer Res 50:2009", "random seed 2024", "seed=7"):
        assert not FORBIDDEN.search(text), text


def test_no_file_cites_notes_outside_the_repository() -> None:
    files = _files()
    assert len(files) > 50  # the scan sees the tree
    hits = []
    for path in files:
        data = path.read_bytes()
        if b"\0" in data:  # binary (images, databases)
            continue
        for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            if FORBIDDEN.search(line):
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not hits, "cite the primary source (docs/sources.md) instead of:\n" + "\n".join(hits)
