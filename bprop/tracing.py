"""One step of backpropagation with every intermediate number kept, for learners.

``trace(network, x, y, learning_rate)`` runs one gradient-descent step of a small
network and returns a ``Trace``: z^l and a^l of every neuron, the cost C and ∇_a C,
δ^L by BP1, each δ^l by BP2, ∂C/∂b by BP3 and ∂C/∂w by BP4, the updated parameters
w - η ∂C/∂w and b - η ∂C/∂b, a finite-difference estimate beside every gradient and,
for one chosen weight, the book's "sum over paths" (``tracing_paths.py``).

Layers are numbered as in the equations of a tutorial: the input is a^0 = x and the
weight layers are l = 1..L, so w^l_jk joins neuron k of layer l-1 to neuron j of layer
l (neurons counted from 0). ``Network`` counts its weight lists from 0: ``w^l`` here is
``network.weights[l - 1]``.

The step runs in float64 on a copy; the network itself is not changed. δ stays one row
per example and the 1/m mean of a mini-batch is taken in BP3 and BP4, as in
``Network.backprop``.
"""
import dataclasses
import json
import re

import numpy as np

from bprop import validation
from bprop.finite_differences import central_difference, mean_cost
from bprop.errors import InputError

MAX_PATHS = 1000  # per example; beyond this the path list is not kept, only its size
_INNERMOST_LIST = re.compile(r"\[\s+([^\[\]{}\"]*?)\s+\]")   # a list of numbers, spread over lines by indent


@dataclasses.dataclass
class LayerTrace:
    """Every number of weight layer l (1..L) in the step; arrays have one row per example.

    ``upstream`` is what BP1/BP2 multiply by σ'(z^l): ∇_a C at the output layer and
    (w^(l+1))^T δ^(l+1) below it. ``sigma_prime`` is None for softmax, whose
    ``jacobian`` ∂a_j/∂z_k (one matrix per example) is kept instead.
    """

    activation: str
    w: np.ndarray            # w^l, (n_l, n_(l-1))
    b: np.ndarray            # b^l, (n_l,)
    z: np.ndarray            # z^l = w^l a^(l-1) + b^l, (m, n_l)
    a: np.ndarray            # a^l = σ(z^l), (m, n_l)
    sigma_prime: object      # σ'(z^l), (m, n_l), or None for softmax
    jacobian: object         # ∂a^l/∂z^l, (m, n_l, n_l), softmax only, else None
    upstream: np.ndarray     # ∇_a C (l = L) or (w^(l+1))^T δ^(l+1), (m, n_l)
    delta: np.ndarray        # δ^l, (m, n_l)                          BP1 / BP2
    nabla_b: np.ndarray      # ∂C/∂b^l = (1/m) Σ_x δ^l_x                BP3
    nabla_w: np.ndarray      # ∂C/∂w^l = (1/m) Σ_x δ^l_x (a^(l-1)_x)^T  BP4
    fd_b: np.ndarray         # central finite differences of ∂C/∂b^l
    fd_w: np.ndarray         # central finite differences of ∂C/∂w^l
    w_new: np.ndarray        # w^l - η ∂C/∂w^l
    b_new: np.ndarray        # b^l - η ∂C/∂b^l


@dataclasses.dataclass
class Path:
    """One path from w^l_jk to the cost: the neurons it passes and its rate factors.

    ``neurons[i]`` is the neuron of layer l + i (``neurons[0]`` = j). ``output`` is the
    output activation a^L_output it ends in (for softmax it may differ from the last
    neuron, whose z feeds every a^L). Each factor is ``{"factor": kind, "index": [...],
    "value": v}`` with kind one of ``a`` (∂z^l_j/∂w^l_jk = a^(l-1)_k), ``sigma_prime``
    (σ'(z^q_p)), ``w`` (∂z^q_p/∂a^(q-1)_r = w^q_pr), ``jacobian`` (∂a^L_m/∂z^L_p, softmax)
    and ``cost_gradient`` (∂C/∂a^L_m).
    """

    neurons: list
    output: int
    factors: list
    product: float


@dataclasses.dataclass
class PathSum:
    """∂C/∂w^l_jk as the sum over every path from the weight to the cost (Nielsen ch. 2).

    ``paths[i]`` lists example i's paths and ``sums[i]`` their sum; ``total`` is the mean
    of ``sums`` over the mini-batch, which equals ``bp4``. When a weight has more than
    ``MAX_PATHS`` paths, ``paths``, ``sums`` and ``total`` are None and only ``count`` is kept.
    """

    weight: tuple            # (l, j, k)
    count: int               # paths per example
    paths: object
    sums: object
    total: object
    bp4: float


@dataclasses.dataclass
class Trace:
    """One step of backpropagation, every number; see ``trace``.

    ``render(format, precision)`` writes it as ``text``, ``markdown``, ``latex`` or ``json``;
    ``save_picture(path)`` draws the network; ``to_json`` / ``from_json`` round-trip it
    exactly.
    """

    sizes: list
    cost: str                # "quadratic" or "cross_entropy"
    fused: bool              # BP1 computed as a^L - y (sigmoid or softmax with cross-entropy)
    learning_rate: float     # η
    epsilon: float           # ε of the finite differences
    single: bool             # x was one example (1-D)
    x: np.ndarray            # a^0, (m, n_0)
    y: np.ndarray            # targets, (m, n_L)
    costs: np.ndarray        # C_x, one per example
    delta_general: np.ndarray  # BP1's product ∇_a C ⊙ σ'(z^L) (softmax: (∂a/∂z)^T ∇_a C), unfused
    cost_value: float        # C = (1/m) Σ_x C_x
    cost_after: float        # C with the updated parameters
    layers: list             # LayerTrace for l = 1..L
    paths: PathSum
    forward_passes: dict     # {"backprop": 1, "backward_passes": 1, "finite_differences": 2P}

    @property
    def m(self):
        """Examples in the mini-batch."""
        return len(self.x)

    @property
    def n_parameters(self):
        return sum(layer.w.size + layer.b.size for layer in self.layers)

    def render(self, format="text", precision=4):
        """The trace as a string: ``text`` (aligned tables), ``markdown``, ``latex`` or ``json``."""
        from bprop.tracing_render import render

        return render(self, format, precision)

    def save_picture(self, path, precision=3, example=0):
        """Draw the network with its numbers to ``path`` (``.png`` or ``.svg``)."""
        from bprop.tracing_picture import save_picture

        save_picture(self, path, precision=precision, example=example)

    def paths_for(self, weight):
        """The sum over paths for another weight ``(l, j, k)`` of this trace."""
        from bprop.tracing_paths import sum_over_paths

        return sum_over_paths(self, _weight(weight, self.sizes), MAX_PATHS)

    def __str__(self):
        return self.render("text")

    def to_dict(self):
        """Plain JSON-able values; floats are Python floats, so ``json`` keeps every bit."""
        return {"format": "bprop.trace", "version": 1, **_plain(self)}

    def to_json(self):
        """``to_dict`` as JSON text, one row of numbers a line; ``Trace.from_json`` reads it back exactly."""
        text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False)
        return _INNERMOST_LIST.sub(lambda match: "[" + re.sub(r",\s+", ", ", match.group(1)) + "]", text)

    @classmethod
    def from_dict(cls, data):
        """The Trace that ``to_dict`` gave ``data``; the inverse of ``to_dict``, bit for bit."""
        if not isinstance(data, dict) or data.get("format") != "bprop.trace":
            raise InputError("not a bprop trace: expected a JSON object with \"format\": \"bprop.trace\"")
        try:
            fields = {f.name: data[f.name] for f in dataclasses.fields(cls)}
            for name in ("x", "y", "costs", "delta_general"):
                fields[name] = _array(fields[name])
            fields["layers"] = [LayerTrace(**{f.name: layer[f.name] if f.name == "activation" else _array(layer[f.name])
                                              for f in dataclasses.fields(LayerTrace)})
                                for layer in fields["layers"]]
            paths = dict(fields["paths"], weight=tuple(fields["paths"]["weight"]))
            if paths["paths"] is not None:
                paths["paths"] = [[Path(**path) for path in example] for example in paths["paths"]]
            fields["paths"] = PathSum(**paths)
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(f"not a complete bprop trace ({type(error).__name__}: {error})") from None
        return cls(**fields)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))


def trace(network, x, y, learning_rate, weight=None, epsilon=1e-5):
    """One step of gradient descent on (x, y), with every intermediate number.

    Parameters
    ----------
    network : Network
        Any size, but meant for small ones; it is not changed (the step runs in float64
        on a copy).
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
    from bprop.tracing_paths import sum_over_paths

    if not isinstance(network, Network):
        raise InputError(f"trace needs a bprop.Network; got {type(network).__name__}")
    twin = Network(network.sizes, network.activations, network.cost.name, dtype="float64")
    twin.set_parameters(network.weights, network.biases)
    X, Y, single = _examples(x, y, twin)
    eta = validation.positive(learning_rate, "learning_rate")
    epsilon = validation.positive(epsilon, "epsilon")
    weight = _weight((1, 0, 0) if weight is None else weight, twin.sizes)
    m, L = len(X), twin.n_layers

    zs, activations, _ = twin._forward(X, twin._workspace(m))  # z^l = w^l a^(l-1) + b^l, a^l = σ(z^l)
    zs, activations = [z.copy() for z in zs], [X] + [a.copy() for a in activations[1:]]
    costs = twin.cost.value(zs[-1], activations[-1], Y)

    upstream, deltas, sigma_primes = [None] * L, [None] * L, [None] * L
    nabla_w, nabla_b = [None] * L, [None] * L
    upstream[L - 1] = twin.cost.gradient(activations[-1], Y)                      # ∇_a C
    deltas[L - 1] = twin.cost.output_delta(zs[-1], activations[-1], Y)            # BP1
    delta_general = twin.activations[-1].vjp(zs[-1], activations[-1], upstream[L - 1])  # BP1, unfused
    for i in range(L - 1, -1, -1):   # i = l - 1, the Network's index of layer l
        sigma = twin.activations[i]
        if sigma.elementwise:
            sigma_primes[i] = sigma.prime(zs[i], activations[i + 1])
        nabla_b[i] = deltas[i].mean(axis=0)                                        # BP3
        nabla_w[i] = deltas[i].T @ activations[i] / m                              # BP4
        if i > 0:
            upstream[i - 1] = deltas[i] @ twin.weights[i]                          # (w^(l+1))^T δ^(l+1)
            deltas[i - 1] = twin.activations[i - 1].vjp(zs[i - 1], activations[i], upstream[i - 1])  # BP2
    fd_w, fd_b, fd_passes = _finite_differences(twin, X, Y, epsilon)

    layers = []
    for i in range(L):
        sigma = twin.activations[i]
        jacobian = None if sigma.elementwise else np.stack([sigma.jacobian(row) for row in activations[i + 1]])
        layers.append(LayerTrace(
            activation=sigma.name, w=twin.weights[i].copy(), b=twin.biases[i].copy(),
            z=zs[i], a=activations[i + 1], sigma_prime=sigma_primes[i], jacobian=jacobian,
            upstream=upstream[i], delta=deltas[i], nabla_b=nabla_b[i], nabla_w=nabla_w[i],
            fd_b=fd_b[i], fd_w=fd_w[i],
            w_new=twin.weights[i] - eta * nabla_w[i], b_new=twin.biases[i] - eta * nabla_b[i]))
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


def _weight(weight, sizes):
    """``(l, j, k)`` checked against the network: 1 <= l <= L, j < n_l, k < n_(l-1)."""
    try:
        l, j, k = (int(v) for v in weight)
        if any(int(v) != v for v in weight):
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"weight must be three integers (l, j, k) for w^l_jk; got {weight!r}") from None
    L = len(sizes) - 1
    if not 1 <= l <= L:
        raise InputError(f"weight layer l = {l} is outside 1..{L} (layers count from 1; the input is a^0)")
    if not (0 <= j < sizes[l] and 0 <= k < sizes[l - 1]):
        raise InputError(
            f"w^{l}_jk needs 0 <= j < {sizes[l]} and 0 <= k < {sizes[l - 1]} (neurons count from 0); "
            f"got j = {j}, k = {k}")
    return (l, j, k)


def _finite_differences(network, X, Y, epsilon):
    """∂C/∂p ≈ (C(p + ε) - C(p - ε)) / 2ε for every parameter, and the forward passes spent."""
    fd_w, fd_b, passes = [], [], 0
    for params, out in ((network.weights, fd_w), (network.biases, fd_b)):
        for p_array in params:
            p, estimate = p_array.reshape(-1), np.empty(p_array.size)
            for i in range(p.size):
                estimate[i] = central_difference(network, X, Y, p, i, epsilon)
                passes += 2
            out.append(estimate.reshape(p_array.shape))
    return fd_w, fd_b, passes


def _plain(value):
    """Dataclasses, arrays and NumPy scalars as dicts, nested lists and Python numbers."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _array(value):
    return None if value is None else np.array(value, dtype=np.float64)
