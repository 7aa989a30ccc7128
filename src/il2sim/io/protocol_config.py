"""Deprecated: moved to :mod:`il2sim.config.protocol`; this name stays so that old imports work."""

from il2sim.config.protocol import *  # noqa: F403
from il2sim.config.protocol import __all__ as __all__
