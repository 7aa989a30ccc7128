"""Start-up time of the command line against importing NumPy, as a ratio.

    .venv/bin/python benchmarks/startup.py            # 15 runs of each, medians and ratios
    .venv/bin/python benchmarks/startup.py --runs 30

Times ``il2sim --version`` and ``il2sim --help`` (the console script of this environment)
and ``python -c "import numpy"``, alternately, each a fresh process, and prints the medians
and the ratio of each command to the NumPy import. The target of issue 19 is a ratio within
4: the command line imports its modules where a command uses them, so that ``--version`` and
``--help`` load neither NumPy, pandas, pint nor matplotlib. A ratio, not a time: the machine
is shared and its speed varies from run to run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_RATIO = 4.0
"""`il2sim --version` within this many times `python -c "import numpy"` (issue 19)."""


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("il2sim")
    commands = {
        "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
        "il2sim --version": [str(script), "--version"],
        "il2sim --help": [str(script), "--help"],
    }
    for command in commands.values():  # warm the file cache
        _seconds(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            times[name].append(_seconds(command))
    medians = {name: statistics.median(t) for name, t in times.items()}
    base = medians["python -c 'import numpy'"]
    print(f"median of {args.runs} runs each")
    for name, median in medians.items():
        print(f"  {name:<28} {1e3 * median:7.1f} ms   {median / base:5.2f} x numpy")
    ratio = medians["il2sim --version"] / base
    verdict = "within" if ratio <= TARGET_RATIO else "over"
    print(f"il2sim --version / import numpy = {ratio:.2f} ({verdict} the target of "
          f"{TARGET_RATIO:g})")


if __name__ == "__main__":
    main()
