/* il2sim native backend: the library's exported entry points (sizes, il2_eval,
   il2_linear_solve, il2_observe, il2_integrate) and the thread fan-out over patients.
   Appended last by il2sim.engine.native_rodas.integrator_c.
   This comment is dropped when the file is read. */
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
                                 b->stats + 4 * i, b->h_io ? b->h_io + i : NULL, NULL,
                                 NULL);
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

/* One patient over [t0, t1] on the calling thread, reporting each accepted step to
   on_step through step_buf (see il2_solve): the native backend's root finding for model
   events. y (NS) in: start, out: where the integration ended (t_fail); y_eval (n_eval,
   NS); stats (4) as il2_integrate. Returns the status. */
int il2_integrate_steps(double t0, double t1, double *y, const double *p, const double *u,
                        long n_eval, const double *t_eval, double rtol, const double *atol,
                        double *y_eval, double *t_fail, long *stats, long max_steps,
                        il2_step_fn on_step, double *step_buf) {
    return il2_solve(t0, t1, y, p, u, n_eval, t_eval, rtol, atol, y_eval, max_steps, t_fail,
                     stats, NULL, on_step, step_buf);
}
