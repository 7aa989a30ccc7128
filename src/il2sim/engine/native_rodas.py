"""The native backend's integrators: Rosenbrock methods in C, appended to a model's C source.

Two stiffly accurate, L-stable Rosenbrock methods in the transformed form of Hairer &
Wanner (*Solving Ordinary Differential Equations II*, 2nd ed., Springer 1996, Section IV.7,
eq. 7.25), which needs one LU decomposition of ``W = I/(h*gamma) - J`` per step and no
matrix-vector products. For stages ``i = 1..s``::

    W k_i = f(t + c_i h, y + sum_j a_ij k_j) + sum_j (C_ij/h) k_j + h d_i df/dt
    y_new = y + sum_j b_j k_j,        error estimate = k_s (embedded solution y_new - k_s)
    y(t + theta h) = (1 - theta) y + theta (y_new + (1 - theta) (q_1 + theta (q_2 + ...)))

with ``q_m = sum_j H_mj k_j`` (dense output). Methods:

- ``Rodas4``: RODAS of Hairer & Wanner (``rodas.f``, ``METH = 1``): 6 stages, order 4,
  embedded order 3, dense output of order 3.
- ``Rodas5P``: G. Steinebach, "Construction of Rosenbrock-Wanner method Rodas5P and
  numerical benchmarks within the Julia Differential Equations package", *BIT Numerical
  Mathematics* 63, 27 (2023): 8 stages, order 5, embedded order 4, dense output of order 4;
  coefficients as published in OrdinaryDiffEq.jl (``Rodas5PTableau``).

The C that does not depend on the tableau is in ``engine/rodas_c/`` (package data, read as
a resource): ``helpers.c`` (dense LU, error norm, first step), ``solve.c`` (one patient's
integration, a template whose ``IL2_...`` placeholders take the method's code) and
``batch.c`` (the exported entry points and the thread fan-out). The generated source is part
of the key naming a compiled library (``native_backend._library_key``), so a change to a
file builds a new library. The stage code is generated from the tableau as straight-line C
with the coefficients as literals (zero terms dropped, ``y + sum a_ij k_j`` updated
incrementally where a row is the previous one plus the previous stage). The Jacobian is
the model's analytic one (``il2_rhs_jac``), evaluated once per accepted step and reused
after a rejection; ``W`` is factorised by Gaussian elimination with partial pivoting.

Error control as in ``rodas.f``: the root-mean-square norm of ``k_s`` scaled by
``atol_i + rtol * max(|y_i|, |y_new_i|)`` (per-state ``atol``); step-size factor
``err^(-1/(q+1)) * 0.9`` (``q`` the embedded order) clamped to [0.2, 6] with Gustafsson's
predictive controller after accepted steps, no increase right after a rejection, and the
first step chosen as in Hairer, Norsett & Wanner I, Section II.4. Output times are reported
from the dense output (no step is shortened for them), so the step sequence does not depend
on the output grid. For model events, ``il2_integrate_steps`` integrates one patient and
hands each accepted step (its ends and dense-output coefficients) to a callback that may
end the integration there (:meth:`il2sim.engine.native_backend.NativeBackend.integrate_to_root`);
the batch entry point passes no callback.

Patients are shared out over POSIX threads created for one call and joined before it
returns (an atomic counter hands out one patient at a time). Each patient is integrated by
one thread from start to end with its own step size and no shared mutable state, so the
batch result is identical whatever the number of threads. OpenMP was the first choice and
was dropped: libgomp keeps a thread pool alive between calls, and a process forked after
using it (a ``multiprocessing`` pool) hung at its first parallel region. Status per patient:
0 ok, 1 too many steps, 2 step size underflow, 3 non-finite state or derivative, 4 singular
iteration matrix.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

__all__ = ["DEFAULT_METHOD", "METHODS", "RODAS4", "RODAS5P", "STATUS_MESSAGES",
           "RosenbrockMethod", "integrator_c"]

STATUS_MESSAGES = {
    1: "more than {max_steps} steps between t={t0:g} and t={t1:g} (failed near t={t:g})",
    2: "step size underflow at t={t:g} (stiff blow-up or a singularity?)",
    3: "non-finite state or derivative at t={t:g}",
    4: "singular iteration matrix at t={t:g}",
}

Row = tuple[float, ...]


@dataclass(frozen=True)
class RosenbrockMethod:
    """A stiffly accurate Rosenbrock method in transformed form (see the module docstring).

    ``a[i]``, ``c_mat[i]`` hold the coefficients of stage ``i`` on stages ``0..i-1``;
    ``b`` the weights of the new solution; the last stage is the error estimate; ``dense``
    the rows ``H_m`` of the dense output; ``err_order`` the order of the embedded solution.
    """

    name: str
    gamma: float
    a: tuple[Row, ...]
    c_mat: tuple[Row, ...]
    c: Row
    d: Row
    b: Row
    dense: tuple[Row, ...]
    err_order: int
    source: str

    @property
    def stages(self) -> int:
        return len(self.c)


def _row(first: Row, *extra: float) -> Row:
    return (*first, *extra)


_R4_A5 = (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950)
RODAS4 = RosenbrockMethod(
    name="Rodas4",
    gamma=0.25,
    a=((), (1.544,), (0.9466785280815826, 0.2557011698983284),
       (3.314825187068521, 2.896124015972201, 0.9986419139977817),
       _R4_A5, _row(_R4_A5, 1.0)),
    c_mat=((), (-5.6688,), (-2.430093356833875, -0.2063599157091915),
           (-0.1073529058151375, -9.594562251023355, -20.47028614809616),
           (7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160),
           (8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
            -6.058818238834054)),
    c=(0.0, 0.386, 0.21, 0.63, 1.0, 1.0),
    d=(0.25, -0.1043, 0.1035, -0.3620000000000023e-01, 0.0, 0.0),
    b=_row(_R4_A5, 1.0, 1.0),
    dense=((10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823,
            1.025137723295662, 0.0),
           (-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386,
            -6.594389125716872, 0.0)),
    err_order=3,
    source="Hairer & Wanner 1996, Section IV.7, rodas.f (METH = 1)",
)

_R5P_A6 = (-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
           0.030198172008377946)
RODAS5P = RosenbrockMethod(
    name="Rodas5P",
    gamma=0.21193756319429014,
    a=((), (3.0,), (2.849394379747939, 0.45842242204463923),
       (-6.954028509809101, 2.489845061869568, -10.358996098473584),
       (2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641),
       _R5P_A6, _row(_R5P_A6, 1.0), _row(_R5P_A6, 1.0, 1.0)),
    c_mat=((), (-14.155112264123755,), (-17.97296035885952, -2.859693295451294),
           (147.12150275711716, -1.41221402718213, 71.68940251302358),
           (165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306),
           (24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125,
            -0.6610691825249471),
           (30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783,
            -19.097331116725623, -28.087943162872662),
           (37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047,
            -40.06618937091002, -54.66780262877968, -9.48861652309627)),
    c=(0.0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664,
       1.0, 1.0, 1.0),
    d=(0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734,
       2.325825639765069, 0.0, 0.0, 0.0),
    b=_row(_R5P_A6, 1.0, 1.0, 1.0),
    dense=((25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204,
            0.524948541321073, 1.1241088310450404, 0.4272876194431874, -0.17202221070155493),
           (-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796,
            20.176138334709044, 15.98066361424651, -6.789040303419874, -6.710236069923372),
           (11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643,
            -52.072871366152654, -59.78993625266729, -0.15582684282751913, 4.883087185713722)),
    err_order=4,
    source="Steinebach 2023 (BIT 63:27), coefficients of OrdinaryDiffEq.jl's Rodas5PTableau",
)

METHODS = {m.name: m for m in (RODAS4, RODAS5P)}
DEFAULT_METHOD = "Rodas5P"


def _lit(x: float) -> str:
    return repr(float(x))


def _sum(coeffs: Row) -> str:
    return " + ".join(f"{_lit(a)} * k{j + 1}[i]" for j, a in enumerate(coeffs) if a != 0.0)


def _loop(body: str) -> str:
    return f"for (int i = 0; i < NS; ++i) {body}"


def _stages(m: RosenbrockMethod) -> str:
    """The C of one step's stages and new solution ``yn`` (error estimate: the last stage)."""
    out: list[str] = []
    for i in range(m.stages):
        k = f"k{i + 1}"
        d_term = (f"(IL2_TIME_DEPENDENT ? h * {_lit(m.d[i])} * ft[i] : 0.0)"
                  if m.d[i] != 0.0 else "")
        out.append(f"/* stage {i + 1} */")
        if i == 0:
            out.append(_loop(f"k1[i] = f0[i]{' + ' + d_term if d_term else ''};"))
        else:
            row, prev = m.a[i], m.a[i - 1]
            if i >= 2 and row[:i - 1] == prev and row[i - 1] == 1.0:
                out.append(_loop(f"yt[i] += k{i}[i];"))
            else:
                out.append(_loop(f"yt[i] = y[i] + {_sum(row)};"))
            out.append(f"il2_rhs(t + {_lit(m.c[i])} * h, yt, p, u, {k});")
            extra = [d_term] if d_term else []
            extra.append(f"ih * ({_sum(m.c_mat[i])})")
            out.append(_loop(f"{k}[i] += {' + '.join(extra)};"))
        out.append(f"IL2_SOLVE({k});")
    s = m.stages
    if m.b[:s - 1] == m.a[s - 1] and m.b[s - 1] == 1.0:
        out.append(_loop(f"yn[i] = yt[i] + k{s}[i];"))
    else:
        out.append(_loop(f"yn[i] = y[i] + {_sum(m.b)};"))
    return "\n        ".join(out)


def _dense_coeffs(m: RosenbrockMethod) -> str:
    lines = [f"q{r + 1}[i] = {_sum(row)};" for r, row in enumerate(m.dense)]
    body = "\n                    ".join(lines)
    return f"for (int i = 0; i < NS; ++i) {{\n                    {body}\n                }}"


def _dense_value(m: RosenbrockMethod) -> str:
    inner = f"q{len(m.dense)}[i]"
    for r in range(len(m.dense) - 1, 0, -1):
        inner = f"q{r}[i] + s * ({inner})"
    return _loop(f"out[i] = r * y[i] + s * (yn[i] + r * ({inner}));")


def integrator_c(method: str | RosenbrockMethod = DEFAULT_METHOD) -> str:
    """The C integrator for ``method`` (a name in :data:`METHODS` or a tableau)."""
    m = METHODS[method] if isinstance(method, str) else method
    q = m.err_order + 1
    root = "sqrt(sqrt({x}))" if q == 4 else f"pow({{x}}, {_lit(1.0 / q)})"
    arrays = ", ".join(f"k{i + 1}[NS]" for i in range(m.stages))
    dense = ", ".join(f"q{r + 1}[NS]" for r in range(len(m.dense)))
    body = (_c_file("solve.c").replace("IL2_STAGE_ARRAYS", f"double {arrays}, {dense};")
            .replace("IL2_STAGES", _stages(m))
            .replace("IL2_RHS_PER_STEP", str(m.stages - 1))
            .replace("IL2_ERROR_STAGE", f"k{m.stages}")
            .replace("IL2_ERR_ROOT(err * err / err_acc)", root.format(x="err * err / err_acc"))
            .replace("IL2_ERR_ROOT(err)", root.format(x="err"))
            .replace("IL2_DENSE_COEFFS", _dense_coeffs(m))
            .replace("IL2_DENSE_VALUE", _dense_value(m))
            .replace("IL2_DENSE_PACK", " ".join(
                f"memcpy(step_buf + {r + 2} * NS, q{r + 1}, sizeof(double) * NS);"
                for r in range(len(m.dense)))))
    header = (f"\n/* ---- {m.name} integrator (il2sim.engine.native_rodas; {m.source}). ---- */\n"
              "#include <float.h>\n#include <pthread.h>\n#include <string.h>\n\n"
              "#define NS IL2_NS\n"
              f"#define IL2_ERR_ORDER {m.err_order}\n"
              f"static const double GAMMA = {_lit(m.gamma)};\n"
              "/* step-size control (rodas.f defaults) */\n"
              "static const double SAFE = 0.9, FAC_MIN = 0.2, FAC_MAX = 6.0;\n\n"
              "#if IL2_SPARSE_LU\n"
              "#define IL2_SOLVE(b) do { if (sparse) il2_lu_solve_sparse(W, dinv, b); "
              "else il2_lu_solve(W, piv, dinv, b); } while (0)\n"
              "#else\n#define IL2_SOLVE(b) il2_lu_solve(W, piv, dinv, b)\n#endif\n"
              "enum { IL2_OK = 0, IL2_TOO_MANY_STEPS = 1, IL2_UNDERFLOW = 2, IL2_NONFINITE = 3,\n"
              "       IL2_SINGULAR = 4 };\n\n")
    return header + _c_file("helpers.c") + body + _c_file("batch.c")

_C_DIR = "rodas_c"


@functools.cache
def _c_file(name: str) -> str:
    """``engine/rodas_c/<name>`` (package data) without its leading comment, which says what
    the file is for and is not part of the generated source."""
    text = (resources.files("il2sim.engine") / _C_DIR / name).read_text(encoding="utf-8")
    if not text.startswith("/*"):
        raise RuntimeError(f"{_C_DIR}/{name}: expected a leading /* ... */ comment")
    return "\n" + text.split("*/\n", 1)[1]
