"""One fingerprint of a model: the key of every cache and stored identity derived from it.

:func:`model_fingerprint` hashes every field of a :class:`~il2sim.model.spec.Model` and of
the declarations in it (states, parameters with their default values, units and bounds,
inputs, equations, intermediates, observables, dose routes, events, the time unit, the name)
except the prose that no computation reads (title, citation, notes, meaning, source). A field
added to the specification later is covered without a change here. With the source files of
a code generator it is also the key of the code it generates: the Python source cache
(:mod:`il2sim.model.compile`), the native libraries (:mod:`il2sim.engine.native_backend`,
with the integrator mixed in), the JAX compiled functions; :func:`model_version` is a stored
run's (and a stored analysis') model version.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from pathlib import Path

import sympy

from il2sim.model.spec import Model

__all__ = ["model_fingerprint", "model_version"]

# Fields that only document a model: editing them changes no result.
_PROSE = frozenset({"title", "citation", "notes", "meaning", "source"})


def _content(value: object) -> object:
    """``value`` as nested tuples of plain values: dataclasses by field (prose left out),
    mappings sorted by key."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,
                tuple((f.name, _content(getattr(value, f.name)))
                      for f in dataclasses.fields(value) if f.name not in _PROSE))
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _content(v)) for k, v in value.items()))
    if isinstance(value, (tuple, list)):
        return tuple(_content(v) for v in value)
    return value


def model_fingerprint(model: Model, *generators: str) -> str:
    """SHA-256 (hex) of everything in ``model`` that a result or generated code depends on.

    ``generators``: paths of the source files that generate an artefact from the model; their
    contents and the SymPy version are then hashed too (the artefact's cache key).
    """
    digest = hashlib.sha256(repr(_content(model)).encode())
    for path in generators:
        digest.update(b"\0")
        digest.update(Path(path).read_bytes())
    if generators:
        digest.update(sympy.__version__.encode())
    return digest.hexdigest()


def model_version(model: Model) -> str:
    """The model version stored with a run or an analysis: il2sim's version and the
    fingerprint's first 12 hex digits."""
    from il2sim import __version__

    return f"{__version__}+{model_fingerprint(model)[:12]}"
