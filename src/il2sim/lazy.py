"""Lazy re-exports (PEP 562): a package's public names imported from their modules on first
use, so that importing the package stays cheap (``il2sim --version`` loads no NumPy)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["LazyExports"]


class LazyExports:
    """The module ``__getattr__`` and ``__dir__`` of ``package``.

    ``homes`` maps a module to the public names it defines; such a name is imported from it on
    first use and then cached in the package. Any other name is a submodule, imported as if
    everything had been imported eagerly. ``public`` is the package's ``__all__``.
    """

    def __init__(self, package: str, homes: Mapping[str, tuple[str, ...]],
                 public: list[str]) -> None:
        self.package = package
        self.home = {name: module for module, names in homes.items() for name in names}
        self.public = public

    def getattr(self, name: str) -> Any:
        """A public name from its module (then cached in the package), or a submodule."""
        module = self.home.get(name)
        if module is None:
            if importlib.util.find_spec(f"{self.package}.{name}") is None:
                raise AttributeError(f"module {self.package!r} has no attribute {name!r}")
            return importlib.import_module(f"{self.package}.{name}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[self.package], name, value)
        return value

    def dir(self) -> list[str]:
        return sorted(set(vars(sys.modules[self.package])) | set(self.public))
