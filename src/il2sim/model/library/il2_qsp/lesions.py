"""Several lesions that share one systemic immune response: ``il2_qsp_lesions(n)``.

A patient's metastases are separate tumours. Each lesion ``k`` (1..n) has its own
immune-sensitive and escape cells ``T_k``, ``T_r_k``, local oedema ``oed_k`` and
intratumoral depot ``A_it_k`` (dose route ``it_k``). The lesion model is built from the
components of :func:`~il2sim.model.library.il2_qsp.il2_qsp` by renaming, so each equation
is written once: every per-lesion symbol ``x`` of the single-tumour model becomes ``x_k``,
and the symbol ``x`` that the shared components (PK, interferon, receptors, immune pools,
leak) and immune memory ``M`` read becomes the lesions' pool. Per lesion:

    V_tum_k = (T_k + T_r_k)/cells_per_ml,   C_it_k = A_it_k/(V_tum_k + v_site_min)
    C_site_pM_k = C_pM + 3.994*C_it_k + IL_e,   perf_k = f_perf_k*1/(1 + oed_k)
    sig_int_site_k, s8_site_k: the receptor component's site signals at C_site_pM_k
    growth_k   = r_T*perf_k*(1 - ifn_block)*(log(K_T) - log(T_k + T_r_k))
    kill_eff_k = ant*f_ant_k*access*(k_L*(L/L0)*(a_L0 + s8_site_k)*mhc
                                     + k_N*(N/N0)*(a_N0 + sig_int_site_k + nk_ifn*e_ifn))
    kill_mem_k = k_M*M*ant*f_ant_k*access,   kill_nec_k = k_nec*oed_k
    dT_k/dt = T_k*(growth_k - kill_eff_k - kill_mem_k - kill_nec_k)   (T_r_k, oed_k, A_it_k
                                                                      likewise)

Pooled over the lesions:

    T = sum_k T_k,  T_r = sum_k T_r_k,  A_it = sum_k A_it_k,  V_tum = sum_k V_tum_k
    access = g_T/(g_T + T + T_r)                          one value for every lesion
    killed = sum_k killed_k
    sig_int_site = sum_k killed_k*sig_int_site_k/max(killed, 1e-30 cell/h)
    dM/dt = k_mem*killed/(killed + K_kill)*sig_int_site*(1 - M) - d_M*M
    dA_c/dt gets k_it*A_it (every depot drains to plasma); ``ag`` (helper stimulus) sees T + T_r

Choices, each an [assumption]:

- Access is pooled. The single-tumour model's kill is effector-limited (Kirschner &
  Panetta 1998, J Math Biol 37:235): one pool of effectors divides its work over all
  tumour cells, so a lesion becomes easier to reach when another shrinks. (Access limited
  by each lesion's own geometry would be per lesion; the one-tumour model cannot tell them
  apart, and pooling keeps a patient's total kill what the calibrated model gives.)
- The antigen that primes the response is the whole tumour: ``ag`` of the immune
  component reads T + T_r, as the draining nodes of every lesion feed one systemic
  response. ``f_ant_k`` scales how well effectors recognise lesion k, not the priming.
- Immune memory is systemic (animals cured by local IL-2 reject a rechallenge elsewhere:
  Maas et al. 1991, Cancer Immunol Immunother 33:389), built from the antigen released in
  all lesions, each weighted by the IL-2 signal where it is released. The ``max`` only
  avoids 0/0 when no cell dies (then memory formation is 0 either way).
- Each lesion grows by its own Gompertz law with the plateau ``K_T`` (lesions grow
  independently); ``f_perf_k`` is its perfusion relative to the typical lesion, which,
  as in the single tumour, acts on growth only, so it also carries the differences in
  growth between lesions.

Exact relations (tests/model/test_lesions.py): with one lesion the model is ``il2_qsp``
with the lesion symbols renamed. n identical lesions, each with 1/n of the cells and of each
intratumoral dose, stay identical and together are one tumour with plateau n*K_T and
smallest injection volume n*v_site_min (log(K_T) - log(T/n) = log(n*K_T) - log(T) and
(A/n)/(V/n + v) = A/(V + n*v); everything else sees the pooled values).

Doses: route ``it_k`` injects lesion k (a fraction ``f_dose_k`` of the written amount, 1
unless set) and ``challenge_k`` inoculates cells into it. There
is no route ``it``: an injection must name its lesion, and a regimen on ``it`` is refused
with the list of routes (:meth:`~il2sim.model.spec.Model.route`). A lesion's size is its
initial ``T_k + T_r_k`` (``initial_cells``; in a simulation, initial values of ``T_k`` and
``T_r_k``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from il2sim.model.compose import Component, compose
from il2sim.model.library.il2_qsp import CITATION, default_components
from il2sim.model.spec import (
    DoseRoute,
    Intermediate,
    Model,
    ModelError,
    Observable,
    Param,
    State,
)

__all__ = ["DOSE_FRACTION", "LESION_STATES", "il2_qsp_lesions"]

LESION_STATES = ("A_it", "oed", "T", "T_r")
"""States that exist once per lesion; the shared components see their sum."""

LESION_COMPONENTS = ("local", "tumour")
"""Components whose intermediates are per lesion (except :data:`POOLED`)."""

POOLED = ("access",)
"""Intermediates of the lesion components that see the whole tumour (one per patient)."""

AGGREGATES: Mapping[str, str | None] = {"V_tum": None, "killed": None,
                                        "sig_int_site": "killed"}
"""Per-lesion intermediates that shared equations may read: their sum (None) or their
mean weighted by the named per-lesion intermediate."""

FACTORS = {
    "ant": Param("f_ant", 1.0, "1", "antigenicity of the lesion relative to the patient's "
                 "tumour (ant)", "assumption: lesions of one patient share antigens; the "
                 "factor allows heterogeneity between them", (0.0, 1e4)),
    "perf": Param("f_perf", 1.0, "1", "perfusion of the lesion relative to a typical lesion",
                  "assumption: acts on growth as local oedema does (tumour component)",
                  (0.0, 1e2)),
}
"""Per-lesion factors: a parameter multiplies it where used; an intermediate, where defined."""

DOSED = "A_it"
"""The per-lesion state an injection fills; its routes carry :data:`DOSE_FRACTION`."""

DOSE_FRACTION = Param(
    "f_dose", 1.0, "1", "fraction of the prescribed intratumoral dose the lesion receives",
    "assumption: 1, the dose as written; a trial that doses each lesion by its size sets "
    "it per patient and lesion (il2sim.trial.lesions)")

_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")


def _symbols(expr: str) -> set[str]:
    return set(_NAME.findall(expr))


def _rename(expr: str, mapping: Mapping[str, str]) -> str:
    return _NAME.sub(lambda m: mapping.get(m.group(), m.group()), expr)


def il2_qsp_lesions(n: int, components: Sequence[Component] | None = None, *,
                    initial_cells: Sequence[float] | None = None) -> Model:
    """The flagship model with ``n`` lesions sharing one systemic response.

    Main arguments:
        n: number of lesions (at least 1).

    Other arguments:
        components: the single-tumour components to build from (default
            :func:`~il2sim.model.library.il2_qsp.default_components`).
        initial_cells: each lesion's tumour cells at the start (default: the single
            tumour's split equally); the escape fraction is the single tumour's.

    Raises:
        ModelError: ``n`` below 1, ``initial_cells`` of the wrong length or not positive,
            or a shared equation that reads a per-lesion quantity with no pooled form.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ModelError(f"il2_qsp_lesions: the number of lesions must be an integer >= 1, "
                         f"not {n!r}")
    parts = list(components) if components is not None else default_components()
    lesions = tuple(range(1, n + 1))
    local = _local_symbols(parts)
    states = {s.name: s for c in parts for s in c.states}
    missing = [s for s in LESION_STATES if s not in states]
    if missing:
        raise ModelError(f"il2_qsp_lesions: no state {missing[0]!r} to copy per lesion")
    cells = _initial_cells(states, n, initial_cells)

    def renamed(k: int) -> dict[str, str]:
        mapping = {name: f"{name}_{k}" for name in local}
        mapping.update({p: f"({p}*{f.name}_{k})" for p, f in FACTORS.items() if p not in local})
        return mapping

    def per_lesion_expr(name: str, expr: str, k: int) -> str:
        text = _rename(expr, renamed(k))
        factor = FACTORS.get(name)
        return f"{factor.name}_{k}*({text})" if factor is not None and name in local else text

    used: set[str] = set()
    built = [_lesion_params(lesions)]
    for c in parts:
        new_states: list[State] = []
        for s in c.states:
            if s.name in LESION_STATES:
                new_states += [replace(s, name=f"{s.name}_{k}", meaning=f"{s.meaning}, lesion {k}",
                                       initial=cells[s.name][k - 1]) for k in lesions]
            else:
                new_states.append(s)
        inters: list[Intermediate] = []
        for i in c.intermediates:
            if i.name in local:
                inters += [Intermediate(f"{i.name}_{k}", per_lesion_expr(i.name, i.expr, k),
                                        i.unit, f"{i.meaning}, lesion {k}") for k in lesions]
            else:
                used |= _check_shared(c.name, f"intermediate {i.name!r}", i.expr, local)
                inters.append(i)
        observables: list[Observable] = []
        for o in c.observables:
            refs = _symbols(o.expr) & local
            if refs:
                observables += [Observable(f"{o.name}_{k}", _rename(o.expr, renamed(k)), o.unit,
                                           f"{o.meaning}, lesion {k}") for k in lesions]
            if refs <= (set(LESION_STATES) | set(AGGREGATES)):
                used |= refs
                observables.append(o if not refs else replace(
                    o, meaning=f"{o.meaning} (all lesions)"))
        routes: list[DoseRoute] = []
        for r in c.routes:
            if r.state in LESION_STATES:
                routes += [replace(r, name=f"{r.name}_{k}", state=f"{r.state}_{k}",
                                   meaning=f"{r.meaning} (lesion {k})",
                                   fraction=f"{DOSE_FRACTION.name}_{k}"
                                   if r.state == DOSED and r.fraction is None else r.fraction)
                           for k in lesions]
            else:
                routes.append(r)
        terms: dict[str, str] = {}
        for target, term in c.terms.items():
            if target in LESION_STATES:
                terms.update({f"{target}_{k}": _rename(term, renamed(k)) for k in lesions})
            else:
                used |= _check_shared(c.name, f"the term of {target!r}", term, local)
                terms[target] = term
        built.append(replace(c, states=tuple(new_states), intermediates=tuple(inters),
                             observables=tuple(observables), routes=tuple(routes), terms=terms))
    built[0] = replace(built[0], intermediates=_pooled_states(used, lesions, states))
    built.append(_pooled_intermediates(used, lesions, parts))
    return compose(f"il2_qsp_lesions_{n}",
                   f"IL-2 therapy QSP model with {n} lesion{'s' if n > 1 else ''} sharing one "
                   "systemic immune response", CITATION, "h", built,
                   notes="Lesions: see il2sim.model.library.il2_qsp.lesions.")


def _local_symbols(parts: Sequence[Component]) -> set[str]:
    """Per-lesion states and intermediates: the lesion components' intermediates (less
    :data:`POOLED`) and any other intermediate that reads a per-lesion intermediate (the
    receptor component's tumour-site occupancies)."""
    local = set(LESION_STATES)
    derived: set[str] = set()
    for c in parts:
        for i in c.intermediates:
            if i.name in POOLED:
                continue
            if c.name in LESION_COMPONENTS or _symbols(i.expr) & derived:
                local.add(i.name)
                derived.add(i.name)
    return local


def _check_shared(component: str, where: str, expr: str, local: set[str]) -> set[str]:
    """The per-lesion symbols a shared expression reads; each must have a pooled form."""
    refs = _symbols(expr) & local
    bad = sorted(refs - set(LESION_STATES) - set(AGGREGATES))
    if bad:
        raise ModelError(f"il2_qsp_lesions: component {component!r}, {where} reads the "
                         f"per-lesion {bad[0]!r}, which has no pooled form")
    return refs


def _initial_cells(states: Mapping[str, State], n: int,
                   initial_cells: Sequence[float] | None) -> dict[str, list[float]]:
    """Each per-lesion state's initial value, by lesion."""
    t0, tr0 = states["T"].initial, states["T_r"].initial
    total = t0 + tr0
    sizes = [total / n] * n if initial_cells is None else [float(c) for c in initial_cells]
    if len(sizes) != n or not all(c > 0 for c in sizes):
        raise ModelError(f"il2_qsp_lesions: initial_cells must be {n} positive numbers, "
                         f"not {initial_cells!r}")
    out = {"T": [c * t0 / total for c in sizes], "T_r": [c * tr0 / total for c in sizes]}
    for name in LESION_STATES:
        if name not in out:
            out[name] = [states[name].initial] * n
    return out


def _lesion_params(lesions: Iterable[int]) -> Component:
    return Component(
        name="lesions",
        description="per-lesion factors and the lesions' pooled cells and depots",
        params=tuple(replace(f, name=f"{f.name}_{k}", meaning=f"{f.meaning} (lesion {k})")
                     for k in lesions for f in (*FACTORS.values(), DOSE_FRACTION)),
    )


def _pooled_states(used: set[str], lesions: tuple[int, ...],
                   states: Mapping[str, State]) -> tuple[Intermediate, ...]:
    return tuple(Intermediate(name, " + ".join(f"{name}_{k}" for k in lesions),
                              states[name].unit, f"{states[name].meaning}, all lesions")
                 for name in LESION_STATES if name in used)


def _pooled_intermediates(used: set[str], lesions: tuple[int, ...],
                          parts: Sequence[Component]) -> Component:
    declared = {i.name: i for c in parts for i in c.intermediates}
    pooled = []
    for name, weight in AGGREGATES.items():
        if name not in used:
            continue
        if len(lesions) == 1:
            expr = f"{name}_1"
        elif weight is None:
            expr = " + ".join(f"{name}_{k}" for k in lesions)
        else:
            total = " + ".join(f"{weight}_{k}" for k in lesions)
            weighted = " + ".join(f"{weight}_{k}*{name}_{k}" for k in lesions)
            expr = f"({weighted})/Max({total}, 1e-30)"
        how = "sum over lesions" if weight is None else f"mean over lesions weighted by {weight}"
        pooled.append(Intermediate(name, expr, declared[name].unit,
                                   f"{declared[name].meaning} ({how})"))
    return Component(name="lesion_pool", description="per-lesion quantities pooled for the "
                     "shared equations", intermediates=tuple(pooled))
