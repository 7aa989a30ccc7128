/* il2sim native backend: the dense LU, its solve, the finiteness check, the error norm
   and the first step, shared by the Rosenbrock methods. Not compiled on its own:
   il2sim.engine.native_rodas.integrator_c appends it after the model's C (IL2_NS, IL2_NP,
   IL2_NU, il2_rhs, il2_rhs_jac) and the method's header (NS, GAMMA, IL2_SOLVE, status codes).
   This comment is dropped when the file is read. */
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

