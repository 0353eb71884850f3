"""Backprop checked against finite differences.

For each parameter p the central difference (Nielsen's equation 46, made symmetric)

    ∂C/∂p ≈ (C(p + ε) - C(p - ε)) / 2ε

costs two forward passes; backprop gets every ∂C/∂p from one forward and one backward
pass. The comparison runs in float64 on a copy of the network.
"""
import numpy as np

from bprop import validation


def gradcheck(network, X, Y, epsilon=1e-5, max_params=None, seed=0):
    """Compare ``network.backprop`` with central finite differences, layer by layer.

    Parameters
    ----------
    network : Network (any dtype; the check runs on a float64 copy).
    X, Y : a mini-batch and its targets, as for ``backprop``.
    epsilon : float, the step ε.
        The default balances the difference's truncation error, O(ε²), against rounding
        in float64, about 1e-16 |C| / ε: a smaller ε lets rounding alone exceed a
        relative error of 1e-7 wherever gradients are small (deep sigmoid layers).
    max_params : int, optional
        Check at most this many parameters per weight matrix / bias vector, chosen at
        random with ``seed``; by default all of them.

    Returns
    -------
    dict with
        ``layers``: per weight layer l, ``{"weights": err, "biases": err}`` where err is the
        relative error ‖g_bp - g_fd‖ / (‖g_bp‖ + ‖g_fd‖) over the checked entries;
        ``max_relative_error``: the largest of those;
        ``checked``: number of parameters compared;
        ``forward_passes``: ``{"backprop": 1, "finite_differences": 2 * checked}``
        (backprop also makes one backward pass).
    """
    twin = network.copy(dtype="float64")   # its activation objects: a leaky slope reaches BP1 too
    X = validation.inputs(X, twin.sizes[0], twin.dtype)
    Y, _ = validation.targets(Y, len(X), twin.sizes[-1], twin.dtype, twin.is_classifier,
                              cost=twin.cost)
    epsilon = validation.positive(epsilon, "epsilon")

    nabla_w, nabla_b = twin.backprop(X, Y)
    rng = np.random.default_rng(seed)

    def choose(size):
        if max_params is None or size <= max_params:
            return np.arange(size)
        return np.sort(rng.choice(size, max_params, replace=False))

    fd_w, fd_b = central_differences(twin, X, Y, epsilon, choose)
    layers, checked = [], 0
    for l in range(twin.n_layers):
        errors = {}
        for kind, grads, estimates in (("weights", nabla_w, fd_w), ("biases", nabla_b, fd_b)):
            indices, g_fd = estimates[l]
            errors[kind] = _relative_error(grads[l].reshape(-1)[indices], g_fd)
            checked += len(indices)
        layers.append(errors)
    return {
        "layers": layers,
        "max_relative_error": max(max(e.values()) for e in layers),
        "checked": checked,
        "forward_passes": {"backprop": 1, "finite_differences": 2 * checked},
    }


def central_differences(network, X, Y, epsilon, choose=None):
    """∂C/∂p ≈ (C(p + ε) - C(p - ε)) / 2ε for the weights and biases of every layer.

    The one finite-difference routine: ``gradcheck`` and ``bprop.trace`` both call it.

    Parameters
    ----------
    network : Network, float64 for a useful estimate; each parameter is moved and restored.
    X, Y : a checked mini-batch in the network's dtype and its target rows.
    epsilon : float, the step ε.
    choose : callable, optional
        ``choose(size)`` gives the indices of a flattened weight matrix or bias vector to
        estimate (called for w^l, then b^l, layer by layer); by default all of them.

    Returns
    -------
    (fd_w, fd_b): per layer, a pair ``(indices, estimates)`` for the flattened w^l and b^l.
    Each estimate costs two forward passes.
    """
    fd_w, fd_b = [], []
    for w, b in zip(network.weights, network.biases):
        for params, out in ((w, fd_w), (b, fd_b)):
            p = params.reshape(-1)   # a view: moving p[i] moves the network's parameter
            indices = np.arange(p.size) if choose is None else choose(p.size)
            out.append((indices, np.array([_central_difference(network, X, Y, p, i, epsilon) for i in indices],
                                          dtype=np.float64)))
    return fd_w, fd_b


def _central_difference(network, X, Y, p, i, epsilon):
    """(C(p_i + ε) - C(p_i - ε)) / 2ε for entry i of the flat parameter view p; p is restored."""
    saved = p[i]
    p[i] = saved + epsilon
    cost_plus = mean_cost(network, X, Y)
    p[i] = saved - epsilon
    cost_minus = mean_cost(network, X, Y)
    p[i] = saved
    return (cost_plus - cost_minus) / (2 * epsilon)


def mean_cost(network, X, Y):
    """C = (1/m) Σ_x C_x over the mini-batch, by one forward pass."""
    workspace = network.forward(X, network.workspace(len(X)))
    return float(network.cost.value(workspace.zs[-1], workspace.activations[-1], Y).mean())


def _relative_error(a, b):
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)
