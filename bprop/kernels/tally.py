"""The epoch's training cost and correct count, in one pass over the outputs.

``tally(z, Y, rows, labels, kind, alpha, cost)`` replaces, in ``Trainer._tally``,

    a = network.activations[-1].forward(z, np.empty_like(z))          # a^L = σ(z^L)
    cost += network.cost.value(z, a, Y[rows]).sum()                    # Σ_x C_x
    correct += (network.classes(a) == labels[rows]).sum()              # Σ_x [argmax a = label]

with the targets read in place (no ``Y[rows]`` copy) and no (n × classes) temporaries:
for 50,000 softmax outputs NumPy's reductions along rows of ten take ~20 ms, this 7.7 ms.
The whole compiled loops (``epoch.py``, ``split.py``) tally each mini-batch with
``batch_tally`` as they train, from the a^L just computed, and need no pass of their own.
The sums are kept in float64; the class is the first largest output, or the first NaN, as
``argmax`` gives it. The cost formulas are those of ``bprop/costs.py``:
quadratic ½‖a - y‖²; cross-entropy with a sigmoid output Σ_j softplus(z_j) - y_j z_j; with
a softmax output Σ_j y_j (logsumexp(z) - z_j).
"""
import math

import numpy as np

from bprop.kernels.activations import row_max, sigma, softmax_row
from bprop.kernels.codes import QUADRATIC, SIGMOID, SOFTMAX
from bprop.kernels.compiler import jit


@jit
def log_sum_exp(z):
    """ln Σ_j e^(z_j) of one row, shifted by its max exactly as ``softmax_row`` does."""
    zmax = row_max(z)
    exps = z.dtype.type(0)
    for j in range(z.shape[0]):
        exps += math.exp(z[j] - zmax)
    return zmax + math.log(exps)


@jit
def example_tally(z, a, y, kind, cost, log_sum_exp_z):
    """(C_x, the predicted class) of one example from its z^L, a^L = σ(z^L) and target y
    (and, for a softmax output, logsumexp(z^L))."""
    k = z.shape[0]
    total = 0.0
    if cost == QUADRATIC:
        for j in range(k):
            total += 0.5 * (a[j] - y[j]) ** 2
    elif kind == SIGMOID:
        for j in range(k):
            total += max(z[j], 0.0) + math.log1p(math.exp(-abs(z[j]))) - y[j] * z[j]
    else:
        for j in range(k):
            total += y[j] * (log_sum_exp_z - z[j])
    if k == 1:
        return total, 1 if a[0] > 0.5 else 0
    predicted = 0
    for j in range(1, k):
        if a[predicted] != a[predicted]:       # a NaN: argmax stops at the first
            break
        if a[j] > a[predicted] or a[j] != a[j]:
            predicted = j
    return total, predicted


@jit
def batch_tally(z, a, Y, rows, labels, kind, cost):
    """(Σ_x C_x, Σ_x correct) of one mini-batch from the z^L and a^L its step computed
    (the whole loops of ``epoch.py`` and ``split.py``); ``labels`` empty without classes."""
    total, correct = 0.0, 0
    for i in range(z.shape[0]):
        cost_x, predicted = example_tally(z[i], a[i], Y[rows[i]], kind, cost,
                                          log_sum_exp(z[i]) if kind == SOFTMAX else 0.0)
        total += cost_x
        if labels.size:
            correct += predicted == labels[rows[i]]
    return total, correct


@jit
def tally(z, Y, rows, labels, kind, alpha, cost):
    """(Σ_x C_x, Σ_x correct) over the rows of z; ``labels`` empty when there are no classes."""
    alpha = z.dtype.type(alpha)
    k = z.shape[1]
    a = np.empty(k, z.dtype)
    total, correct = 0.0, 0
    for i in range(z.shape[0]):
        zi = z[i]
        log_sum_exp_z = 0.0
        if kind == SOFTMAX:                       # a = softmax(z), one exp each, and logsumexp(z)
            zmax, exps = softmax_row(zi, a)
            log_sum_exp_z = zmax + math.log(exps)
        else:
            for j in range(k):
                a[j] = sigma(kind, zi[j], alpha)
        cost_x, predicted = example_tally(zi, a, Y[rows[i]], kind, cost, log_sum_exp_z)
        total += cost_x
        if labels.size:
            correct += predicted == labels[rows[i]]
    return total, correct
