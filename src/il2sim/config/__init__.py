"""Input files: scenarios (:mod:`~il2sim.config.scenario`), treatment protocols
(:mod:`~il2sim.config.protocol`) and trials (:mod:`~il2sim.config.trial`) read from TOML (or
the same tables from a web request) into validated library objects; every problem is a
:class:`~il2sim.config.errors.ConfigError` naming the file and key.

Nothing is imported here, so that the light :mod:`il2sim.config.errors` (imported by the
command line before any command runs, and by the store) loads no NumPy, pandas or pydantic.
"""
