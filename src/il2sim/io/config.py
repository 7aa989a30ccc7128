"""Deprecated: moved to :mod:`il2sim.config.scenario`; this name stays so that old imports work."""

from il2sim.config.scenario import *  # noqa: F403
from il2sim.config.scenario import __all__ as __all__
