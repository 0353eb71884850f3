"""BP1 fused with the output layer's forward pass and BP3's sum.

``output_delta(z, b, a, Y, rows, kind, alpha, cost, delta, nabla_b)`` replaces, for the
output layer L, in ``Network``'s forward and backward passes and ``Cost.output_delta``,

    z += b;  a = sigma.forward(z, ...)                 # z^L, a^L
    delta = np.subtract(a, Y, out=out)                 (BP1, fused: δ^L = a^L - y)
    delta = activation.vjp(z, a, a - Y, out=out)       (BP1, quadratic: (a - y) ⊙ σ'(z^L))
    np.add.reduce(delta, axis=0, out=nabla_b[L])       (BP3: Σ_x δ^L_x)

reading the targets as ``Y[rows[i]]`` in place, so they are never gathered into a copy.
"""
from bprop.kernels.activations import bias_activation, vjp_row
from bprop.kernels.codes import FUSED_CROSS_ENTROPY
from bprop.kernels.compiler import jit


@jit
def output_delta(z, b, a, Y, rows, kind, alpha, cost, delta, nabla_b):
    """z^L += b, a^L = σ(z^L), δ^L by BP1 and Σ_x δ^L_x (BP3), in one call."""
    bias_activation(z, b, a, kind, alpha)
    alpha = z.dtype.type(alpha)
    nabla_b[:] = 0
    for i in range(z.shape[0]):
        r = rows[i]
        for j in range(z.shape[1]):
            delta[i, j] = a[i, j] - Y[r, j]          # a - y: the fused δ^L, or ∇_a C of ½‖a - y‖²
        if cost != FUSED_CROSS_ENTROPY:
            vjp_row(z, a, delta, i, kind, alpha)
        for j in range(z.shape[1]):
            nabla_b[j] += delta[i, j]
