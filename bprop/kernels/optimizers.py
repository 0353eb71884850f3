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
elements are split over numba's threads (``bprop.kernels.threads``); smaller ones run
on one thread, where starting the others would cost more than it saves.
"""
import math

from numba import prange

from bprop.kernels.compiler import jit

PARALLEL_SIZE = 1 << 16


def _sgd(w, g, rate, shrink):
    w, g = w.reshape(-1), g.reshape(-1)
    for i in prange(w.size):
        w[i] -= rate * (g[i] + shrink * w[i])


def _momentum(w, g, v, rate, mu, shrink, nesterov):
    w, g, v = w.reshape(-1), g.reshape(-1), v.reshape(-1)
    for i in prange(w.size):
        step = rate * (g[i] + shrink * w[i])
        v[i] = mu * v[i] - step
        if nesterov:
            w[i] += mu * v[i] - step
        else:
            w[i] += v[i]


def _adam(w, g, m, v, scale, shrink, beta1, beta2, step_size, epsilon_hat):
    w, g, m, v = w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)
    one = beta1 - beta1 + 1
    for i in prange(w.size):
        grad = (g[i] + shrink * w[i]) * scale
        m[i] = beta1 * m[i] + (one - beta1) * grad
        v[i] = beta2 * v[i] + (one - beta2) * (grad * grad)
        w[i] -= step_size * m[i] / (math.sqrt(v[i]) + epsilon_hat)


sgd, sgd_parallel = jit(_sgd), jit(parallel=True)(_sgd)
momentum, momentum_parallel = jit(_momentum), jit(parallel=True)(_momentum)
adam, adam_parallel = jit(_adam), jit(parallel=True)(_adam)
