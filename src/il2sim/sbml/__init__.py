"""SBML import and export (python-libsbml).

    from il2sim.sbml import export_sbml, import_sbml, read_sbml

- :func:`export_sbml` writes any il2sim model as SBML Level 3 Version 2 (states as
  species with rate rules in natural form, parameters with meaning and source,
  intermediates and observables as assignment rules, inputs as parameters), optionally
  with a regimen as events; libSBML's consistency checks pass. libRoadRunner reproduces
  il2sim's trajectories on the file.
- :func:`import_sbml` reads SBML Level 2 (Versions 1-5) and Level 3 (Versions 1-2) with
  SBML semantics, or refuses a construct it cannot represent exactly with an
  :class:`SbmlError` naming it; :func:`read_sbml` also returns the SBML id -> il2sim name
  mapping and evaluates SBML quantities (amounts, concentrations) on a result.
  Hierarchical models (comp package) are flattened by libSBML first.
- :func:`flux_balance` solves the flux balance problem of an fbc model (a linear program,
  not a time course; ``import_sbml`` refuses fbc).

See ``docs/sbml-support.md`` for the mapping in both directions, the renaming rule and the
SBML Test Suite results.
"""

from il2sim.sbml.fbc import FluxBalance, flux_balance
from il2sim.sbml.mathml import SbmlError
from il2sim.sbml.read import SbmlImport, import_sbml, legal_name, read_sbml
from il2sim.sbml.write import export_sbml

__all__ = ["FluxBalance", "SbmlError", "SbmlImport", "export_sbml", "flux_balance", "import_sbml",
           "legal_name", "read_sbml"]
