"""Deprecated: moved to :mod:`il2sim.engine.output`; this name stays so that old imports work."""

from il2sim.engine.output import *  # noqa: F403
from il2sim.engine.output import __all__ as __all__
