"""A whole run of mini-batches as one compiled loop (on one core for small networks; with BLAS's and numba's threads for larger ones, see ``step.py``).

For a network as small as the book's ([784, 30, 10], mini-batches of 10: 5,000 steps an
epoch) the time goes to issuing calls, not to arithmetic: no step made of NumPy calls
can match a step with no calls in it. ``train_batches`` runs mini-batches ``first`` to
``last - 1`` of a shuffled order as one loop: per mini-batch it does what the trainer's
``_step`` does with NumPy --

    forward:  z^l = a^(l-1) (w^l)^T + b^l, a^l = σ(z^l)      (Network's forward pass)
    BP1       δ^L = a^L - y, or (a^L - y) ⊙ σ'(z^L)          (costs.output_delta)
    BP2-BP4   δ^l = δ^(l+1) w^(l+1) ⊙ σ'(z^l), Σ_x δ^l_x, Σ_x δ^l_x (a^(l-1)_x)^T
    update    L2 and the optimizer's rule                     (optimizers.py)

-- with the products in BLAS (``blas.gemm``: MKL's or SciPy's, with no Python call in
between) and the element-wise work as the kernels of ``activations.py``,
``costs.py`` and ``optimizers.py``; the targets are read in place (no gather). For SGD and
momentum, BLAS adds BP4's product straight into w^l, or into the velocity (``blas.py``),
so ∂C/∂w^l is never stored and read back: 7-14 % less time a step on the book's network.
For Adam and Nesterov the rule runs on w^l just after BP4's product, while ∂C/∂w^l is
still in the cache.
It stops after the first mini-batch whose z^L holds a NaN or an infinity and says so (the
trainer then reports the divergence, as on the NumPy path).
"""
import math

from bprop.kernels.activations import bias_activation, vjp_sum
from bprop.kernels.batches import gather_rows
from bprop.kernels.blas import gemm
from bprop.kernels.codes import ADAM, MOMENTUM, NESTEROV, PLAIN
from bprop.kernels.compiler import jit
from bprop.kernels.costs import output_delta
from bprop.kernels.optimizers import (adam_scalars, add_velocity, apply_rule, shrink_velocity,
                                      shrink_weights)
from bprop.kernels.tally import batch_tally


@jit
def train_batches(X, Y, labels, order, first, last, batch_size, weights, biases, kinds, alphas,
                  cost, rule, hyper, state, t, X_batch, zs, activations, deltas, nabla_w, nabla_b,
                  outputs, parallel_from):
    """Mini-batches first..last-1; returns (the number done, whether the last one diverged,
    Σ_x C_x and the correct count over their examples: ``tally.py``'s figures, from the
    outputs each example had as it was trained on; ``labels`` empty without classes).

    ``hyper`` = (η, μ, λ/n, β1, β2, ε) in the arrays' dtype; ``state`` holds per parameter
    (w^0, b^0, w^1, ...) the momentum velocities, or Adam's m then v; ``t`` is Adam's step
    count before the first mini-batch. ``outputs[k]`` receives z^L of the k-th shuffled example.
    Parameter arrays of at least ``parallel_from`` elements are updated over numba's threads.
    """
    n = order.shape[0]
    L = len(weights)
    eta, mu, l2_per_n = hyper[0], hyper[1], hyper[2]
    beta1, beta2, epsilon = hyper[3], hyper[4], hyper[5]
    total_cost, correct = 0.0, 0
    for batch in range(first, last):
        start = batch * batch_size
        stop = min(start + batch_size, n)
        rows = order[start:stop]
        m = stop - start
        x = X_batch[:m]
        gather_rows(X, rows, x)
        # forward pass
        for l in range(L):
            z = zs[l][:m]
            gemm(0, 1, 1.0, x if l == 0 else activations[l - 1][:m], weights[l], 0.0, z)
            if l < L - 1:
                bias_activation(z, biases[l], activations[l][:m], kinds[l], alphas[l])
        # the kernels of BP1 (with the output layer's bias and σ), then of BP2-BP4
        z = zs[L - 1][:m]
        output_delta(z, biases[L - 1], activations[L - 1][:m], Y, rows, kinds[L - 1], alphas[L - 1],
                     cost, deltas[L - 1][:m], nabla_b[L - 1])
        cost_x, correct_x = batch_tally(z, activations[L - 1][:m], Y, rows, labels, kinds[L - 1],
                                        cost)          # the epoch's cost and accuracy, as tally.py
        total_cost += cost_x
        correct += correct_x
        shrink = l2_per_n * m
        rate = eta / m
        step_size, epsilon_hat = eta, epsilon
        if rule == ADAM:
            t += 1
            step_size, epsilon_hat = adam_scalars(eta, epsilon, beta1, beta2, t)
        scale = rate / eta if rule == ADAM else rate                   # (Adam's scale is 1/m)
        for l in range(L - 1, -1, -1):
            delta = deltas[l][:m]
            a_in = x if l == 0 else activations[l - 1][:m]
            if l > 0:                                  # the product of BP2, with w^l before its update
                gemm(0, 0, 1.0, delta, weights[l], 0.0, deltas[l - 1][:m])
            parallel = weights[l].size >= parallel_from
            if rule == PLAIN:                          # the product of BP4 added into w^l by BLAS,
                if shrink != 0:                        # after L2's shrink (see optimizers.py)
                    shrink_weights(weights[l], rate * shrink, parallel)
                gemm(1, 0, -rate, delta, a_in, 1.0, weights[l])
            elif rule == MOMENTUM:                     # ... or into v^l, then w^l → w^l + v^l
                if shrink != 0:
                    shrink_velocity(state[2 * l], weights[l], mu, rate * shrink, parallel)
                gemm(1, 0, -rate, delta, a_in, mu if shrink == 0 else 1.0, state[2 * l])
                add_velocity(weights[l], state[2 * l], parallel)
            else:                                      # the product of BP4, then the rule on
                gemm(1, 0, 1.0, delta, a_in, 0.0, nabla_w[l])   # w^l while ∂C/∂w^l is in cache
                s1 = state[2 * l]
                apply_rule(rule, weights[l], nabla_w[l], s1, state[2 * L + 2 * l] if rule == ADAM
                           else s1, scale, mu, shrink, beta1, beta2, step_size, epsilon_hat, parallel)
            if l > 0:
                vjp_sum(zs[l - 1][:m], activations[l - 1][:m], deltas[l - 1][:m], kinds[l - 1],
                        alphas[l - 1], nabla_b[l - 1])  # the kernel of BP2, BP3
        for l in range(L):                             # the biases' update (no L2 shrink)
            p = 2 * l + 1
            b = biases[l].reshape((1, biases[l].size))
            g = nabla_b[l].reshape((1, nabla_b[l].size))
            s1 = g if rule == PLAIN else state[p]                # (plain SGD keeps no state)
            apply_rule(rule, b, g, s1, state[2 * L + p] if rule == ADAM else s1, scale, mu,
                       shrink * 0, beta1, beta2, step_size, epsilon_hat, b.size >= parallel_from)
        if not store_outputs(z, outputs, start):
            return batch - first + 1, True, total_cost, correct
    return last - first, False, total_cost, correct


@jit
def store_outputs(z, outputs, start):
    """outputs[start + i] = z[i] for a mini-batch's z^L; False if it holds a NaN or an infinity."""
    total = z.dtype.type(0)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            outputs[start + i, j] = z[i, j]
            total += z[i, j]
    return math.isfinite(total)
