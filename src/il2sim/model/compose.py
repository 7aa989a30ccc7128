"""Compose a model from swappable sub-models (components).

A :class:`Component` declares states, parameters, inputs, intermediates,
observables and routes like a :class:`~il2sim.model.spec.Model`, but its
equations are *terms*: each component adds terms to the time derivative of any
state of the composed model, its own or another's (e.g. receptor-mediated
clearance adds a loss to the plasma IL-2 of the PK component). The derivative of
a state is the sum of all terms contributed to it:

    dx/dt = sum over components c of term_c(x)

Components refer to each other's symbols by name; :func:`compose` checks the
result as any model is checked (unknown symbol, duplicate name, state without
equation), naming the component in the error where it can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from il2sim.model.spec import (
    DoseRoute,
    Input,
    Intermediate,
    Model,
    ModelError,
    Observable,
    Param,
    State,
)

__all__ = ["Component", "compose"]


@dataclass(frozen=True)
class Component:
    """One swappable part of a composed model."""

    name: str
    description: str
    states: tuple[State, ...] = ()
    params: tuple[Param, ...] = ()
    inputs: tuple[Input, ...] = ()
    intermediates: tuple[Intermediate, ...] = ()
    observables: tuple[Observable, ...] = ()
    routes: tuple[DoseRoute, ...] = ()
    terms: Mapping[str, str] = field(default_factory=dict)


def compose(
    name: str,
    title: str,
    citation: str,
    time_unit: str,
    components: Sequence[Component],
    *,
    notes: str = "",
) -> Model:
    """Build one model from components; the derivative of each state sums its terms."""
    seen: dict[str, str] = {}
    for c in components:
        if c.name in seen:
            raise ModelError(f"component {c.name!r} appears twice")
        seen[c.name] = c.name
    states = tuple(s for c in components for s in c.states)
    state_names = {s.name for s in states}
    terms: dict[str, list[str]] = {s.name: [] for s in states}
    for c in components:
        for target, term in c.terms.items():
            if target not in state_names:
                raise ModelError(f"component {c.name!r} adds a term to unknown state {target!r}")
            terms[target].append(f"({term})")
    equations = {s: " + ".join(t) if t else "0" for s, t in terms.items()}
    described = "\n".join(f"- {c.name}: {c.description}" for c in components)
    return Model(
        name=name,
        title=title,
        citation=citation,
        time_unit=time_unit,
        states=states,
        params=tuple(p for c in components for p in c.params),
        equations=equations,
        inputs=tuple(i for c in components for i in c.inputs),
        intermediates=tuple(i for c in components for i in c.intermediates),
        observables=tuple(o for c in components for o in c.observables),
        routes=tuple(r for c in components for r in c.routes),
        notes=(notes + "\n\nComponents:\n" + described).strip(),
    )
