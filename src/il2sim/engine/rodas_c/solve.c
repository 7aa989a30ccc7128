/* il2sim native backend: one patient's integration from t0 to t1 by a Rosenbrock method
   (step control, dense output at the output times). A template, not compiled on its own:
   il2sim.engine.native_rodas.integrator_c fills the placeholders (the words in capitals
   beginning IL2_ that no header defines: the stage arrays, the stages, the error stage and
   its root, the dense-output coefficients and value) with the method's straight-line C.
   This comment is dropped when the file is read. */
/* After each accepted step from t to t_new (size h), when given: step_buf receives the
   states at both ends and the dense-output coefficients q_m (rows y, yn, q_1, ..., NS
   each), then on_step(t, h, t_new) is called; a nonzero return ends the integration at
   t_new (status IL2_OK, y the state there). */
typedef int (*il2_step_fn)(double t, double h, double t_new);

/* Integrate one patient from t0 to t1; y in: start, out: end. */
static int il2_solve(double t0, double t1, double *y, const double *p, const double *u,
                     long n_eval, const double *t_eval, double rtol, const double *atol,
                     double *y_eval, long max_steps, double *t_fail, long *stats,
                     double *h_io, il2_step_fn on_step, double *step_buf) {
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
            if ((e < n_eval && t_eval[e] <= t_new) || on_step != NULL) {
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
            int stop = 0;
            if (on_step != NULL) {
                memcpy(step_buf, y, sizeof(double) * NS);
                memcpy(step_buf + NS, yn, sizeof yn);
                IL2_DENSE_PACK
                stop = on_step(t, h, t_new);
            }
            memcpy(y, yn, sizeof yn);
            t = t_new;
            if (last || stop) break;
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

