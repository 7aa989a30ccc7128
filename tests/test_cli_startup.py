"""Start-up of the command line: ``--version`` and ``--help`` load no heavy module (issue 19;
the time itself is measured as a ratio by ``benchmarks/startup.py``, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "pandas", "pint", "scipy", "matplotlib", "duckdb", "jax", "libsbml",
         "sympy", "dask", "pydantic", "fastapi")
"""Modules that cost tens to hundreds of milliseconds to import."""


def _loaded_after(code: str) -> list[str]:
    probe = (f"import sys, json\n{code}\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_version_and_help_load_no_heavy_module() -> None:
    code = ("from il2sim.cli import cli\n"
            "for args in (['--version'], ['--help'], ['trial', '--help'], "
            "['simulate', '--help'], ['results', '--help']):\n"
            "    cli(args, prog_name='il2sim', standalone_mode=False)")
    assert _loaded_after(code) == []


def test_import_il2sim_is_lazy_yet_complete() -> None:
    assert _loaded_after("import il2sim") == []
    loaded = _loaded_after("from il2sim import simulate, get_model, ureg\nimport il2sim\n"
                           "assert il2sim.units.ureg is ureg")
    assert "numpy" in loaded and "pint" in loaded


def test_a_command_still_reports_bad_input_in_one_line() -> None:
    from click.testing import CliRunner

    from il2sim.cli import cli

    result = CliRunner().invoke(cli, ["show", "no_such_model"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and len(result.output.splitlines()) == 1
