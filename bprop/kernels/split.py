"""A whole run of mini-batches with each hidden layer's units split over the cores.

In ``epoch.py``'s loop one core does everything, and on recipe B ([784, 100, 10],
mini-batches of 128) the products alone then take longer than JAX's whole step. Letting
BLAS split each product over the cores moves the data between cores at every step, which
costs more than it saves. Here each of P parts (one per numba thread) owns a block of
every hidden layer's units -- its rows of w^l and b^l, its columns of z^l, a^l and δ^l,
and its columns of the output layer's w^L -- and does all the work on them, products
included (BLAS on one thread per part):

    forward, layer l     z^l[:, own] = a^(l-1) (w^l[own])^T + b^l[own],  a^l[:, own] = σ(z^l[:, own])
    output layer         z^L = Σ_parts a^(L-1)[:, own] (w^L[:, own])^T + b^L      (summed in order)
    BP1                  δ^L from z^L (one thread: m × n_L numbers)
    BP2 (l = L-1)        δ^l[:, own] = δ^L w^L[:, own] ⊙ σ'(z^l[:, own])
    BP2 (l < L-1)        δ^l[:, own] = Σ_parts (δ^(l+1)[:, own'] w^(l+1)[own'])[:, own] ⊙ σ'(z^l[:, own])
    BP3, BP4             Σ_x δ^l[:, own],  (δ^l[:, own])^T a^(l-1): this part's rows of ∂C/∂w^l
    update               the optimizer's rule on this part's rows (and on w^L's columns)

The parts meet only where a layer needs all of the one below: after each hidden layer's
forward pass and between the backward passes of two hidden layers. A part's backward pass
through the first hidden layer runs straight on into the next mini-batch's forward pass
through it, which reads only the rows that part has just updated, so a step of a network
with one hidden layer has one meeting, with two hidden layers three. The arithmetic is
``epoch.py``'s, with the sums over parts in z^L and BP2 in another order (equal to rounding
error); for a given number of parts (numba's threads) it is bit-reproducible.

It needs a BLAS that runs concurrent single-threaded calls side by side: MKL does
(``step.py`` uses this loop only with MKL, held to one thread per part); OpenBLAS ran
them one after the other, or stalled.
"""
import numpy as np
from numba import prange

from bprop.kernels.activations import bias_activation_columns, vjp_sum_columns
from bprop.kernels.batches import gather_rows
from bprop.kernels.blas import gemm
from bprop.kernels.codes import ADAM
from bprop.kernels.compiler import jit
from bprop.kernels.costs import output_delta
from bprop.kernels.epoch import store_outputs
from bprop.kernels.optimizers import adam_scalars, update_block
from bprop.kernels.tally import batch_tally


def unit_bounds(sizes, parts, line=16):
    """[L - 1, parts + 1] boundaries of each part's units in each hidden layer, on
    multiples of ``line`` elements (a 64-byte cache line of float32) where the layer is
    wide enough, so that parts seldom write the same cache line."""
    bounds = np.zeros((len(sizes) - 2, parts + 1), np.int64)
    for l, n in enumerate(sizes[1:-1]):
        for k in range(1, parts + 1):
            cut = n * k // parts
            if n >= line * parts:
                cut = min(n, round(cut / line) * line)
            bounds[l, k] = n if k == parts else cut
    return bounds


@jit
def _forward_part(l, k, X, rows, m, weights, biases, kinds, alphas, bounds, X_parts, zs,
                  activations, partial_z):
    """Part k's share of hidden layer l's forward pass (and of z^L's product after the last)."""
    L = len(weights)
    lo, hi = bounds[l, k], bounds[l, k + 1]
    if l == 0:
        gather_rows(X, rows, X_parts[k][:m])
    a_in = activations[l - 1][:m] if l > 0 else X_parts[k][:m]
    z = zs[l][:m, lo:hi]
    gemm(0, 1, 1.0, a_in, weights[l][lo:hi], 0.0, z)
    bias_activation_columns(zs[l][:m], biases[l][lo:hi], activations[l][:m], lo, hi, kinds[l],
                            alphas[l])
    if l == L - 2:
        gemm(0, 1, 1.0, activations[l][:m, lo:hi], weights[L - 1][:, lo:hi], 0.0, partial_z[k][:m])


@jit
def _backward_part(l, k, m, weights, biases, kinds, alphas, rule, bounds, X_parts, zs, activations,
                   deltas, partial_deltas, nabla_w, nabla_b, params_state, state, scalars):
    """Part k's share of hidden layer l's BP2-BP4, and its update of what it owns."""
    L = len(weights)
    rate, mu, shrink, beta1, beta2, step_size, epsilon_hat = scalars
    lo, hi = bounds[l, k], bounds[l, k + 1]
    n_in = weights[l].shape[1]
    delta = deltas[l][:m, lo:hi]
    if l == L - 2:
        gemm(0, 0, 1.0, deltas[L - 1][:m], weights[L - 1][:, lo:hi], 0.0, delta)  # the product of BP2
        gemm(1, 0, 1.0, deltas[L - 1][:m], activations[l][:m, lo:hi], 0.0,
             nabla_w[L - 1][:, lo:hi])                       # the product of BP4, w^L[:, own]
        p = 2 * (L - 1)
        for r in range(weights[L - 1].shape[0]):
            update_block(rule, weights[L - 1][r, lo:hi], nabla_w[L - 1][r, lo:hi],
                         state[p][r, lo:hi], state[params_state + p][r, lo:hi], rate, mu, shrink,
                         beta1, beta2, step_size, epsilon_hat)
    else:
        shares = partial_deltas[(l + 1) % 2]                          # written by layer l + 1's parts
        for i in range(m):                                            # δ^l[:, own]: the parts' shares
            for j in range(lo, hi):
                total = shares[0, i, j]
                for q in range(1, shares.shape[0]):
                    total += shares[q, i, j]
                delta[i, j - lo] = total
    vjp_sum_columns(zs[l][:m], activations[l][:m], deltas[l][:m], lo, hi, kinds[l], alphas[l],
                    nabla_b[l][lo:hi])                                # the kernel of BP2, BP3
    a_in = activations[l - 1][:m] if l > 0 else X_parts[k][:m]
    gemm(1, 0, 1.0, delta, a_in, 0.0, nabla_w[l][lo:hi])      # the product of BP4, w^l[own]
    if l > 0:                                # this part's share of BP2's product, with w^l before
        gemm(0, 0, 1.0, delta, weights[l][lo:hi], 0.0,                # its update (two sets of
             partial_deltas[l % 2, k, :m, :n_in])                     # shares: l + 1's still read)
    p = 2 * l
    update_block(rule, weights[l].reshape(-1)[lo * n_in:hi * n_in],
                 nabla_w[l].reshape(-1)[lo * n_in:hi * n_in],
                 state[p].reshape(-1)[lo * n_in:hi * n_in],
                 state[params_state + p].reshape(-1)[lo * n_in:hi * n_in], rate, mu, shrink,
                 beta1, beta2, step_size, epsilon_hat)
    update_block(rule, biases[l][lo:hi], nabla_b[l][lo:hi], state[p + 1][0, lo:hi],
                 state[params_state + p + 1][0, lo:hi], rate, mu, shrink * 0, beta1, beta2,
                 step_size, epsilon_hat)


@jit(parallel=True)
def train_split(X, Y, labels, order, first, last, batch_size, weights, biases, kinds, alphas,
                cost, rule, hyper, state, t, bounds, X_parts, zs, activations, deltas, partial_z,
                partial_deltas, nabla_w, nabla_b, outputs):
    """Mini-batches first..last-1, as ``epoch.train_batches`` (same arguments and results),
    plus the parts' ``bounds`` and buffers: X_parts [P, m, n_0], partial_z [P, m, n_L],
    partial_deltas [2, P, m, widest hidden layer]. ``state`` must hold an array per
    parameter even for plain SGD (it is not read then)."""
    n = order.shape[0]
    L = len(weights)
    parts = X_parts.shape[0]
    eta, mu, l2_per_n = hyper[0], hyper[1], hyper[2]
    beta1, beta2, epsilon = hyper[3], hyper[4], hyper[5]
    params_state = 2 * L if rule == ADAM else 0
    total_cost, correct = 0.0, 0
    tallied = np.zeros(2)                              # one mini-batch's Σ_x C_x and correct count,
    widths = bounds[0, 1:] - bounds[0, :-1]            # from the part with the fewest units in
    light = np.argmin(widths)                          # the first hidden layer
    if first < last:                                   # the first mini-batch's forward pass
        start = first * batch_size
        stop = min(start + batch_size, n)
        for l in range(L - 1):
            for k in prange(parts):
                _forward_part(l, k, X, order[start:stop], stop - start, weights, biases, kinds,
                              alphas, bounds, X_parts, zs, activations, partial_z)
    for batch in range(first, last):
        start = batch * batch_size
        stop = min(start + batch_size, n)
        rows = order[start:stop]
        m = stop - start
        rate, step_size, epsilon_hat = eta / m, eta, epsilon
        if rule == ADAM:
            t += 1
            rate = rate / eta                                  # Adam's scale, 1/m
            step_size, epsilon_hat = adam_scalars(eta, epsilon, beta1, beta2, t)
        shrink = l2_per_n * m
        scalars = (rate, mu, shrink, beta1, beta2, step_size, epsilon_hat)
        z = zs[L - 1][:m]
        for i in range(m):
            for j in range(z.shape[1]):
                total = partial_z[0, i, j]
                for q in range(1, parts):
                    total += partial_z[q, i, j]
                z[i, j] = total
        a = activations[L - 1][:m]
        output_delta(z, biases[L - 1], a, Y, rows, kinds[L - 1], alphas[L - 1], cost,
                     deltas[L - 1][:m], nabla_b[L - 1])               # the kernels of BP1, BP3
        p = 2 * (L - 1) + 1
        update_block(rule, biases[L - 1], nabla_b[L - 1], state[p][0], state[params_state + p][0],
                     rate, mu, shrink * 0, beta1, beta2, step_size, epsilon_hat)
        for l in range(L - 2, 0, -1):
            for k in prange(parts):
                _backward_part(l, k, m, weights, biases, kinds, alphas, rule, bounds, X_parts, zs,
                               activations, deltas, partial_deltas, nabla_w, nabla_b,
                               params_state, state, scalars)
        more = batch + 1 < last                # the next mini-batch, whose forward pass through
        next_stop = min(stop + batch_size, n)  # the first hidden layer each part starts at once:
        for k in prange(parts):                # it reads only what this part has just updated
            _backward_part(0, k, m, weights, biases, kinds, alphas, rule, bounds, X_parts, zs,
                           activations, deltas, partial_deltas, nabla_w, nabla_b, params_state,
                           state, scalars)
            if more:
                _forward_part(0, k, X, order[stop:next_stop], next_stop - stop, weights, biases,
                              kinds, alphas, bounds, X_parts, zs, activations, partial_z)
            if k == light:                     # the epoch's cost and accuracy, off the one
                cost_x, correct_x = batch_tally(z, a, Y, rows, labels, kinds[L - 1], cost)
                tallied[0], tallied[1] = cost_x, correct_x          # thread's path
        total_cost += tallied[0]
        correct += int(tallied[1])
        if more:
            for l in range(1, L - 1):
                for k in prange(parts):
                    _forward_part(l, k, X, order[stop:next_stop], next_stop - stop, weights,
                                  biases, kinds, alphas, bounds, X_parts, zs, activations, partial_z)
        if not store_outputs(z, outputs, start):
            return batch - first + 1, True, total_cost, correct
    return last - first, False, total_cost, correct
