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

The stage code is generated from the tableau as straight-line C with the coefficients as
literals (zero terms dropped, ``y + sum a_ij k_j`` updated incrementally where a row is the
previous one plus the previous stage). The Jacobian is the model's analytic one
(``il2_rhs_jac``), evaluated once per accepted step and reused after a rejection; ``W`` is
factorised by Gaussian elimination with partial pivoting.

Error control as in ``rodas.f``: the root-mean-square norm of ``k_s`` scaled by
``atol_i + rtol * max(|y_i|, |y_new_i|)`` (per-state ``atol``); step-size factor
``err^(-1/(q+1)) * 0.9`` (``q`` the embedded order) clamped to [0.2, 6] with Gustafsson's
predictive controller after accepted steps, no increase right after a rejection, and the
first step chosen as in Hairer, Norsett & Wanner I, Section II.4. Output times are reported
from the dense output (no step is shortened for them), so the step sequence does not depend
on the output grid.

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

from dataclasses import dataclass

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
    body = (SOLVE_C.replace("IL2_STAGE_ARRAYS", f"double {arrays}, {dense};")
            .replace("IL2_STAGES", _stages(m))
            .replace("IL2_RHS_PER_STEP", str(m.stages - 1))
            .replace("IL2_ERROR_STAGE", f"k{m.stages}")
            .replace("IL2_ERR_ROOT(err * err / err_acc)", root.format(x="err * err / err_acc"))
            .replace("IL2_ERR_ROOT(err)", root.format(x="err"))
            .replace("IL2_DENSE_COEFFS", _dense_coeffs(m))
            .replace("IL2_DENSE_VALUE", _dense_value(m)))
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
    return header + HELPERS_C + body + TAIL_C


HELPERS_C = r"""
/* LU with partial pivoting, rows swapped whole (as LAPACK dgetf2); the reciprocals of
   the pivots go to dinv so that solves multiply instead of divide. 0 or 1 + bad column. */
static int il2_lu(double *restrict a, int *restrict piv, double *restrict dinv) {
    for (int k = 0; k < NS; ++k) {
        int p = k;
        double big = fabs(a[k * NS + k]);
        for (int i = k + 1; i < NS; ++i) {
            double v = fabs(a[i * NS + k]);
            if (v > big) { big = v; p = i; }
        }
        piv[k] = p;
        if (!(big > 0.0) || !isfinite(big)) return k + 1;
        if (p != k) {
            for (int j = 0; j < NS; ++j) {
                double tmp = a[k * NS + j]; a[k * NS + j] = a[p * NS + j]; a[p * NS + j] = tmp;
            }
        }
        double inv = 1.0 / a[k * NS + k];
        dinv[k] = inv;
        for (int i = k + 1; i < NS; ++i) {
            double m = a[i * NS + k] * inv;
            a[i * NS + k] = m;
            if (m != 0.0)
                for (int j = k + 1; j < NS; ++j) a[i * NS + j] -= m * a[k * NS + j];
        }
    }
    return 0;
}

static inline void il2_lu_solve(const double *restrict a, const int *restrict piv,
                                const double *restrict dinv, double *restrict b) {
    for (int k = 0; k < NS; ++k) {
        int p = piv[k];
        double tmp = b[k]; b[k] = b[p]; b[p] = tmp;
    }
    for (int i = 1; i < NS; ++i) {
        double s = b[i];
        for (int j = 0; j < i; ++j) s -= a[i * NS + j] * b[j];
        b[i] = s;
    }
    for (int i = NS - 1; i >= 0; --i) {
        double s = b[i];
        for (int j = i + 1; j < NS; ++j) s -= a[i * NS + j] * b[j];
        b[i] = s * dinv[i];
    }
}

#define IL2_MAX(a, b) ((a) > (b) ? (a) : (b))
#define IL2_MIN(a, b) ((a) < (b) ? (a) : (b))

static int il2_all_finite(const double *v) {
    for (int i = 0; i < NS; ++i) if (!isfinite(v[i])) return 0;
    return 1;
}

/* root-mean-square of v_i / (atol_i + rtol * max(|a_i|, |b_i|)) */
static double il2_norm(const double *v, const double *a, const double *b, double rtol,
                       const double *atol) {
    double s = 0.0;
    for (int i = 0; i < NS; ++i) {
        double w = atol[i] + rtol * IL2_MAX(fabs(a[i]), fabs(b[i]));
        double q = v[i] / w;
        s += q * q;
    }
    return sqrt(s / NS);
}

/* Starting step (Hairer, Norsett & Wanner I, Section II.4) for an error estimate of order
   IL2_ERR_ORDER. */
static double il2_first_step(double t0, double span, const double *y, const double *f0,
                             const double *p, const double *u, double rtol,
                             const double *atol) {
    double y1[NS], f1[NS], d[NS];
    double d0 = il2_norm(y, y, y, rtol, atol), d1 = il2_norm(f0, y, y, rtol, atol);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    if (h0 > span) h0 = span;
    for (int i = 0; i < NS; ++i) y1[i] = y[i] + h0 * f0[i];
    il2_rhs(t0 + h0, y1, p, u, f1);
    for (int i = 0; i < NS; ++i) d[i] = f1[i] - f0[i];
    double d2 = il2_norm(d, y, y, rtol, atol) / h0;
    double dm = d1 > d2 ? d1 : d2;   /* NaN d2 gives NaN */
    if (!isfinite(dm)) return IL2_MIN(h0, span);
    double h1 = dm <= 1e-15 ? IL2_MAX(1e-6, h0 * 1e-3) : pow(0.01 / dm, 1.0 / (IL2_ERR_ORDER + 1));
    double h = IL2_MIN(100.0 * h0, h1);
    return IL2_MIN(h, span);
}

"""

SOLVE_C = r"""
/* Integrate one patient from t0 to t1; y in: start, out: end. */
static int il2_solve(double t0, double t1, double *y, const double *p, const double *u,
                     long n_eval, const double *t_eval, double rtol, const double *atol,
                     double *y_eval, long max_steps, double *t_fail, long *stats,
                     double *h_io) {
    double f0[NS], ft[NS], J[NS * NS], W[NS * NS], dinv[NS];
    IL2_STAGE_ARRAYS
    double yt[NS], yn[NS];
    int piv[NS];
    long steps = 0, rejected = 0, nfev = 0, njev = 0, attempts = 0;
    long e = 0;
    /* the step for the next segment: the incoming one until a step is taken */
    double h_next = h_io != NULL ? *h_io : 0.0;
    double t = t0;
    int status = IL2_OK;

    while (e < n_eval && t_eval[e] <= t0) {
        memcpy(y_eval + e * NS, y, sizeof(double) * NS);
        ++e;
    }
    double span = t1 - t0;
    if (!(span > 0.0)) goto done;

    il2_rhs_jac(t, y, p, u, f0, J);
    ++nfev; ++njev;
    if (IL2_TIME_DEPENDENT) il2_dfdt(t, y, p, u, ft);
    else memset(ft, 0, sizeof ft);
    if (!il2_all_finite(y) || !il2_all_finite(f0) || !il2_all_finite(J)) {
        status = IL2_NONFINITE; goto done;
    }
    if (span <= 64.0 * DBL_EPSILON * IL2_MAX(fabs(t0), fabs(t1))) {
        /* a segment at the rounding level of t (two nearly equal breakpoints): one Euler
           step is exact to that level, where the step-size check below would fail */
        for (int i = 0; i < NS; ++i) y[i] += span * f0[i];
        t = t1;
        ++steps;
        goto done;
    }
    double h;
    if (h_io != NULL && *h_io > 0.0) {
        h = *h_io;   /* the step size the previous segment ended with */
    } else {
        h = il2_first_step(t0, span, y, f0, p, u, rtol, atol);
        ++nfev;
        if (!(h > 0.0)) h = 1e-6 * span;
    }
    /* a first step at the rounding level of t is a poor guess (a state starting at 0 with
       a large rate), not an underflow: start a little above it (as SciPy's min_step) */
    double h_min = 128.0 * DBL_EPSILON * IL2_MAX(fabs(t0), fabs(t1));
    if (h < h_min) h = h_min;
    if (h > span) h = span;
    int first = 1, reject = 0, singular = 0;
    double h_acc = h, err_acc = 1e-2;
    h_next = h;

    for (;;) {
        if (attempts >= max_steps) { status = IL2_TOO_MANY_STEPS; break; }
        ++attempts;
        int last = 0;
        double h_want = h;
        if (t + 1.0001 * h >= t1) { h = t1 - t; last = 1; }
        if (0.1 * h <= fabs(t) * DBL_EPSILON || h <= 0.0 || t + h == t) {
            status = IL2_UNDERFLOW; break;
        }
        double fac1 = 1.0 / (h * GAMMA), ih = 1.0 / h;
        for (int i = 0; i < NS * NS; ++i) W[i] = -J[i];
        for (int i = 0; i < NS; ++i) W[i * NS + i] += fac1;
        int sparse = 0;
#if IL2_SPARSE_LU
        sparse = il2_lu_sparse(W, dinv) == 0;
        if (!sparse) {  /* a pivot failed the threshold test: the dense LU, from scratch */
            for (int i = 0; i < NS * NS; ++i) W[i] = -J[i];
            for (int i = 0; i < NS; ++i) W[i * NS + i] += fac1;
        }
#endif
        if (!sparse && il2_lu(W, piv, dinv) != 0) {
            if (++singular >= 5) { status = IL2_SINGULAR; break; }
            h *= 0.5; reject = 1; continue;
        }
        IL2_STAGES
        nfev += IL2_RHS_PER_STEP;

        double err = il2_norm(IL2_ERROR_STAGE, y, yn, rtol, atol);
        if (!isfinite(err) || !il2_all_finite(yn)) {
            /* a trial step left the range where the model is finite: shrink and retry */
            ++rejected; reject = 1; h *= 0.2; continue;
        }
        singular = 0;
        double fac = IL2_ERR_ROOT(err) / SAFE;
        fac = IL2_MAX(1.0 / FAC_MAX, IL2_MIN(1.0 / FAC_MIN, fac));
        double h_new = h / fac;
        if (err <= 1.0) {
            if (!first) { /* Gustafsson's predictive controller */
                double g = (h_acc / h) * IL2_ERR_ROOT(err * err / err_acc) / SAFE;
                g = IL2_MAX(1.0 / FAC_MAX, IL2_MIN(1.0 / FAC_MIN, g));
                fac = IL2_MAX(fac, g);
                h_new = h / fac;
            }
            h_acc = h;
            err_acc = IL2_MAX(1e-2, err);
            /* for the next segment: the controller's step, or the one a truncated last
               step was cut from */
            h_next = (last && h < h_want) ? IL2_MAX(h_want, h_new) : h_new;
            first = 0;
            ++steps;
            double t_new = last ? t1 : t + h;
            if (e < n_eval && t_eval[e] <= t_new) {
                IL2_DENSE_COEFFS
                while (e < n_eval && t_eval[e] <= t_new) {
                    double *out = y_eval + e * NS;
                    if (t_eval[e] >= t_new) {
                        memcpy(out, yn, sizeof yn);
                    } else {
                        double s = (t_eval[e] - t) / h, r = 1.0 - s;
                        IL2_DENSE_VALUE
                    }
                    ++e;
                }
            }
            memcpy(y, yn, sizeof yn);
            t = t_new;
            if (last) break;
            il2_rhs_jac(t, y, p, u, f0, J);
            ++nfev; ++njev;
            if (IL2_TIME_DEPENDENT) il2_dfdt(t, y, p, u, ft);
            if (!il2_all_finite(f0) || !il2_all_finite(J)) { status = IL2_NONFINITE; break; }
            if (h_new > span) h_new = span;
            if (reject && h_new > h) h_new = h;
            reject = 0;
            h = h_new;
        } else {
            ++rejected;
            reject = 1;
            h = first ? 0.1 * h : h_new;
        }
    }
done:
    if (h_io != NULL) *h_io = status == IL2_OK ? h_next : 0.0;
    *t_fail = t;
    stats[0] = steps; stats[1] = rejected; stats[2] = nfev; stats[3] = njev;
    return status;
}

"""

TAIL_C = r"""
int il2_n_states(void) { return NS; }
int il2_n_params(void) { return IL2_NP; }
int il2_n_inputs(void) { return IL2_NU; }

/* The model functions at one point, for tests: f (NS) and J (NS*NS, row-major). */
void il2_eval(double t, const double *y, const double *p, const double *u, double *f,
              double *J) {
    il2_rhs_jac(t, y, p, u, f, J);
}

/* Solve W x = b (row-major W) as a step does: the sparse LU when the model has one and its
   pivots pass the threshold test, else the dense LU. b is overwritten with x. Returns 1
   (sparse), 0 (dense) or -1 (singular). For tests. */
int il2_linear_solve(const double *w, double *b) {
    double W[NS * NS], dinv[NS];
    int piv[NS], sparse = 0;
    memcpy(W, w, sizeof W);
#if IL2_SPARSE_LU
    sparse = il2_lu_sparse(W, dinv) == 0;
    if (!sparse) memcpy(W, w, sizeof W);
#endif
    if (!sparse && il2_lu(W, piv, dinv) != 0) return -1;
    IL2_SOLVE(b);
    return sparse;
}

/* Run `worker(arg)` on min(threads, n, 256) threads, the caller's included, and wait for
   them all; workers take patients from an atomic counter in `arg`. Threads live for this
   call only. Returns the number of threads used. */
static int il2_fan_out(void *(*worker)(void *), void *arg, long n, int threads) {
    int nt = threads > 1 ? threads : 1;
    if (nt > n) nt = n > 1 ? (int)n : 1;
    if (nt > 256) nt = 256;
    pthread_t tid[256];
    int started = 0;
    for (int k = 1; k < nt; ++k) {
        if (pthread_create(&tid[started], NULL, worker, arg) != 0) break;
        ++started;
    }
    worker(arg);
    for (int k = 0; k < started; ++k) pthread_join(tid[k], NULL);
    return started + 1;
}

/* Observables at every output point of n patients: x (n, nt, NS) natural states, u (n, nt,
   NU), p (n, NP), or (n, nt, NP) when p_per_time, out (n, nt, NO); patients shared out over
   threads as il2_integrate. */
typedef struct {
    long n, nt, next;
    int p_per_time;
    const double *t, *x, *p, *u;
    double *out;
} il2_obs_batch;

static void *il2_obs_worker(void *arg) {
    il2_obs_batch *b = (il2_obs_batch *)arg;
    for (;;) {
        long i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (i >= b->n) break;
        for (long k = 0; k < b->nt; ++k) {
            long at = i * b->nt + k;
            const double *pp = b->p + (b->p_per_time ? at : i) * IL2_NP;
            double o[IL2_NO > 0 ? IL2_NO : 1];
            il2_observe_one(b->t[k], b->x + at * NS, pp, b->u + at * IL2_NU, o);
            for (int j = 0; j < IL2_NO; ++j) b->out[at * IL2_NO + j] = o[j];
        }
    }
    return NULL;
}

int il2_n_observables(void) { return IL2_NO; }

void il2_observe(long n, long nt, const double *t, const double *x, const double *p,
                 int p_per_time, const double *u, double *out, int threads) {
    il2_obs_batch b = {n, nt, 0, p_per_time, t, x, p, u, out};
    il2_fan_out(il2_obs_worker, &b, n, threads);
}

/* One batch: patients are handed out one at a time through an atomic counter. */
typedef struct {
    long n, n_eval, max_steps, next;
    double t0, t1, rtol;
    const double *y0, *p, *u, *t_eval, *atol;
    double *y_eval, *y_end, *t_fail, *h_io;
    int *status;
    long *stats;
} il2_batch;

static void *il2_worker(void *arg) {
    il2_batch *b = (il2_batch *)arg;
    for (;;) {
        long i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
        if (i >= b->n) break;
        double y[NS];
        memcpy(y, b->y0 + i * NS, sizeof y);
        b->status[i] = il2_solve(b->t0, b->t1, y, b->p + i * IL2_NP, b->u + i * IL2_NU,
                                 b->n_eval, b->t_eval, b->rtol, b->atol,
                                 b->y_eval + i * b->n_eval * NS, b->max_steps, b->t_fail + i,
                                 b->stats + 4 * i, b->h_io ? b->h_io + i : NULL);
        memcpy(b->y_end + i * NS, y, sizeof y);
    }
    return NULL;
}

/* Integrate n patients over [t0, t1] on `threads` threads (the caller's included). Arrays
   are C-contiguous: y0 and y_end (n, NS), p (n, NP), u (n, NU), atol (NS), t_eval (n_eval),
   y_eval (n, n_eval, NS), status and t_fail (n), stats (n, 4: steps, rejected,
   f evaluations, Jacobians), h_io (n or NULL: in, a first step per patient, 0 for the
   estimate; out, the step the next segment should start with, 0 after a failure). Threads
   live for one call only (no pool survives it), so the library is safe in a process forked
   after use; a patient's result never depends on the thread that computed it. Returns the
   number of threads used. */
int il2_integrate(long n, double t0, double t1, const double *y0, const double *p,
                  const double *u, long n_eval, const double *t_eval, double rtol,
                  const double *atol, double *y_eval, double *y_end, int *status,
                  double *t_fail, long *stats, long max_steps, int threads, double *h_io) {
    il2_batch b = {n, n_eval, max_steps, 0, t0, t1, rtol, y0, p, u, t_eval, atol, y_eval,
                   y_end, t_fail, h_io, status, stats};
    return il2_fan_out(il2_worker, &b, n, threads);
}
"""
