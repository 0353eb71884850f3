"""Single-pass update rules: one read and one write of each array per step.

Each kernel replaces the NumPy loop of ``bprop/optimizers.py`` (and the trainer's L2
line ``nabla += shrink * w``) for one parameter array, with the gradient ``g`` summed
over the mini-batch as there (Σ_x ∇C_x; ``rate = η/m``, ``scale = 1/m``):

    sgd:       w → w - (η/m)(g + shrink w)
    momentum:  v → μ v - (η/m)(g + shrink w),  w → w + v
    nesterov:  v → μ v - (η/m)(g + shrink w),  w → w + μ v - (η/m)(g + shrink w)
    adam:      ĝ = (g + shrink w)/m,  m → β1 m + (1-β1) ĝ,  v → β2 v + (1-β2) ĝ²,
               w → w - step m / (√v + ε̂)    (step, ε̂: Adam's bias-corrected scalars)

NumPy makes 2 (SGD) to 12 (Adam) passes with L2. Arrays of at least ``PARALLEL_SIZE``
elements are split over numba's threads (each rule's ``_parallel`` twin, or the
``parallel`` argument); smaller ones run on one thread, where starting the others would
cost more than it saves.
"""
import math

from numba import prange

from bprop.kernels.codes import ADAM, NESTEROV, PLAIN
from bprop.kernels.compiler import jit

PARALLEL_SIZE = 1 << 18  # 262,144: recipe C's two big weight matrices, not B's


@jit
def _sgd_element(w, g, i, rate, shrink):
    w[i] -= rate * (g[i] + shrink * w[i])                     # w → w - (η/m)(g + shrink w)


@jit
def _momentum_element(w, g, v, i, rate, mu, shrink, nesterov):
    step = rate * (g[i] + shrink * w[i])
    v[i] = mu * v[i] - step                                   # v → μ v - (η/m)(g + shrink w)
    if nesterov:
        w[i] += mu * v[i] - step                              # w → w + μ v - (η/m)(...)
    else:
        w[i] += v[i]                                          # w → w + v


@jit
def _adam_element(w, g, m, v, i, scale, shrink, beta1, beta2, step_size, epsilon_hat):
    one = beta1 - beta1 + 1                                   # 1 in the arrays' dtype
    grad = (g[i] + shrink * w[i]) * scale                     # ∇C = (g + shrink w) / m
    m[i] = beta1 * m[i] + (one - beta1) * grad                # m → β1 m + (1 - β1) ∇C
    v[i] = beta2 * v[i] + (one - beta2) * (grad * grad)       # v → β2 v + (1 - β2) (∇C)²
    w[i] -= step_size * m[i] / (math.sqrt(v[i]) + epsilon_hat)  # w → w - η m̂ / (√v̂ + ε)


# Each rule twice: one thread, and split over numba's threads (prange). Separate functions,
# so their entries in numba's cache never overwrite each other.
@jit
def sgd(w, g, rate, shrink):
    w, g = w.reshape(-1), g.reshape(-1)
    for i in range(w.size):
        _sgd_element(w, g, i, rate, shrink)


@jit(parallel=True)
def sgd_parallel(w, g, rate, shrink):
    w, g = w.reshape(-1), g.reshape(-1)
    for i in prange(w.size):
        _sgd_element(w, g, i, rate, shrink)


@jit
def momentum(w, g, v, rate, mu, shrink, nesterov):
    w, g, v = w.reshape(-1), g.reshape(-1), v.reshape(-1)
    for i in range(w.size):
        _momentum_element(w, g, v, i, rate, mu, shrink, nesterov)


@jit(parallel=True)
def momentum_parallel(w, g, v, rate, mu, shrink, nesterov):
    w, g, v = w.reshape(-1), g.reshape(-1), v.reshape(-1)
    for i in prange(w.size):
        _momentum_element(w, g, v, i, rate, mu, shrink, nesterov)


@jit
def adam(w, g, m, v, scale, shrink, beta1, beta2, step_size, epsilon_hat):
    w, g, m, v = w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)
    for i in range(w.size):
        _adam_element(w, g, m, v, i, scale, shrink, beta1, beta2, step_size, epsilon_hat)


@jit(parallel=True)
def adam_parallel(w, g, m, v, scale, shrink, beta1, beta2, step_size, epsilon_hat):
    w, g, m, v = w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)
    for i in prange(w.size):
        _adam_element(w, g, m, v, i, scale, shrink, beta1, beta2, step_size, epsilon_hat)


# The update's halves around BP4's product, when ``epoch.py`` lets BLAS add that product
# straight into w (SGD: w → w - (η/m) shrink w, then w → w - (η/m) g by gemm) or into v
# (momentum: v → μ v - (η/m) shrink w, then v → v - (η/m) g by gemm, then w → w + v).
# L2's factor 1 - ηλ/n is not handed to gemm as its beta: in float32 it would round to 1
# for ηλ/n below 3e-8 and be 10-20 % off near 1e-7, the same way at every step.
@jit
def _shrink_weights_element(w, i, rate_shrink):
    w[i] -= rate_shrink * w[i]


@jit
def _shrink_velocity_element(v, w, i, mu, rate_shrink):
    v[i] = mu * v[i] - rate_shrink * w[i]


@jit
def _add_velocity_element(w, v, i):
    w[i] += v[i]


@jit
def shrink_weights(w, rate_shrink, parallel):
    """w → w - rate_shrink w: L2's shrink, before gemm adds -(η/m) g."""
    w = w.reshape(-1)
    if parallel:
        _shrink_weights_parallel(w, rate_shrink)
        return
    for i in range(w.size):
        _shrink_weights_element(w, i, rate_shrink)


@jit(parallel=True)
def _shrink_weights_parallel(w, rate_shrink):
    for i in prange(w.size):
        _shrink_weights_element(w, i, rate_shrink)


@jit
def shrink_velocity(v, w, mu, rate_shrink, parallel):
    """v → μ v - rate_shrink w: the velocity's decay and L2's share, before gemm adds -(η/m) g."""
    v, w = v.reshape(-1), w.reshape(-1)
    if parallel:
        _shrink_velocity_parallel(v, w, mu, rate_shrink)
        return
    for i in range(v.size):
        _shrink_velocity_element(v, w, i, mu, rate_shrink)


@jit(parallel=True)
def _shrink_velocity_parallel(v, w, mu, rate_shrink):
    for i in prange(v.size):
        _shrink_velocity_element(v, w, i, mu, rate_shrink)


@jit
def add_velocity(w, v, parallel):
    """w → w + v."""
    w, v = w.reshape(-1), v.reshape(-1)
    if parallel:
        _add_velocity_parallel(w, v)
        return
    for i in range(w.size):
        _add_velocity_element(w, v, i)


@jit(parallel=True)
def _add_velocity_parallel(w, v):
    for i in prange(w.size):
        _add_velocity_element(w, v, i)


@jit
def apply_rule(rule, w, g, s1, s2, rate, mu, shrink, beta1, beta2, step_size, epsilon_hat,
               parallel):
    """One rule (``codes``) on a whole array, over numba's threads if ``parallel``: ``s1``,
    ``s2`` as in ``update_block``; for Adam ``rate`` is 1/m."""
    if rule == ADAM:
        if parallel:
            adam_parallel(w, g, s1, s2, rate, shrink, beta1, beta2, step_size, epsilon_hat)
        else:
            adam(w, g, s1, s2, rate, shrink, beta1, beta2, step_size, epsilon_hat)
    elif rule == PLAIN:
        if parallel:
            sgd_parallel(w, g, rate, shrink)
        else:
            sgd(w, g, rate, shrink)
    elif parallel:
        momentum_parallel(w, g, s1, rate, mu, shrink, rule == NESTEROV)
    else:
        momentum(w, g, s1, rate, mu, shrink, rule == NESTEROV)


@jit
def adam_scalars(eta, epsilon, beta1, beta2, t):
    """Adam's bias-corrected (step, ε̂) for step t: η √(1-β2^t)/(1-β1^t) and ε √(1-β2^t)."""
    correction1 = 1.0 - beta1 ** t
    correction2 = 1.0 - beta2 ** t
    return eta * math.sqrt(correction2) / correction1, epsilon * math.sqrt(correction2)


@jit
def update_block(rule, w, g, s1, s2, rate, mu, shrink, beta1, beta2, step_size, epsilon_hat):
    """One rule (``codes``: PLAIN, MOMENTUM, NESTEROV, ADAM) on 1-D blocks of any stride:
    ``s1``, ``s2`` are the velocities, or Adam's m and v (unused by plain SGD); for Adam
    ``rate`` is 1/m (``scale`` above). ``split.py`` updates each part's own rows, or
    columns, of a layer with it."""
    for i in range(w.shape[0]):
        if rule == ADAM:
            _adam_element(w, g, s1, s2, i, rate, shrink, beta1, beta2, step_size, epsilon_hat)
        elif rule == PLAIN:
            _sgd_element(w, g, i, rate, shrink)
        else:
            _momentum_element(w, g, s1, i, rate, mu, shrink, rule == NESTEROV)
