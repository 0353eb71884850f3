"""The training step with compiled kernels: what ``Trainer._step`` does with NumPy.

Four forms, chosen by ``form`` (``CompiledTraining.form``):

- ``"whole"``: whole runs of mini-batches (``run``, ``epoch.py``) as one compiled loop, on
  one core, for networks up to recipe B's size, where Python's calls between the steps
  would cost more than they leave to BLAS's threads;
- ``"split"``: the same runs with each hidden layer's units split over the cores
  (``split.py``), for the larger of those networks when MKL is the BLAS;
- ``"threaded"``: the same loop as ``"whole"`` for larger networks, with BLAS on its
  threads and the big parameter arrays updated over numba's threads;
- ``"step"``, per mini-batch, with dropout (its masks are drawn by NumPy): the matrix
  products are BLAS calls (``blas.gemm``: MKL's or SciPy's, see there); the element-wise
  work between them runs as the fused kernels of ``activations.py``, ``costs.py`` and
  ``optimizers.py``; the targets are read in place.

All update the network's parameters and the optimizer's state objects exactly where the
NumPy path keeps them, so checkpoints, resumes and a switch of path between runs see the
same state.
"""
from contextlib import nullcontext

import numpy as np
from numba import get_num_threads

from bprop.kernels import activations as K
from bprop.kernels import costs as C
from bprop.kernels import optimizers as O
from bprop.kernels.batches import gather_rows
from bprop.kernels import blas
from bprop.kernels.blas import gemm
from bprop.kernels.codes import (ACTIVATION_CODES, ADAM, FUSED_CROSS_ENTROPY, MOMENTUM,
                                 NESTEROV, PLAIN, QUADRATIC, SOFTMAX)
from bprop.kernels.epoch import train_batches
from bprop.kernels.split import train_split, unit_bounds
from bprop.kernels.tally import tally

# One core's compiled loop pays off while one step's products are this small (multiply-adds
# a step): the book's [784, 30, 10] with mini-batches of 10 is 0.24 M, [784, 100, 10] with
# 128 is 10 M (B: 10-20 % faster as a whole loop with MKL, level with OpenBLAS). Above it
# the loop is "threaded": [784, 512, 512, 10] with 128 is 86 M (C: its products and
# updates need both cores; 5-15 % faster than per mini-batch, which issues ~20 calls a step).
WHOLE_LOOP_MAX_WORK = 16_000_000
# Above this, and up to WHOLE_LOOP_MAX_WORK, the whole loop splits each hidden layer's
# units over the cores (split.py), with a BLAS that runs one call per core side by side.
# B: 1.3x faster than one core's loop; the book's network: 1.5x slower (too little work
# between the cores' meetings).
SPLIT_MIN_WORK = 2_000_000
SPLIT_BLAS = ("mkl",)
SPLIT_PARTS = None   # parts: None for numba's threads (NUMBA_NUM_THREADS, default every core)
LOOPS = True         # False: per mini-batch even without dropout (the tests' "step" form)


def form(sizes, batch_size, hidden_softmax=False, dropout=False):
    """(form, parts): how ``CompiledTraining`` trains a network of these layer sizes --
    ``"step"`` (per mini-batch), ``"whole"`` (one core's loop), ``"split"`` (the loop over
    ``parts`` cores) or ``"threaded"`` (the loop with every core's threads) -- by the
    thresholds above and the BLAS bound (``blas.py``)."""
    work = batch_size * sum(i * o for i, o in zip(sizes, sizes[1:]))
    if dropout or not LOOPS:
        return "step", 1
    if work > WHOLE_LOOP_MAX_WORK:
        return "threaded", 1
    parts = SPLIT_PARTS or get_num_threads()
    if (work > SPLIT_MIN_WORK and blas.BLAS in SPLIT_BLAS and parts > 1 and len(sizes) > 2
            and not hidden_softmax):
        return "split", parts
    return "whole", 1


class CompiledTraining:
    """Compiled mini-batch steps for one network, optimizer and L2 setting."""

    def __init__(self, network, optimizer, l2, n_train, batch_size, dropout):
        self.network, self.optimizer = network, optimizer
        self.blas = blas.BLAS                                 # "mkl" or "scipy"
        dtype = self.dtype = network.dtype
        self.kinds = np.array([ACTIVATION_CODES[s.name] for s in network.activations], np.int64)
        self.alphas = np.array([getattr(s, "alpha", 0.0) for s in network.activations], dtype)
        self.cost = FUSED_CROSS_ENTROPY if network.cost.fused else QUADRATIC
        self.l2_per_n = l2 / n_train
        if optimizer.name == "adam":
            self.rule = ADAM
        elif optimizer.momentum == 0:
            self.rule = PLAIN
        else:
            self.rule = NESTEROV if optimizer.nesterov else MOMENTUM
        sizes, m = network.sizes, batch_size
        self.batch_size = batch_size
        self.zs = tuple(np.empty((m, k), dtype) for k in sizes[1:])
        self.activations = tuple(np.empty((m, k), dtype) for k in sizes[1:])
        self.deltas = tuple(np.empty((m, k), dtype) for k in sizes[1:])
        self.dropped = [np.empty((m, k), dtype) for k in sizes[1:-1]]
        self.nabla_w = tuple(np.empty((o, i), dtype) for i, o in zip(sizes, sizes[1:]))
        self.nabla_b = tuple(np.empty(o, dtype) for o in sizes[1:])
        self.X_batch = np.empty((m, sizes[0]), dtype)
        chosen, parts = self.form = form(sizes, m, SOFTMAX in self.kinds[:-1], dropout)
        # Start numba's threads now: a loop loaded from the cache does not start them for
        # the parallel kernels it calls, which then crash (numba issue #8578).
        get_num_threads()
        self.whole_loop = chosen != "step"
        self.split = None            # (bounds, buffers) when the whole loop is split over cores
        if chosen == "split":
            self.split = (unit_bounds(sizes, parts), np.empty((parts, m, sizes[0]), dtype),
                          np.empty((parts, m, sizes[-1]), dtype),
                          np.empty((2, parts, m, max(sizes[1:-1])), dtype))
        self._cached_state = None
        self._views = {}
        self._grads = [g for pair in zip(self.nabla_w, self.nabla_b) for g in pair]

    # ---- optimizer state, where the NumPy optimizers keep it ------------------------
    def _state(self):
        """(params, state): the parameter arrays and the optimizer's, cached while they stay the same arrays."""
        network, optimizer = self.network, self.optimizer
        cached = self._cached_state
        if (cached is not None and cached[0][0] is network.weights[0]
                and cached[2] is (optimizer.m if self.rule == ADAM else getattr(optimizer, "velocities", None))):
            return cached[0], cached[1]
        params, state = self._find_state()
        kept = optimizer.m if self.rule == ADAM else getattr(optimizer, "velocities", None)
        self._cached_state = (params, state, kept)
        return params, state

    def _find_state(self):
        network, optimizer = self.network, self.optimizer
        params = [p for pair in zip(network.weights, network.biases) for p in pair]
        if self.rule == ADAM:
            if optimizer.m is None:
                optimizer.m = [np.zeros_like(p) for p in params]
                optimizer.v = [np.zeros_like(p) for p in params]
            return params, optimizer.m + optimizer.v
        if self.rule in (MOMENTUM, NESTEROV):
            if optimizer.velocities is None:
                optimizer.velocities = [np.zeros_like(p) for p in params]
            return params, optimizer.velocities
        return params, []

    def _hyper(self, eta):
        o = self.optimizer
        values = [eta, getattr(o, "momentum", 0.0), self.l2_per_n,
                  getattr(o, "beta1", 0.0), getattr(o, "beta2", 0.0), getattr(o, "epsilon", 0.0)]
        return np.array(values, self.dtype)

    # ---- whole runs of mini-batches -------------------------------------------------
    def run(self, X, Y, labels, order, first, last, eta, outputs):
        """Mini-batches first..last-1 of ``order``; returns (how many were done, whether the
        last of them diverged, Σ_x C_x, the correct count) (see epoch.py)."""
        network = self.network
        params, state = self._state()
        t = self.optimizer.t if self.rule == ADAM else 0
        if labels is None:
            labels = np.empty(0, np.int64)
        if self.split is not None:
            bounds, X_parts, partial_z, partial_deltas = self.split
            state2d = tuple(s.reshape(1, -1) if s.ndim == 1 else s for s in (state or self._grads))
            with blas.one_thread(every_thread=True):
                done, diverged, cost, correct = train_split(
                    X, Y, labels, order, first, last, self.zs[0].shape[0], tuple(network.weights),
                    tuple(network.biases), self.kinds, self.alphas, self.cost, self.rule,
                    self._hyper(eta), state2d, t, bounds, X_parts, self.zs, self.activations,
                    self.deltas, partial_z, partial_deltas, self.nabla_w, self.nabla_b, outputs)
            if self.rule == ADAM:
                self.optimizer.t += done
            return done, diverged, float(cost), int(correct)
        state2d = tuple(s.reshape(1, -1) if s.ndim == 1 else s for s in state) or (self.nabla_w[0],)
        with nullcontext() if self.form[0] == "threaded" else blas.one_thread():
            done, diverged, cost, correct = train_batches(
                X, Y, labels, order, first, last, self.zs[0].shape[0], tuple(network.weights),
                tuple(network.biases), self.kinds, self.alphas, self.cost, self.rule,
                self._hyper(eta), state2d, t, self.X_batch, self.zs, self.activations,
                self.deltas, self.nabla_w, self.nabla_b, outputs, O.PARALLEL_SIZE)
        if self.rule == ADAM:
            self.optimizer.t += done
        return done, diverged, float(cost), int(correct)

    # ---- the epoch's training cost and accuracy ----------------------------------------
    def tally(self, z, Y, rows, labels):
        """(Σ_x C_x, correct count) of the outputs z of examples ``rows`` (see tally.py)."""
        if labels is None:
            labels = np.empty(0, np.int64)
        cost, correct = tally(z, Y, rows, labels, self.kinds[-1], self.alphas[-1], self.cost)
        return float(cost), int(correct)

    # ---- one mini-batch ---------------------------------------------------------------
    def step(self, X, Y, rows, eta, masks=None):
        """One mini-batch: forward, BP1-BP4, L2 and the update. Returns its z^L (a buffer)."""
        network, kinds, alphas = self.network, self.kinds, self.alphas
        m = len(rows)
        weights, biases = network.weights, network.biases
        L = len(weights)
        views = self._views.get(m)
        if views is None:  # the buffers cut to m rows, once per mini-batch size
            views = self._views[m] = ([z[:m] for z in self.zs], [a[:m] for a in self.activations],
                                      [d[:m] for d in self.deltas], self.X_batch[:m],
                                      [d[:m] for d in self.dropped])
        zs, acts, deltas, X_batch, dropped = views
        a = X_batch
        gather_rows(X, rows, a)
        inputs = [a]
        for l in range(L):                                   # z^l = a^(l-1) (w^l)^T (+ b^l below)
            z = zs[l]
            gemm(0, 1, 1.0, a, weights[l], 0.0, z)
            if l < L - 1:
                a = acts[l]
                K.bias_activation(z, biases[l], a, kinds[l], alphas[l])
                if masks is not None and masks[l] is not None:
                    a = np.multiply(a, masks[l], out=dropped[l])
                inputs.append(a)
        C.output_delta(zs[L - 1], biases[L - 1], acts[L - 1], Y, rows, kinds[L - 1],
                       alphas[L - 1], self.cost, deltas[L - 1], self.nabla_b[L - 1])  # the kernel of BP1, BP3
        for l in range(L - 1, -1, -1):
            delta = deltas[l]
            gemm(1, 0, 1.0, delta, inputs[l], 0.0, self.nabla_w[l])              # the product of BP4
            if l:
                g = deltas[l - 1]
                gemm(0, 0, 1.0, delta, weights[l], 0.0, g)
                if masks is not None and masks[l - 1] is not None:
                    K.multiply(g, masks[l - 1])
                K.vjp_sum(zs[l - 1], acts[l - 1], g, kinds[l - 1], alphas[l - 1],
                          self.nabla_b[l - 1])                                         # the kernel of BP2, BP3
        self._update(m, eta)
        return zs[L - 1]

    def _update(self, m, eta):
        params, state = self._state()
        grads = self._grads
        dtype = self.dtype.type
        shrink = dtype(self.l2_per_n * m)
        zero = dtype(0)
        rule, n_params = self.rule, len(params)
        rate, mu = dtype(eta / m), dtype(getattr(self.optimizer, "momentum", 0.0))
        beta1 = beta2 = step_size = epsilon_hat = zero
        if rule == ADAM:
            o = self.optimizer
            o.t += 1
            step_size, epsilon_hat = map(dtype, O.adam_scalars(eta, o.epsilon, o.beta1, o.beta2, o.t))
            beta1, beta2, rate = dtype(o.beta1), dtype(o.beta2), dtype(1.0 / m)   # Adam's scale
        for p, (w, g) in enumerate(zip(params, grads)):
            s = shrink if p % 2 == 0 else zero                   # L2 shrinks weights, not biases
            s1 = g if rule == PLAIN else state[p]                # (plain SGD keeps no state)
            s2 = state[n_params + p] if rule == ADAM else s1
            O.apply_rule(rule, w, g, s1, s2, rate, mu, s, beta1, beta2, step_size, epsilon_hat,
                         w.size >= O.PARALLEL_SIZE)
