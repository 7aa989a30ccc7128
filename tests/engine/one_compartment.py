"""A one-compartment model with an SC depot, for exact-solution tests of the engine."""

from __future__ import annotations

from il2sim import DoseRoute, Model, Observable, Param, State

K, V, KA, F = 0.1, 2.0, 0.7, 0.4  # 1/h, L, 1/h, 1


def one_compartment(*, log_central: bool = False) -> Model:
    src = "test model"
    return Model(
        name="one_cpt",
        title="one compartment with depot",
        citation="Gibaldi & Perrier, Pharmacokinetics (1982)",
        time_unit="h",
        states=(State("A", 1e-3 if log_central else 0.0, "IU", "central amount",
                      log=log_central),
                State("A_d", 0.0, "IU", "depot amount")),
        params=(Param("k", K, "1/h", "elimination", src), Param("V", V, "L", "volume", src),
                Param("ka", KA, "1/h", "absorption", src),
                Param("F", F, "1", "bioavailability", src, (0.0, 1.0))),
        equations={"A": "-k*A + ka*A_d", "A_d": "-ka*A_d"},
        observables=(Observable("C", "A/V", "IU/L", "concentration"),),
        routes=(DoseRoute("iv", "A", "IU", "intravenous"),
                DoseRoute("sc", "A_d", "IU", "depot", fraction="F")),
    )


MODEL = one_compartment()
