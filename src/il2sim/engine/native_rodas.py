"""The native backend's integrator: Rodas4 in C, appended to a model's generated C source.

Method: RODAS (order 4, embedded order 3, stiffly accurate, L-stable Rosenbrock
method with a dense output of order 3) of E. Hairer and G. Wanner, *Solving
Ordinary Differential Equations II: Stiff and Differential-Algebraic Problems*,
2nd ed., Springer 1996, Section IV.7 (Table 7.2 and the code ``rodas.f``). The
coefficients below are those of ``rodas.f`` (``METH = 1``) in the transformed
form (IV.7.25), which needs one LU decomposition of ``W = I/(h*gamma) - J`` per
step and no matrix-vector products::

    W k_i = f(t + c_i h, y + sum_j a_ij k_j) + sum_j (C_ij/h) k_j + h d_i df/dt
    y_new = y + a51 k1 + ... + a54 k4 + k5 + k6,      error estimate = k6
    y(t + theta h) = (1 - theta) y + theta (y_new + (1 - theta) (q1 + theta q2))

with ``q1``, ``q2`` fixed combinations of ``k1..k5`` (dense output). The
Jacobian is the model's analytic one (``il2_rhs_jac``), evaluated once per
accepted step and reused after a rejection; ``W`` is factorised by Gaussian
elimination with partial pivoting.

Error control as in ``rodas.f``: the root-mean-square norm of ``k6`` scaled by
``atol_i + rtol * max(|y_i|, |y_new_i|)`` (per-state ``atol``); step-size
factor ``err^(-1/4) * 0.9`` clamped to [0.2, 6] with Gustafsson's predictive
controller after accepted steps, no increase right after a rejection, and the
first step chosen as in Hairer, Norsett & Wanner I, Section II.4. Output times
are reported from the dense output (no step is shortened for them), so the
step sequence does not depend on the output grid.

Patients are shared out over POSIX threads created for one call and joined
before it returns (an atomic counter hands out one patient at a time). Each
patient is integrated by one thread from start to end with its own step size
and no shared mutable state, so the batch result is identical whatever the
number of threads. OpenMP was the first choice and was dropped: libgomp keeps a
thread pool alive between calls, and a process forked after using it (a
``multiprocessing`` pool) hung at its first parallel region. Status per
patient: 0 ok, 1 too many steps, 2 step size underflow, 3 non-finite state or
derivative, 4 singular iteration matrix.
"""

from __future__ import annotations

__all__ = ["INTEGRATOR_C", "STATUS_MESSAGES"]

STATUS_MESSAGES = {
    1: "more than {max_steps} steps between t={t0:g} and t={t1:g} (failed near t={t:g})",
    2: "step size underflow at t={t:g} (stiff blow-up or a singularity?)",
    3: "non-finite state or derivative at t={t:g}",
    4: "singular iteration matrix at t={t:g}",
}

INTEGRATOR_C = r"""
/* ---- Rodas4 integrator (il2sim.engine.native_rodas); see its docstring. ---- */
#include <float.h>
#include <pthread.h>
#include <string.h>

#define NS IL2_NS

/* RODAS coefficients: Hairer & Wanner, rodas.f (METH = 1), transformed form. */
static const double GAMMA = 0.25;
static const double C2 = 0.386, C3 = 0.21, C4 = 0.63;
static const double D1 = 0.25, D2 = -0.1043, D3 = 0.1035, D4 = -0.3620000000000023e-01;
static const double A21 = 0.1544000000000000e+01;
static const double A31 = 0.9466785280815826, A32 = 0.2557011698983284;
static const double A41 = 0.3314825187068521e+01, A42 = 0.2896124015972201e+01,
                    A43 = 0.9986419139977817;
static const double A51 = 0.1221224509226641e+01, A52 = 0.6019134481288629e+01,
                    A53 = 0.1253708332932087e+02, A54 = -0.6878860361058950;
static const double C21 = -0.5668800000000000e+01;
static const double C31 = -0.2430093356833875e+01, C32 = -0.2063599157091915;
static const double C41 = -0.1073529058151375, C42 = -0.9594562251023355e+01,
                    C43 = -0.2047028614809616e+02;
static const double C51 = 0.7496443313967647e+01, C52 = -0.1024680431464352e+02,
                    C53 = -0.3399990352819905e+02, C54 = 0.1170890893206160e+02;
static const double C61 = 0.8083246795921522e+01, C62 = -0.7981132988064893e+01,
                    C63 = -0.3152159432874371e+02, C64 = 0.1631930543123136e+02,
                    C65 = -0.6058818238834054e+01;
/* dense output */
static const double H21 = 0.1012623508344586e+02, H22 = -0.7487995877610167e+01,
                    H23 = -0.3480091861555747e+02, H24 = -0.7992771707568823e+01,
                    H25 = 0.1025137723295662e+01;
static const double H31 = -0.6762803392801253, H32 = 0.6087714651680015e+01,
                    H33 = 0.1643084320892478e+02, H34 = 0.2476722511418386e+02,
                    H35 = -0.6594389125716872e+01;

/* step-size control (rodas.f defaults) */
static const double SAFE = 0.9, FAC_MIN = 0.2, FAC_MAX = 6.0;

enum { IL2_OK = 0, IL2_TOO_MANY_STEPS = 1, IL2_UNDERFLOW = 2, IL2_NONFINITE = 3,
       IL2_SINGULAR = 4 };

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

/* Starting step (Hairer, Norsett & Wanner I, Section II.4), order 4 with error order 3. */
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
    double h1 = dm <= 1e-15 ? IL2_MAX(1e-6, h0 * 1e-3) : pow(0.01 / dm, 0.25);
    double h = IL2_MIN(100.0 * h0, h1);
    return IL2_MIN(h, span);
}

/* Integrate one patient from t0 to t1; y in: start, out: end. */
static int il2_solve(double t0, double t1, double *y, const double *p, const double *u,
                     long n_eval, const double *t_eval, double rtol, const double *atol,
                     double *y_eval, long max_steps, double *t_fail, long *stats) {
    double f0[NS], ft[NS], J[NS * NS], W[NS * NS], dinv[NS];
    double k1[NS], k2[NS], k3[NS], k4[NS], k5[NS], k6[NS], yt[NS], yn[NS], q1[NS], q2[NS];
    int piv[NS];
    long steps = 0, rejected = 0, nfev = 0, njev = 0, attempts = 0;
    long e = 0;
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
    double h = il2_first_step(t0, span, y, f0, p, u, rtol, atol);
    ++nfev;
    if (!(h > 0.0)) h = 1e-6 * span;
    int first = 1, reject = 0, singular = 0;
    double h_acc = h, err_acc = 1e-2;

    for (;;) {
        if (attempts >= max_steps) { status = IL2_TOO_MANY_STEPS; break; }
        ++attempts;
        int last = 0;
        if (t + 1.0001 * h >= t1) { h = t1 - t; last = 1; }
        if (0.1 * h <= fabs(t) * DBL_EPSILON || h <= 0.0 || t + h == t) {
            status = IL2_UNDERFLOW; break;
        }
        double fac1 = 1.0 / (h * GAMMA), ih = 1.0 / h;
        for (int i = 0; i < NS * NS; ++i) W[i] = -J[i];
        for (int i = 0; i < NS; ++i) W[i * NS + i] += fac1;
        if (il2_lu(W, piv, dinv) != 0) {
            if (++singular >= 5) { status = IL2_SINGULAR; break; }
            h *= 0.5; reject = 1; continue;
        }
        /* stage 1 */
        for (int i = 0; i < NS; ++i) k1[i] = f0[i] + h * D1 * ft[i];
        il2_lu_solve(W, piv, dinv, k1);
        /* stage 2 */
        for (int i = 0; i < NS; ++i) yt[i] = y[i] + A21 * k1[i];
        il2_rhs(t + C2 * h, yt, p, u, k2);
        for (int i = 0; i < NS; ++i) k2[i] += h * D2 * ft[i] + ih * C21 * k1[i];
        il2_lu_solve(W, piv, dinv, k2);
        /* stage 3 */
        for (int i = 0; i < NS; ++i) yt[i] = y[i] + A31 * k1[i] + A32 * k2[i];
        il2_rhs(t + C3 * h, yt, p, u, k3);
        for (int i = 0; i < NS; ++i)
            k3[i] += h * D3 * ft[i] + ih * (C31 * k1[i] + C32 * k2[i]);
        il2_lu_solve(W, piv, dinv, k3);
        /* stage 4 */
        for (int i = 0; i < NS; ++i) yt[i] = y[i] + A41 * k1[i] + A42 * k2[i] + A43 * k3[i];
        il2_rhs(t + C4 * h, yt, p, u, k4);
        for (int i = 0; i < NS; ++i)
            k4[i] += h * D4 * ft[i] + ih * (C41 * k1[i] + C42 * k2[i] + C43 * k3[i]);
        il2_lu_solve(W, piv, dinv, k4);
        /* stage 5 */
        for (int i = 0; i < NS; ++i)
            yt[i] = y[i] + A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i];
        il2_rhs(t + h, yt, p, u, k5);
        for (int i = 0; i < NS; ++i)
            k5[i] += ih * (C51 * k1[i] + C52 * k2[i] + C53 * k3[i] + C54 * k4[i]);
        il2_lu_solve(W, piv, dinv, k5);
        /* stage 6 (embedded solution yt + k5; error estimate k6) */
        for (int i = 0; i < NS; ++i) yt[i] += k5[i];
        il2_rhs(t + h, yt, p, u, k6);
        for (int i = 0; i < NS; ++i)
            k6[i] += ih * (C61 * k1[i] + C62 * k2[i] + C63 * k3[i] + C64 * k4[i]
                           + C65 * k5[i]);
        il2_lu_solve(W, piv, dinv, k6);
        for (int i = 0; i < NS; ++i) yn[i] = yt[i] + k6[i];
        nfev += 5;

        double err = il2_norm(k6, y, yn, rtol, atol);
        if (!isfinite(err) || !il2_all_finite(yn)) {
            /* a trial step left the range where the model is finite: shrink and retry */
            ++rejected; reject = 1; h *= 0.2; continue;
        }
        singular = 0;
        double fac = sqrt(sqrt(err)) / SAFE;   /* err^(1/4) */
        fac = IL2_MAX(1.0 / FAC_MAX, IL2_MIN(1.0 / FAC_MIN, fac));
        double h_new = h / fac;
        if (err <= 1.0) {
            if (!first) { /* Gustafsson's predictive controller */
                double g = (h_acc / h) * sqrt(sqrt(err * err / err_acc)) / SAFE;
                g = IL2_MAX(1.0 / FAC_MAX, IL2_MIN(1.0 / FAC_MIN, g));
                fac = IL2_MAX(fac, g);
                h_new = h / fac;
            }
            h_acc = h;
            err_acc = IL2_MAX(1e-2, err);
            first = 0;
            ++steps;
            double t_new = last ? t1 : t + h;
            if (e < n_eval && t_eval[e] <= t_new) {
                for (int i = 0; i < NS; ++i) {
                    q1[i] = H21 * k1[i] + H22 * k2[i] + H23 * k3[i] + H24 * k4[i] + H25 * k5[i];
                    q2[i] = H31 * k1[i] + H32 * k2[i] + H33 * k3[i] + H34 * k4[i] + H35 * k5[i];
                }
                while (e < n_eval && t_eval[e] <= t_new) {
                    double *out = y_eval + e * NS;
                    if (t_eval[e] >= t_new) {
                        memcpy(out, yn, sizeof yn);
                    } else {
                        double s = (t_eval[e] - t) / h, r = 1.0 - s;
                        for (int i = 0; i < NS; ++i)
                            out[i] = r * y[i] + s * (yn[i] + r * (q1[i] + s * q2[i]));
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
    *t_fail = t;
    stats[0] = steps; stats[1] = rejected; stats[2] = nfev; stats[3] = njev;
    return status;
}

int il2_n_states(void) { return NS; }
int il2_n_params(void) { return IL2_NP; }
int il2_n_inputs(void) { return IL2_NU; }

/* The model functions at one point, for tests: f (NS) and J (NS*NS, row-major). */
void il2_eval(double t, const double *y, const double *p, const double *u, double *f,
              double *J) {
    il2_rhs_jac(t, y, p, u, f, J);
}

/* One batch: patients are handed out one at a time through an atomic counter. */
typedef struct {
    long n, n_eval, max_steps, next;
    double t0, t1, rtol;
    const double *y0, *p, *u, *t_eval, *atol;
    double *y_eval, *y_end, *t_fail;
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
                                 b->stats + 4 * i);
        memcpy(b->y_end + i * NS, y, sizeof y);
    }
    return NULL;
}

/* Integrate n patients over [t0, t1] on `threads` threads (the caller's included). Arrays
   are C-contiguous: y0 and y_end (n, NS), p (n, NP), u (n, NU), atol (NS), t_eval (n_eval),
   y_eval (n, n_eval, NS), status and t_fail (n), stats (n, 4: steps, rejected,
   f evaluations, Jacobians). Threads live for one call only (no pool survives it), so the
   library is safe in a process forked after use; a patient's result never depends on the
   thread that computed it. Returns the number of threads used. */
int il2_integrate(long n, double t0, double t1, const double *y0, const double *p,
                  const double *u, long n_eval, const double *t_eval, double rtol,
                  const double *atol, double *y_eval, double *y_end, int *status,
                  double *t_fail, long *stats, long max_steps, int threads) {
    il2_batch b = {n, n_eval, max_steps, 0, t0, t1, rtol, y0, p, u, t_eval, atol, y_eval,
                   y_end, t_fail, status, stats};
    int nt = threads > 1 ? threads : 1;
    if (nt > n) nt = n > 1 ? (int)n : 1;
    if (nt > 256) nt = 256;
    pthread_t tid[256];
    int started = 0;
    for (int k = 1; k < nt; ++k) {
        if (pthread_create(&tid[started], NULL, il2_worker, &b) != 0) break;
        ++started;
    }
    il2_worker(&b);
    for (int k = 0; k < started; ++k) pthread_join(tid[k], NULL);
    return started + 1;
}
"""
