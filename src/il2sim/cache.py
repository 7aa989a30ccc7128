"""Where il2sim keeps generated code between runs: ``$IL2SIM_CACHE``, else
``$XDG_CACHE_HOME/il2sim``, else ``~/.cache/il2sim``; one subfolder per kind."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(kind: str) -> Path:
    """The cache folder for ``kind`` (``native``, ``python``); not created here."""
    root = os.environ.get("IL2SIM_CACHE")
    if root:
        return Path(root) / kind
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "il2sim" / kind
