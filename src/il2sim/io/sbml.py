"""Deprecated: moved to :mod:`il2sim.sbml`; this name stays so that old imports work."""

from il2sim.sbml import (
    FluxBalance,
    SbmlError,
    SbmlImport,
    export_sbml,
    flux_balance,
    import_sbml,
    legal_name,
    read_sbml,
)

__all__ = ["FluxBalance", "SbmlError", "SbmlImport", "export_sbml", "flux_balance", "import_sbml",
           "legal_name", "read_sbml"]
