"""Deprecated: moved to :mod:`il2sim.config.trial`; this name stays so that old imports work."""

from il2sim.config.trial import *  # noqa: F403
from il2sim.config.trial import __all__ as __all__
