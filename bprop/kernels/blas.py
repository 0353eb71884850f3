"""A matrix product that adds into its output: BLAS's gemm, for the compiled loop.

``gemm(ta, tb, alpha, A, B, beta, C)`` computes, for 2-D arrays whose rows are contiguous,

    C = alpha op(A) op(B) + beta C         op(X) = X, or X^T when its flag is 1

``np.dot(A, B, out=C)`` is the case alpha = 1, beta = 0. ``epoch.py`` uses the general
case to let BP4's product land in the weights, or the velocities, in the same pass (L2's
shrink is applied before, element by element: see ``optimizers.shrink_weights``):

    w → w - (η/m) δ^T a                              (SGD: alpha = -η/m, beta = 1)
    v → μ v - (η/m) δ^T a                            (momentum: beta = μ, before w → w + v)

It calls the gemm (sgemm or dgemm) that numba's own ``np.dot`` calls, SciPy's BLAS,
through numba's ``numba_xxgemm`` entry, which is column-major: the row-major product is
asked for as C^T = op(B)^T op(A)^T.
"""
import numpy as np
from numba import types

from bprop.kernels.compiler import jit

_xxgemm = types.ExternalFunction("numba_xxgemm", types.int32(
    types.char, types.char, types.char, types.intp, types.intp, types.intp, types.voidptr,
    types.voidptr, types.intp, types.voidptr, types.intp, types.voidptr, types.voidptr, types.intp))

_N, _T = 78, 84   # 'N', 'T'


@jit
def gemm(ta, tb, alpha, A, B, beta, C):
    """C = alpha op(A) op(B) + beta C (see the module); A, B, C C-ordered, rows contiguous."""
    M, N = C.shape
    K = A.shape[0] if ta else A.shape[1]
    scalars = np.empty(2, C.dtype)
    scalars[0] = alpha
    scalars[1] = beta
    kind = 115 if C.itemsize == 4 else 100   # 's' or 'd'
    status = _xxgemm(kind, _T if tb else _N, _T if ta else _N, N, M, K, scalars[0:].ctypes,
                     B.ctypes, B.strides[0] // B.itemsize, A.ctypes, A.strides[0] // A.itemsize,
                     scalars[1:].ctypes, C.ctypes, C.strides[0] // C.itemsize)
    if status < 0:   # numba could not find SciPy's BLAS
        raise RuntimeError("BLAS's gemm is not available to the compiled kernels: "
                           "reinstall scipy, or use kernels='numpy'")
