"""de Pillis et al. 2009: chemo-immunotherapy with endogenous IL-2 (update of dP06).

L. de Pillis, K. R. Fister, W. Gu, C. Collins, M. Daub, D. Gross, J. Moore and
B. Preskill, "Mathematical model creation for cancer chemo-immunotherapy", Comput. Math.
Methods Med. 10:165-184 (2009), doi:10.1080/17486700802216301. BioModels
BIOMD0000000779. Time in days.

    D     = d*(L/T)^l / (s + (L/T)^l)
    dT/dt = a*T*(1 - b*T) - c*N*T - D*T - K_T*(1 - exp(-delta_T*M))*T
    dN/dt = f*(ef*C - N) - p*N*T + p_N*N*I/(g_N + I) - K_N*(1 - exp(-delta_N*M))*N
    dL/dt = -theta*m*L/(theta + I) + j*T*L/(k + T) - q*L*T + (r_1*N + r_2*C)*T
            - u*L^2*C*I/(kappa + I) - K_L*(1 - exp(-delta_L*M))*L
            + p_I*L*I/(g_I + I) + v_L(t)
    dC/dt = beta*(alphabeta - C) - K_C*(1 - exp(-delta_C*M))*C
    dM/dt = -gamma*M + v_M(t)
    dI/dt = -mu_I*I + phi*C + omega*L*I/(zeta + I) + v_I(t)

T tumour cells; N, L, C natural killer cells, tumour-specific CD8+ T cells and circulating
lymphocytes per litre of blood; M chemotherapy drug (the paper's units, declared ``arb``);
I IL-2 (IU/L). Against dP06 the update adds endogenous IL-2 production (phi*C by naive
and omega*L*I/(zeta + I) by activated CD8+ cells), IL-2-stimulated NK proliferation, an
IL-2-dependent CD8+ turnover and IL-2-dependent CD8+ self-regulation, and a drug
sensitivity delta in every chemotherapy kill term. The paper writes e/f and alpha/beta as
the combined constants ``ef`` and ``alphabeta`` (the BioModels file does too). Parameter
names are the file's identifiers, so the two can be compared by name.

Treatment inputs ``v_L`` (cells/L/day, route ``cells``), ``v_M`` (drug units/day, route
``chemo``) and ``v_I`` (IU/L/day, route ``il2``): an infusion drives the input, a bolus
jumps L, M or I.

Departures from BIOMD0000000779 (the file's quirks; this module keeps the paper):
- The file sets d = l = s = 0, which switches the CD8+ kill term D off entirely
  (0*(L/T)^0/(0 + (L/T)^0) = 0). Here d = 2.34 /day, l = 2.09, s = 3.8e-3, the values of
  the paper as coded in two independent reproductions (those of de Pillis et al. 2005,
  Cancer Res 65:7950, patient 9). The printed table was not available to check them.
- The file's CD8+ turnover is phi*m*L/(phi + I): it passes phi (naive IL-2 production,
  IU/cell/day) where the paper has theta (IU/L). Here theta.
- The file's p_N = 0.068 /day; both reproductions above use 0.0668. We keep the curated
  file's 0.068 (unverified; a 1.8 % difference).
The test module builds the file's form and matches libRoadRunner on the file.

Numerics: D is written d/(1 + s*(T/L)^l), identical to the paper's form for positive
L and T, so that it stays finite when the tumour is cleared (L/T would overflow).
T, N, L, C are integrated as logarithms; M (starting at 0) and I linearly.
Default initial state: the file's (T = 1e7 cells, N = 2.5e8, L = 5.268e5 and
C = 2.25e9 cells/L, M = 0, I = 1073 IU/L).
"""

from __future__ import annotations

from il2sim.model.spec import DoseRoute, Input, Intermediate, Model, Observable, Param, State

__all__ = ["depillis2009"]

CITATION = ("de Pillis L, Fister KR, Gu W, Collins C, Daub M, Gross D, Moore J, Preskill B. "
            "Mathematical model creation for cancer chemo-immunotherapy. Comput Math Methods "
            "Med 10:165-184 (2009). doi:10.1080/17486700802216301")
SOURCE = "de Pillis et al. 2009, CMMM 10:165, as curated in BIOMD0000000779"
DLS = ("de Pillis et al. 2009 (patient 9 of de Pillis et al. 2005, Cancer Res 65:7950) as "
       "coded in two independent reproductions; BIOMD0000000779 sets it to 0")


def depillis2009() -> Model:
    """The dP09 model in the paper's form, with the curated file's parameter values."""
    S = SOURCE
    params = (
        Param("a", 0.431, "1/day", "tumour growth rate", S, (0.0, 10.0)),
        Param("b", 1.02e-9, "1/cell", "inverse tumour carrying capacity", S),
        Param("c", 2.9077e-13, "L/cell/day", "NK kill rate of tumour cells", S),
        Param("d", 2.34, "1/day", "saturation level of CD8+ fractional tumour kill", DLS),
        Param("l", 2.09, "1", "exponent of the CD8+/tumour ratio in the kill term", DLS,
              (0.0, 10.0)),
        Param("s", 3.8e-3, "1", "steepness of the CD8+ kill term", DLS),
        Param("K_T", 0.9, "1/day", "maximal tumour kill by chemotherapy", S),
        Param("delta_T", 1.8328, "1/arb", "tumour sensitivity to the drug", S),
        Param("ef", 0.111, "1", "e/f: NK fraction of circulating lymphocytes at equilibrium",
              S),
        Param("f", 0.0125, "1/day", "NK turnover rate", S),
        Param("p", 2.794e-13, "1/cell/day", "NK inactivation by tumour cells", S),
        Param("p_N", 0.068, "1/day", "maximal NK proliferation driven by IL-2",
              S + " (reproductions of the paper use 0.0668)"),
        Param("g_N", 250360.0, "IU/L", "IL-2 half-saturation of NK proliferation", S),
        Param("K_N", 0.0675, "1/day", "maximal NK kill by chemotherapy", S),
        Param("delta_N", 1.8328, "1/arb", "NK sensitivity to the drug", S),
        Param("m", 0.009, "1/day", "CD8+ T cell turnover (death) rate", S),
        Param("theta", 0.0025036, "IU/L", "IL-2 level that halves CD8+ turnover", S),
        Param("q", 3.422e-10, "1/cell/day", "CD8+ inactivation by tumour cells", S),
        Param("r_1", 2.9077e-11, "1/cell/day", "CD8+ stimulation by NK-lysed tumour debris", S),
        Param("r_2", 5.8467e-13, "1/cell/day",
              "CD8+ activation of circulating lymphocytes by tumour encounter", S),
        Param("p_I", 2.971, "1/day", "maximal CD8+ proliferation driven by IL-2", S),
        Param("g_I", 2503.6, "IU/L", "IL-2 half-saturation of CD8+ proliferation", S),
        Param("u", 4.417e-14, "L**2/cell**2/day", "IL-2-dependent CD8+ self-regulation", S),
        Param("kappa", 2503.6, "IU/L", "IL-2 half-saturation of CD8+ self-regulation", S),
        Param("j", 0.01245, "1/day", "maximal CD8+ recruitment by lysed tumour cells", S),
        Param("k", 2.019e7, "cell", "tumour size of half-maximal CD8+ recruitment", S),
        Param("K_L", 0.0486, "1/day", "maximal CD8+ kill by chemotherapy", S),
        Param("delta_L", 1.8328, "1/arb", "CD8+ sensitivity to the drug", S),
        Param("alphabeta", 2.25e9, "cell/L", "alpha/beta: lymphocyte equilibrium", S),
        Param("beta", 0.0063, "1/day", "lymphocyte turnover rate", S),
        Param("K_C", 0.034, "1/day", "maximal lymphocyte kill by chemotherapy", S),
        Param("delta_C", 1.8328, "1/arb", "lymphocyte sensitivity to the drug", S),
        Param("gamma", 0.5199, "1/day", "chemotherapy drug decay rate", S),
        Param("mu_I", 11.7427, "1/day", "IL-2 decay rate", S),
        Param("omega", 0.07874, "IU/cell/day", "maximal IL-2 production by activated CD8+",
              S),
        Param("phi", 2.38405e-7, "IU/cell/day", "IL-2 production by naive lymphocytes", S),
        Param("zeta", 2503.6, "IU/L", "IL-2 half-saturation of its production by CD8+", S),
    )
    return Model(
        name="depillis2009",
        title="de Pillis et al. 2009 chemo-immunotherapy model with IL-2 dynamics",
        citation=CITATION,
        time_unit="day",
        states=(
            State("T", 1e7, "cell", "tumour cells", log=True),
            State("N", 2.5e8, "cell/L", "natural killer (NK) cells", log=True),
            State("L", 5.268e5, "cell/L", "tumour-specific activated CD8+ T cells", log=True),
            State("C", 2.25e9, "cell/L", "circulating lymphocytes", log=True),
            State("M", 0.0, "arb", "chemotherapy drug in the bloodstream"),
            State("I", 1073.0, "IU/L", "IL-2 in the bloodstream"),
        ),
        params=params,
        inputs=(
            Input("v_L", "cell/L/day", "adoptive transfer of CD8+ T cells (TIL)"),
            Input("v_M", "arb/day", "chemotherapy dosing"),
            Input("v_I", "IU/L/day", "IL-2 dosing"),
        ),
        intermediates=(
            Intermediate("D", "d/(1 + s*(T/L)**l)", "1/day",
                         "fractional tumour kill by CD8+ T cells (= d*(L/T)^l/(s + (L/T)^l))"),
        ),
        equations={
            "T": "a*T*(1 - b*T) - c*N*T - D*T - K_T*(1 - exp(-delta_T*M))*T",
            "N": "f*(ef*C - N) - p*N*T + p_N*N*I/(g_N + I) - K_N*(1 - exp(-delta_N*M))*N",
            "L": "-theta*m*L/(theta + I) + j*T*L/(k + T) - q*L*T + (r_1*N + r_2*C)*T"
                 " - u*L**2*C*I/(kappa + I) - K_L*(1 - exp(-delta_L*M))*L"
                 " + p_I*L*I/(g_I + I) + v_L",
            "C": "beta*(alphabeta - C) - K_C*(1 - exp(-delta_C*M))*C",
            "M": "-gamma*M + v_M",
            "I": "-mu_I*I + phi*C + omega*L*I/(zeta + I) + v_I",
        },
        observables=(
            Observable("tumour_fraction", "b*T", "1", "tumour size over carrying capacity"),
            Observable("cd8_kill", "D", "1/day", "fractional tumour kill by CD8+ T cells"),
        ),
        routes=(
            DoseRoute("cells", "L", "cell/L", "adoptive transfer of CD8+ T cells (v_L)",
                      input="v_L"),
            DoseRoute("chemo", "M", "arb", "chemotherapy (v_M)", input="v_M"),
            DoseRoute("il2", "I", "IU/L", "IL-2 (v_I)", input="v_I"),
        ),
        notes="BIOMD0000000779 sets d = l = s = 0 (no CD8+ kill) and uses phi where the "
              "paper has theta in CD8+ turnover; this module keeps the paper's form.",
    )
