"""The SBML reader behind :func:`il2sim.sbml.read.read_sbml`, as stages that pass
their results on explicitly:

1. :func:`~.source.open_source` -> :class:`~.source.Source`: the document read, validated,
   flattened (comp) and refused where il2sim cannot represent it;
2. :func:`~.source.collect` -> :class:`~.source.Elements`: the elements by kind;
3. :func:`~.source.name_symbols` -> :class:`~.source.Names`: il2sim names (and the registry
   later stages take new names from);
4. :func:`~.maths.convert_math` -> :class:`~.maths.Maths`: rules, kinetic laws, events and
   initial assignments in SymPy, algebraic rules solved;
5. :func:`~.roles.classify` -> :class:`~.roles.Roles`: parameter, state, amount or rule;
6. :func:`~.dynamics.dynamics` -> :class:`~.dynamics.Dynamics`: the states' equations,
   fast reactions at equilibrium, ``rateOf`` replaced;
7. :class:`~.initial.InitialValues`: values at t = 0, on demand;
8. :func:`~.build.build_model`: the :class:`~il2sim.model.spec.Model`
   (:mod:`~.describe`: units, meanings and notes).

What each SBML element becomes is described in :mod:`il2sim.sbml.read`.
"""
