"""Deprecated: moved to :mod:`il2sim.store`; this name stays so that old imports work."""

from il2sim.store import *  # noqa: F403
from il2sim.store import __all__ as __all__
