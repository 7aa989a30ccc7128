"""de Pillis, Gu & Radunskaya 2006: tumour, NK, CD8+ T cells, lymphocytes, chemotherapy, IL-2.

L. G. de Pillis, W. Gu and A. E. Radunskaya, "Mixed immunotherapy and chemotherapy of
tumors: modeling, applications and biological interpretations", J. Theor. Biol.
238:841-862 (2006), doi:10.1016/j.jtbi.2005.06.037. Time in days.

    D     = d*(L/T)^l / (s + (L/T)^l)
    dT/dt = a*T*(1 - b*T) - c*N*T - D*T - K_T*(1 - exp(-M))*T
    dN/dt = e*C - f*N + g*T^2/(h + T^2)*N - p*N*T - K_N*(1 - exp(-M))*N
    dL/dt = -m*L + j*D^2*T^2/(k + D^2*T^2)*L - q*L*T + (r1*N + r2*C)*T
            - u*N*L^2 - K_L*(1 - exp(-M))*L + p_I*L*I/(g_I + I) + v_L(t)
    dC/dt = alpha - beta*C - K_C*(1 - exp(-M))*C
    dM/dt = -gamma*M + v_M(t)
    dI/dt = -mu_I*I + v_I(t)

T tumour cells, N natural killer cells, L tumour-specific CD8+ T cells, C circulating
lymphocytes, M chemotherapy drug in the blood (the paper's drug units, declared ``arb``),
I IL-2 (IU/L). Parameters are the human fits to patients 9 and 10 of Dudley et al.
2002 (Science 298:850); ``depillis2006(patient=9)`` or ``depillis2006(patient=10)``.

Treatment inputs: ``v_L`` (adoptive transfer of CD8+ T cells, cells/day, route
``cells``), ``v_M`` (chemotherapy, drug units/day, route ``chemo``) and ``v_I`` (IL-2,
IU/L/day, route ``il2``). An infusion on a route drives its input (the paper's
piecewise-constant treatment functions); a bolus on a route jumps the state (L, M or I)
at an instant.

Decisions and departures:
- **m (CD8+ death rate), patient 10.** The value 9.12 /day (patient 9: 0.204 /day) comes
  from two independent reproductions of the paper's table (public re-implementations);
  the printed table itself was not available to check. It is 45 times patient 9's value
  and gives a CD8+ half-life of 1.8 h, far shorter than any measured one, which suggests a
  lost exponent in transcription. Without the source to prove it, we keep 9.12 as
  transcribed (the number both reproductions use, so results stay comparable with them)
  and flag it here; ``depillis2006(10).with_params(m=...)`` changes it. The tests show what
  it does: patient 10's tumour-free CD8+ pool decays within hours, patient 9's within days.
- The equations are the paper's, with no change. No curated SBML file exists for this
  paper (BIOMD0000000779 is the 2009 update, module ``depillis2009``).
- D is written d/(1 + s*(T/L)^l), identical to the paper's form for positive L and T,
  so that it stays finite once the tumour is cleared: (L/T)^l overflowed to inf/inf = NaN
  when T fell below about 1e-150 cells (found at 200 days with patient 9).
- T, N, L, C are integrated as logarithms (positive by construction); M and I start at
  0 and are integrated linearly.
- Default initial state (an assumption; the paper varies it per experiment): a tumour
  of 1e6 cells in a healthy immune system at its tumour-free equilibrium,
  C = alpha/beta, N = e*C/f, with 100 tumour-specific CD8+ T cells, no drug, no IL-2.
"""

from __future__ import annotations

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

__all__ = ["PATIENTS", "depillis2006"]

CITATION = ("de Pillis LG, Gu W, Radunskaya AE. Mixed immunotherapy and chemotherapy of "
            "tumors: modeling, applications and biological interpretations. J Theor Biol "
            "238:841-862 (2006). doi:10.1016/j.jtbi.2005.06.037")
SOURCE = ("de Pillis, Gu & Radunskaya 2006, J Theor Biol 238:841, Table 1 (as transcribed "
          "in two independent reproductions)")


def _src(patient: int | None) -> str:
    if patient is None:
        return SOURCE
    return f"{SOURCE}; patient {patient} fit to Dudley et al. 2002"


# Patient-specific values: name -> (patient 9, patient 10).
PATIENTS: dict[str, tuple[float, float]] = {
    "d": (2.34, 1.88),
    "l": (2.09, 1.81),
    "s": (8.39e-2, 5.12e-1),
    "k": (3.66e7, 5.66e7),
    "m": (2.04e-1, 9.12),
    "p": (3.42e-6, 3.59e-6),
    "q": (1.42e-6, 1.59e-6),
    "alpha": (7.5e8, 5e8),
    "beta": (1.2e-2, 8e-3),
}


def depillis2006(patient: int = 9) -> Model:
    """The dP06 model with the parameters of Dudley's patient 9 (default) or patient 10.

    Raises:
        ModelError: ``patient`` is neither 9 nor 10.
    """
    if patient not in (9, 10):
        raise ModelError(f"depillis2006: patient must be 9 or 10, not {patient!r}")
    col = 0 if patient == 9 else 1
    pv = {name: values[col] for name, values in PATIENTS.items()}
    ps = _src(patient)
    src = _src(None)
    m_source = ps if patient == 9 else (
        ps + "; unchecked against the printed table (see module docstring)")
    c0 = pv["alpha"] / pv["beta"]
    n0 = 2.08e-7 * c0 / 4.12e-2
    params = (
        Param("a", 4.31e-1, "1/day", "tumour growth rate", src, (0.0, 10.0)),
        Param("b", 1.02e-9, "1/cell", "inverse tumour carrying capacity", src),
        Param("c", 6.41e-11, "1/cell/day", "NK kill rate of tumour cells", src),
        Param("d", pv["d"], "1/day", "saturation level of CD8+ fractional tumour kill", ps),
        Param("l", pv["l"], "1", "exponent of the CD8+/tumour ratio in the kill term", ps,
              (0.0, 10.0)),
        Param("s", pv["s"], "1", "steepness of the CD8+ kill term (half-saturation of "
              "(L/T)^l)", ps),
        Param("e", 2.08e-7, "1/day", "NK production as a fraction of circulating "
              "lymphocytes", src),
        Param("f", 4.12e-2, "1/day", "NK death rate", src),
        Param("g", 1.25e-2, "1/day", "maximal NK recruitment by tumour cells", src),
        Param("h", 2.02e7, "cell**2", "steepness of NK recruitment (half-saturation of T^2)",
              src),
        Param("j", 2.49e-2, "1/day", "maximal CD8+ recruitment by lysed tumour cells", src),
        Param("k", pv["k"], "cell**2/day**2",
              "steepness of CD8+ recruitment (half-saturation of (D*T)^2)", ps),
        Param("m", pv["m"], "1/day", "CD8+ T cell death rate", m_source),
        Param("p", pv["p"], "1/cell/day", "NK inactivation by tumour cells", ps),
        Param("q", pv["q"], "1/cell/day", "CD8+ inactivation by tumour cells", ps),
        Param("r1", 1.1e-7, "1/cell/day", "CD8+ stimulation by NK-lysed tumour debris", src),
        Param("r2", 6.5e-11, "1/cell/day", "CD8+ activation of circulating lymphocytes "
              "by tumour encounter", src),
        Param("u", 3e-10, "1/cell**2/day", "NK regulation (inactivation) of CD8+ T cells",
              src),
        Param("alpha", pv["alpha"], "cell/day", "constant source of circulating lymphocytes",
              ps),
        Param("beta", pv["beta"], "1/day", "death rate of circulating lymphocytes", ps),
        Param("gamma", 9e-1, "1/day", "chemotherapy drug decay rate", src),
        Param("K_T", 9e-1, "1/day", "maximal tumour kill by chemotherapy", src),
        Param("K_N", 6e-1, "1/day", "maximal NK kill by chemotherapy", src),
        Param("K_L", 6e-1, "1/day", "maximal CD8+ kill by chemotherapy", src),
        Param("K_C", 6e-1, "1/day", "maximal lymphocyte kill by chemotherapy", src),
        Param("p_I", 1.25e-1, "1/day", "maximal CD8+ proliferation driven by IL-2", src),
        Param("g_I", 2e7, "IU/L", "IL-2 half-saturation of CD8+ proliferation", src),
        Param("mu_I", 1e1, "1/day", "IL-2 decay rate", src),
    )
    return Model(
        name="depillis2006" if patient == 9 else "depillis2006_p10",
        title=f"de Pillis-Gu-Radunskaya 2006 chemo-immunotherapy model, patient {patient}",
        citation=CITATION,
        time_unit="day",
        states=(
            State("T", 1e6, "cell", "tumour cells", log=True),
            State("N", n0, "cell", "natural killer (NK) cells", log=True),
            State("L", 1e2, "cell", "tumour-specific activated CD8+ T cells", log=True),
            State("C", c0, "cell", "circulating lymphocytes", log=True),
            State("M", 0.0, "arb", "chemotherapy drug in the bloodstream"),
            State("I", 0.0, "IU/L", "IL-2 in the bloodstream"),
        ),
        params=params,
        inputs=(
            Input("v_L", "cell/day", "adoptive transfer of CD8+ T cells (TIL)"),
            Input("v_M", "arb/day", "chemotherapy dosing"),
            Input("v_I", "IU/L/day", "IL-2 dosing"),
        ),
        intermediates=(
            Intermediate("D", "d/(1 + s*(T/L)**l)", "1/day",
                         "fractional tumour kill by CD8+ T cells (= d*(L/T)^l/(s + (L/T)^l))"),
            Intermediate("chemo_kill", "1 - exp(-M)", "1", "fraction of maximal drug effect"),
        ),
        equations={
            "T": "a*T*(1 - b*T) - c*N*T - D*T - K_T*chemo_kill*T",
            "N": "e*C - f*N + g*T**2/(h + T**2)*N - p*N*T - K_N*chemo_kill*N",
            "L": "-m*L + j*D**2*T**2/(k + D**2*T**2)*L - q*L*T + (r1*N + r2*C)*T"
                 " - u*N*L**2 - K_L*chemo_kill*L + p_I*L*I/(g_I + I) + v_L",
            "C": "alpha - beta*C - K_C*chemo_kill*C",
            "M": "-gamma*M + v_M",
            "I": "-mu_I*I + v_I",
        },
        observables=(
            Observable("tumour_fraction", "b*T", "1", "tumour size over carrying capacity"),
            Observable("cd8_kill", "D", "1/day", "fractional tumour kill by CD8+ T cells"),
        ),
        routes=(
            DoseRoute("cells", "L", "cell", "adoptive transfer of CD8+ T cells (v_L)",
                      input="v_L"),
            DoseRoute("chemo", "M", "arb", "chemotherapy (v_M)", input="v_M"),
            DoseRoute("il2", "I", "IU/L", "IL-2 (v_I)", input="v_I"),
        ),
        notes="Patient 10's m = 9.12/day is kept as transcribed by two reproductions and "
              "is unverified against the printed table (see the module docstring).",
    )
