"""Matrix products for tiny mini-batches, as plain loops the compiler vectorises.

For the book's recipe (mini-batches of 10, a 30-neuron hidden layer) a BLAS call costs
more in its set-up than in its arithmetic; these loops, called from inside a compiled
training loop, cost no call at all. They replace, in ``network.py``:

    np.matmul(a, w.T, out=zs[l])           z^l = a^(l-1) (w^l)^T          -> a_wT
    np.matmul(delta.T, inputs[l], ...)     BP4: Σ_x δ^l_x (a^(l-1)_x)^T    -> dT_a
    np.matmul(delta, self.weights[l], ...) BP2's (w^(l+1))^T δ^(l+1)       -> d_w

The ``_rows`` forms read the input rows ``X[rows[i]]`` in place, so the shuffled
mini-batch is never copied out (the gather ``X.take(rows)`` of the NumPy path).
Larger products stay in BLAS.
"""
from bprop.kernels.compiler import jit

# Reassociation lets the compiler vectorise the dot products' sums; nothing else of
# fast-math (NaN and infinity must survive: they are how divergence is caught).
_FAST = {"reassoc", "contract"}


@jit(fastmath=_FAST)
def a_wT(A, W, C):
    """C = A Wᵀ: C[i, j] = Σ_k A[i, k] W[j, k] (rows of A against rows of W)."""
    for i in range(A.shape[0]):
        for j in range(W.shape[0]):
            s = A.dtype.type(0)
            for k in range(A.shape[1]):
                s += A[i, k] * W[j, k]
            C[i, j] = s


@jit(fastmath=_FAST)
def a_wT_rows(X, rows, W, C):
    """C = X[rows] Wᵀ without copying X[rows]."""
    for i in range(rows.shape[0]):
        r = rows[i]
        for j in range(W.shape[0]):
            s = X.dtype.type(0)
            for k in range(X.shape[1]):
                s += X[r, k] * W[j, k]
            C[i, j] = s


@jit(fastmath=_FAST)
def dT_a(D, A, C):
    """C = Dᵀ A: C[j, :] = Σ_i D[i, j] A[i, :]."""
    C[:] = 0
    for i in range(D.shape[0]):
        for j in range(D.shape[1]):
            d = D[i, j]
            for k in range(A.shape[1]):
                C[j, k] += d * A[i, k]


@jit(fastmath=_FAST)
def dT_a_rows(D, X, rows, C):
    """C = Dᵀ X[rows] without copying X[rows]."""
    C[:] = 0
    for i in range(D.shape[0]):
        r = rows[i]
        for j in range(D.shape[1]):
            d = D[i, j]
            for k in range(X.shape[1]):
                C[j, k] += d * X[r, k]


@jit(fastmath=_FAST)
def d_w(D, W, C):
    """C = D W: C[i, :] = Σ_j D[i, j] W[j, :]."""
    C[:] = 0
    for i in range(D.shape[0]):
        for j in range(D.shape[1]):
            d = D[i, j]
            for k in range(W.shape[1]):
                C[i, k] += d * W[j, k]
