"""The light part of :mod:`il2sim.config`: the input error, the output formats and the output
limit, importable without NumPy, pandas or pint so that the command line starts fast (its
options name the formats and the limit before any command runs)."""

from __future__ import annotations

from typing import Literal

__all__ = ["FORMATS", "MAX_OUTPUT_VALUES", "TABLE_FORMATS", "ConfigError", "Format",
           "TableFormat"]

Format = Literal["csv", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "parquet")
"""Formats of a simulation's trajectory table."""

TableFormat = Literal["csv", "parquet", "json"]
TABLE_FORMATS: tuple[TableFormat, ...] = ("csv", "parquet", "json")
"""Formats a query over the result store can be written in (DuckDB ``COPY ... TO``)."""

MAX_OUTPUT_VALUES = 50_000_000
"""The most values (output times x patients x states and observables) one scenario may
produce: 400 MB as float64, some GB as CSV. Checked before anything is computed or written."""


class ConfigError(ValueError):
    """A scenario or config file is malformed: one line naming the file, key and problem.

    Attributes:
        source: the file (or ``"<command line>"``).
        key: the key path (``regimen[0].amount``), a line number for bad TOML, or None.
        problem: what is wrong.
    """

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = " ".join(str(problem).split())
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {self.problem}")

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, str | None, str]]:
        return (type(self), (self.source, self.key, self.problem))
