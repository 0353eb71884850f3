"""Fused kernels for σ and σ': the bias add with the activation, and BP2's ⊙ with BP3's sum.

``bias_activation(z, b, a, kind, alpha)`` replaces, in ``Network``'s forward pass,

    z += b                                  # z^l = w^l a^(l-1) + b^l
    a = sigma.forward(z, out=activations[l + 1])   # a^l = σ(z^l)

with one pass over z (two to four with NumPy, one more for each temporary).
``vjp_sum(z, a, g, kind, alpha, nabla_b)`` replaces BP2's Hadamard product and the next
layer's BP3,

    delta = sigma.vjp(z, a, g, out=g)       (BP2: δ^l = (w^(l+1))^T δ^(l+1) ⊙ σ'(z^l))
    np.add.reduce(delta, axis=0, out=nabla_b[l])   (BP3: Σ_x δ^l_x)

The element formulas are the ones in ``bprop/activations.py`` (σ and σ' side by side).
"""
import math

from bprop.kernels.codes import LEAKY_RELU, RELU, SIGMOID, SOFTMAX, TANH
from bprop.kernels.compiler import jit


@jit
def sigma(kind, z, alpha):
    """σ(z) for one element (not softmax): the forward formulas of ``activations.py``."""
    if kind == SIGMOID:
        return 1 / (1 + math.exp(-z))              # σ(z) = 1 / (1 + e^(-z)) (see Sigmoid)
    if kind == TANH:
        return math.tanh(z)
    if kind == RELU:
        return z if z > 0 else z * 0               # max(0, z), NaN kept
    if kind == LEAKY_RELU:
        return z if z > 0 else alpha * z
    return z                                       # identity


@jit
def sigma_prime(kind, z, a, alpha):
    """σ'(z) for one element, from the cached a = σ(z) where that is cheaper."""
    if kind == SIGMOID:
        return a * (1 - a)
    if kind == TANH:
        return 1 - a * a
    one = alpha - alpha + 1                        # 1 in the arrays' dtype (alpha is cast to it)
    if kind == RELU:
        return one if z > 0 else one - one
    if kind == LEAKY_RELU:
        return one if z > 0 else alpha
    return one                                     # identity


@jit
def row_max(z):
    """The largest element of one row (the first if several)."""
    zmax = z[0]
    for j in range(1, z.shape[0]):
        if z[j] > zmax:
            zmax = z[j]
    return zmax


@jit
def softmax_row(z, a):
    """a = softmax(z) for one row, shifted by its max (``Softmax.forward``).

    Returns (max, Σ_j e^(z_j - max)): logsumexp(z) is max + ln of the second."""
    zmax = row_max(z)
    total = z.dtype.type(0)
    for j in range(z.shape[0]):
        e = math.exp(z[j] - zmax)
        a[j] = e
        total += e
    for j in range(z.shape[0]):
        a[j] /= total
    return zmax, total


@jit
def softmax_rows(z, a):
    """a = softmax(z) row by row (``softmax_row``)."""
    for i in range(z.shape[0]):
        softmax_row(z[i], a[i])


@jit
def bias_activation(z, b, a, kind, alpha):
    """z += b, then a = σ(z), in one pass (softmax: one pass per row after the add)."""
    dtype = z.dtype.type
    alpha = dtype(alpha)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            zij = z[i, j] + b[j]
            z[i, j] = zij
            if kind != SOFTMAX:
                a[i, j] = sigma(kind, zij, alpha)
    if kind == SOFTMAX:
        softmax_rows(z, a)


@jit
def bias_activation_columns(z, b, a, lo, hi, kind, alpha):
    """``bias_activation`` on columns lo..hi-1 of z and a (not softmax), with b holding
    just their biases: one part's block of a layer in ``split.py``. It works a row at a
    time because z[i, lo:hi] is contiguous where the block z[:, lo:hi] is not, and the
    compiler vectorises only the former: on a block of 128 × 50, five times faster."""
    alpha = z.dtype.type(alpha)
    for i in range(z.shape[0]):
        zi, ai = z[i, lo:hi], a[i, lo:hi]
        for j in range(hi - lo):
            zij = zi[j] + b[j]
            zi[j] = zij
            ai[j] = sigma(kind, zij, alpha)


@jit
def softmax_vjp_row(a, g, i, out):
    """∂C/∂z_k = a_k (g_k - Σ_j g_j a_j) for row i (``Softmax.vjp``); ``out`` may be g."""
    inner = g.dtype.type(0)
    for j in range(g.shape[1]):
        inner += g[i, j] * a[i, j]
    for j in range(g.shape[1]):
        out[i, j] = a[i, j] * (g[i, j] - inner)


@jit
def vjp_row(z, a, g, i, kind, alpha):
    """Row i of g ← g ⊙ σ'(z) in place (softmax: through its Jacobian, ``softmax_vjp_row``)."""
    if kind == SOFTMAX:
        softmax_vjp_row(a, g, i, g)
    else:
        for j in range(g.shape[1]):
            g[i, j] = g[i, j] * sigma_prime(kind, z[i, j], a[i, j], alpha)


@jit
def vjp_sum(z, a, g, kind, alpha, nabla_b):
    """g ← g ⊙ σ'(z) in place (BP2), and nabla_b ← Σ_x of the result (BP3)."""
    alpha = g.dtype.type(alpha)
    nabla_b[:] = 0
    for i in range(g.shape[0]):
        vjp_row(z, a, g, i, kind, alpha)
        for j in range(g.shape[1]):
            nabla_b[j] += g[i, j]


@jit
def vjp_sum_columns(z, a, g, lo, hi, kind, alpha, nabla_b):
    """``vjp_sum`` on columns lo..hi-1 (not softmax), with nabla_b holding just their
    sums; a row at a time, as ``bias_activation_columns``."""
    alpha = g.dtype.type(alpha)
    nabla_b[:] = 0
    for i in range(g.shape[0]):
        zi, ai, gi = z[i, lo:hi], a[i, lo:hi], g[i, lo:hi]
        for j in range(hi - lo):
            gij = gi[j] * sigma_prime(kind, zi[j], ai[j], alpha)
            gi[j] = gij
            nabla_b[j] += gij


@jit
def multiply(g, mask):
    """g ← g ⊙ mask: dropout's mask on the gradient flowing back (``g *= masks[l - 1]``)."""
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            g[i, j] *= mask[i, j]
