"""Straight-line C for a sparse LU of ``W = I/(h*gamma) - J`` with a pivot order fixed in advance.

A model's Jacobian has a fixed sparsity pattern (``il2_qsp``: 89 of 484 entries), so the
elimination can be planned once, when the model's C is generated, in the manner of the
Kinetic PreProcessor for atmospheric chemistry (Damian, Sandu et al., *Computers &
Chemical Engineering* 26, 1567-1579, 2002; Sandu et al., *Atmospheric Environment* 31,
3459-3472, 1997):

1. **Order.** Diagonal pivots are chosen greedily by the Markowitz count
   ``(r_k - 1)(c_k - 1)`` of the active submatrix (fewest new nonzeros first; ties by index),
   a symmetric permutation, so the diagonal of ``W`` (never structurally zero) is the pivot.
2. **Symbolic factorisation.** The fill-in of that order is computed on the pattern.
3. **Code.** ``il2_lu_sparse`` and ``il2_lu_solve_sparse`` are printed as straight-line C
   over the structural nonzeros only (literal indices into the dense row-major ``W``; no
   loops, no index arrays).

A fixed order cannot pivot, so ``il2_lu_sparse`` applies the threshold test of sparse
direct solvers (Duff, Erisman & Reid, *Direct Methods for Sparse Matrices*, 2nd ed., 2017,
Section 7.8) to the row-equilibrated matrix ``D W`` (``D`` = 1 / each row's largest entry of
``W``, which changes neither the solution nor the elimination, only the test's scale; a
model mixes amounts in IU with log cell counts, so the unscaled test fails on magnitudes
alone): each scaled pivot must be at least ``PIVOT_THRESHOLD`` (0.1) times the largest
scaled entry below it in its column, and finite and nonzero. When a step's matrix fails the test
the integrator factorises the same matrix with the dense LU with partial pivoting instead,
so the sparse path never costs accuracy; it only saves work where it is safe.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["PIVOT_THRESHOLD", "SparsePlan", "plan", "sparse_lu_c"]

PIVOT_THRESHOLD = 0.1

BoolMatrix = NDArray[np.bool_]


class SparsePlan:
    """The pivot order and filled pattern of one sparsity pattern.

    Attributes:
        order: the states in elimination order.
        filled: the pattern of ``L + U`` (the original nonzeros, the diagonal and fill-in).
        flops: multiply-adds of one factorisation (a dense one takes about ``n^3 / 3``).
    """

    def __init__(self, order: list[int], filled: BoolMatrix) -> None:
        self.order = order
        self.filled = filled
        position = {k: i for i, k in enumerate(order)}
        self.below = {k: [i for i in order[position[k] + 1:] if filled[i, k]] for k in order}
        self.right = {k: [j for j in order[position[k] + 1:] if filled[k, j]] for k in order}
        self.flops = sum(len(self.below[k]) * (len(self.right[k]) + 1) for k in order)

    @property
    def dense_flops(self) -> int:
        n = len(self.order)
        return sum((n - 1 - i) * (n - i) for i in range(n))


def plan(pattern: BoolMatrix) -> SparsePlan:
    """Markowitz order and symbolic fill for a square pattern (the diagonal is added)."""
    n = pattern.shape[0]
    filled = np.array(pattern, dtype=bool) | np.eye(n, dtype=bool)
    active = list(range(n))
    order: list[int] = []
    while active:
        sub = filled[np.ix_(active, active)]
        cost = (sub.sum(axis=1) - 1) * (sub.sum(axis=0) - 1)
        k = active[int(np.argmin(cost))]  # argmin: the lowest index among ties
        active.remove(k)
        rows = [i for i in active if filled[i, k]]
        cols = [j for j in active if filled[k, j]]
        for i in rows:
            filled[i, cols] = True
        order.append(k)
    return SparsePlan(order, filled)


def sparse_lu_c(pattern: BoolMatrix) -> str:
    """C functions ``il2_lu_sparse`` and ``il2_lu_solve_sparse`` for ``pattern``, and
    ``IL2_SPARSE_LU`` defined to 1; or ``IL2_SPARSE_LU`` 0 when the plan would not save at
    least half of the dense factorisation's work (small or nearly full Jacobians)."""
    n = pattern.shape[0]
    p = plan(pattern)
    if n < 6 or 2 * p.flops > p.dense_flops:
        return (f"/* sparse LU: not used ({p.flops} multiply-adds against {p.dense_flops} "
                "dense) */\n#define IL2_SPARSE_LU 0\n")

    def at(i: int, j: int) -> str:
        return f"a[{i * n + j}]"

    lu = [f"/* sparse LU of W (il2sim.engine.sparse_lu): pivot order {p.order}, "
          f"{int(p.filled.sum())} nonzeros in L+U, {p.flops} multiply-adds per "
          f"factorisation against {p.dense_flops} dense */",
          "#define IL2_SPARSE_LU 1",
          f"#define IL2_PIVOT_THRESHOLD {PIVOT_THRESHOLD!r}",
          "/* 0, or 1 when a pivot fails the threshold test (then the dense LU is used) */",
          "static int il2_lu_sparse(double *restrict a, double *restrict dinv) {",
          "    double pv, col, d, rs[IL2_NS];",
          "    /* 1 / the largest entry of each row of W (the test is on the row-equilibrated "
          "matrix) */"]
    for i in range(n):
        cols = [j for j in range(n) if p.filled[i, j] and (pattern[i, j] or i == j)]
        lu.append(f"    rs[{i}] = fabs({at(i, cols[0])});")
        lu.extend(f"    rs[{i}] = fmax(rs[{i}], fabs({at(i, j)}));" for j in cols[1:])
        lu.append(f"    rs[{i}] = 1.0 / rs[{i}];")
    for k in p.order:
        below, right = p.below[k], p.right[k]
        lu.append(f"    pv = {at(k, k)};")
        if below:
            lu.append(f"    col = fabs({at(below[0], k)}) * rs[{below[0]}];")
            lu.extend(f"    col = fmax(col, fabs({at(i, k)}) * rs[{i}]);" for i in below[1:])
            lu.append("    if (!(fabs(pv) > 0.0) || !isfinite(pv) || "
                      f"fabs(pv) * rs[{k}] < IL2_PIVOT_THRESHOLD * col) return 1;")
        else:
            lu.append("    if (!(fabs(pv) > 0.0) || !isfinite(pv)) return 1;")
        lu.append(f"    d = 1.0 / pv; dinv[{k}] = d;")
        for i in below:
            lu.append(f"    {at(i, k)} *= d;")
            lu.extend(f"    {at(i, j)} -= {at(i, k)} * {at(k, j)};" for j in right)
    lu += ["    return 0;", "}", "",
           "static inline void il2_lu_solve_sparse(const double *restrict a, "
           "const double *restrict dinv, double *restrict b) {"]
    for k in p.order:
        lu.extend(f"    b[{i}] -= {at(i, k)} * b[{k}];" for i in p.below[k])
    for k in reversed(p.order):
        terms = "".join(f" - {at(k, j)} * b[{j}]" for j in p.right[k])
        lu.append(f"    b[{k}] = (b[{k}]{terms}) * dinv[{k}];")
    lu += ["}", ""]
    return "\n".join(lu)
