"""One step of gradient descent on a small network, with every number the core computed.

``trace(network, x, y, learning_rate)`` asks the core for one backprop pass
(``Network.backprop_pass``: z^l and a^l of every neuron, δ^L by BP1, each δ^l by BP2,
∂C/∂b by BP3 and ∂C/∂w by BP4) and adds only what a learner is shown on top of it:
the cost of each example, ∇_a C, σ'(z^l) (the softmax Jacobian), the weighted error
(w^(l+1))^T δ^(l+1) that BP2 multiplies by σ'(z^l), the updated parameters w - η ∂C/∂w
and b - η ∂C/∂b with the cost after them, the finite-difference estimate beside every
gradient (``bprop.finite_differences``) and, for one chosen weight, the book's
"sum over paths" (``paths.py``).

Layers are numbered as in the equations of a tutorial: the input is a^0 = x and the
weight layers are l = 1..L, so w^l_jk joins neuron k of layer l-1 to neuron j of layer
l (neurons counted from 0). ``Network`` counts its weight lists from 0: ``w^l`` here is
``network.weights[l - 1]``.

The step runs in float64 on a copy; the network itself is not changed. δ stays one row
per example and the 1/m mean of a mini-batch is taken in BP3 and BP4, as in
``Network.backprop``.
"""
import numpy as np

from bprop import memory, validation
from bprop.errors import InputError
from bprop.finite_differences import central_differences, mean_cost
from bprop.tracing.paths import MAX_PATHS, checked_weight, sum_over_paths
from bprop.tracing.record import LayerTrace, Trace

# Every gradient is checked by finite differences, two forward passes per parameter, so a
# trace's work grows with the square of the parameter count: MNIST's [784, 100, 10]
# (79,510) takes seconds, [3000, 3000, 3000] (18 million) would take days.
MAX_PARAMETERS = 200_000


def trace(network, x, y, learning_rate, weight=None, epsilon=1e-5):
    """One step of gradient descent on (x, y), with every intermediate number.

    Parameters
    ----------
    network : Network
        Meant for small ones, up to ``MAX_PARAMETERS`` weights and biases; it is not
        changed (the step runs in float64 on a copy).
    x : array, shape (n_0,) for one example or (m, n_0) for a mini-batch.
    y : its target: a class index, a 0/1 label, or a target row (one per example).
    learning_rate : float, η of the update w -> w - η ∂C/∂w.
    weight : (l, j, k), optional
        The weight w^l_jk whose sum over paths is listed (layers 1..L, neurons from 0).
        Default ``(1, 0, 0)``, the first layer's w_00: the one with the most paths.
    epsilon : float, the step ε of the central differences (C(p + ε) - C(p - ε)) / 2ε.

    Returns
    -------
    Trace
    """
    from bprop.network import Network

    if not isinstance(network, Network):
        raise InputError(f"trace needs a bprop.Network; got {type(network).__name__}")
    n_parameters = memory.parameter_count(network.sizes)
    if n_parameters > MAX_PARAMETERS:
        raise InputError(
            f"the network has {n_parameters:,} weights and biases; a trace checks each gradient "
            f"with two forward passes, so it takes networks of at most {MAX_PARAMETERS:,} "
            "(the book's [784, 30, 10] has 23,860)")
    twin = network.copy(dtype="float64")
    X, Y, single = _examples(x, y, twin)
    eta = validation.positive(learning_rate, "learning_rate")
    epsilon = validation.positive(epsilon, "epsilon")
    weight = checked_weight((1, 0, 0) if weight is None else weight, twin.sizes)

    core = twin.backprop_pass(X, Y)   # z, a, δ (BP1, BP2), ∂C/∂b (BP3), ∂C/∂w (BP4): the core's own pass
    zs, activations, deltas, L = core.zs, core.activations, core.deltas, twin.n_layers
    z_out, a_out = zs[-1], activations[-1]
    costs = twin.cost.value(z_out, a_out, Y)                                     # C_x
    # Shown on top of the pass: the factors BP1 and BP2 multiply, index i = l - 1.
    upstream = [deltas[i + 1] @ twin.weights[i + 1] for i in range(L - 1)]      # (w^(l+1))^T δ^(l+1)
    upstream.append(twin.cost.gradient(a_out, Y))                                 # ∇_a C
    delta_general = twin.cost.general_output_delta(z_out, a_out, Y)             # the unfused product
    fd_w, fd_b = central_differences(twin, X, Y, epsilon)                          # (indices, estimates) per layer
    fd_passes = 2 * sum(len(indices) for indices, _ in fd_w + fd_b)

    layers = []
    for i, sigma in enumerate(twin.activations):
        a = activations[i + 1]
        w_new = twin.weights[i] - eta * core.nabla_w[i]                          # w - η ∂C/∂w
        b_new = twin.biases[i] - eta * core.nabla_b[i]                           # b - η ∂C/∂b
        layers.append(LayerTrace(
            activation=sigma.name, w=twin.weights[i].copy(), b=twin.biases[i].copy(), z=zs[i], a=a,
            sigma_prime=sigma.prime(zs[i], a) if sigma.elementwise else None,
            jacobian=None if sigma.elementwise else np.stack([sigma.jacobian(row) for row in a]),
            upstream=upstream[i], delta=deltas[i], nabla_b=core.nabla_b[i], nabla_w=core.nabla_w[i],
            fd_b=fd_b[i][1].reshape(b_new.shape), fd_w=fd_w[i][1].reshape(w_new.shape),
            w_new=w_new, b_new=b_new))
    twin.set_parameters([layer.w_new for layer in layers], [layer.b_new for layer in layers])
    result = Trace(
        sizes=list(twin.sizes), cost=twin.cost.name, fused=bool(twin.cost.fused),
        learning_rate=eta, epsilon=epsilon, single=single, x=X.copy(), y=Y.copy(),
        costs=costs, delta_general=delta_general, cost_value=float(costs.mean()), cost_after=mean_cost(twin, X, Y),
        layers=layers, paths=None,
        forward_passes={"backprop": 1, "backward_passes": 1, "finite_differences": fd_passes})
    result.paths = sum_over_paths(result, weight, MAX_PATHS)
    return result


def _examples(x, y, network):
    """(X, Y, single): one example per row, targets as rows; ``single`` when x was 1-D."""
    n_in, n_out = network.sizes[0], network.sizes[-1]
    try:
        x_array = np.asarray(x)
    except (ValueError, TypeError) as error:
        raise InputError(f"x is not a numeric array: {error}") from None
    single = x_array.ndim == 1
    if single:
        try:
            y_array = np.asarray(y)
        except (ValueError, TypeError) as error:
            raise InputError(f"y is not a numeric array: {error}") from None
        if y_array.ndim == 0 or (y_array.ndim == 1 and len(y_array) == n_out and n_out > 1):
            y = y_array[None]        # a class index / label, or one target row
        elif y_array.ndim == 1 and len(y_array) == 1 and n_out == 1:
            y = y_array              # one target value
        else:
            raise InputError(
                f"x is one example, so y must be a class index, a 0/1 label or a target row of "
                f"{n_out} values; got shape {y_array.shape}")
        if x_array.shape[0] != n_in:
            raise InputError(f"x has {x_array.shape[0]} values but the network's input layer expects {n_in}")
        x_array = x_array[None]
    X = validation.inputs(x_array, n_in, np.float64, name="x")
    Y, _ = validation.targets(y, len(X), n_out, np.float64, network.is_classifier, name="y", cost=network.cost)
    return X, Y, single
