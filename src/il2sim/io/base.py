"""Deprecated: moved to :mod:`il2sim.config.errors`; this name stays so that old imports work."""

from il2sim.config.errors import *  # noqa: F403
from il2sim.config.errors import __all__ as __all__
