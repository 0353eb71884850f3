"""The sum over paths (Nielsen, chapter 2, "Backpropagation: the big picture").

A small change of w^l_jk moves z^l_j, then a^l_j, then every z^(l+1)_p that a^l_j feeds,
and so on up to the cost. Along one path j -> p -> ... -> m the rate of change of C is
the product of the rate factors met on the way,

    ∂z^l_j/∂w^l_jk = a^(l-1)_k,   ∂a^q_p/∂z^q_p = σ'(z^q_p),   ∂z^(q+1)_r/∂a^q_p = w^(q+1)_rp,
    ...,   ∂C/∂a^L_m,

and ∂C/∂w^l_jk is the sum of these products over every path. A softmax output is not
element-wise: z^L_p reaches every a^L_m, through the Jacobian factor ∂a^L_m/∂z^L_p, so
each route through the network splits into one path per output m.

BP1-BP4 compute the same sum factored layer by layer; here it is summed path by path,
from the forward values alone, without BP2's δ, so the two can be compared.
"""
import dataclasses
import itertools
import math

from bprop.errors import InputError

MAX_PATHS = 1000  # per example; beyond this the path list is not kept, only its size


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


def checked_weight(weight, sizes):
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


def sum_over_paths(trace, weight, max_paths=MAX_PATHS):
    """A ``PathSum`` for ``weight = (l, j, k)`` of ``trace`` (at most ``max_paths`` listed)."""
    weight = checked_weight(weight, trace.sizes)
    l, j, k = weight
    layers = trace.layers
    softmax_output = layers[-1].jacobian is not None
    widths = trace.sizes[l + 1:]                              # neurons of layers l+1..L
    outputs = list(range(trace.sizes[-1])) if softmax_output else [None]
    count = math.prod(widths) * len(outputs)
    bp4 = float(layers[l - 1].nabla_w[j, k])
    if count > max_paths:
        return PathSum(weight=weight, count=count, paths=None, sums=None, total=None, bp4=bp4)
    paths, sums = [], []
    for i in range(trace.m):
        example = []
        for route in itertools.product(*(range(n) for n in widths)):
            neurons = [j, *route]
            for output in outputs:
                factors = _factors(trace, i, weight, neurons, output)
                product = 1.0
                for factor in factors:
                    product *= factor["value"]
                example.append(Path(neurons=neurons, output=neurons[-1] if output is None else output,
                                    factors=factors, product=product))
        paths.append(example)
        sums.append(sum(path.product for path in example))
    return PathSum(weight=weight, count=count, paths=paths, sums=sums,
                   total=sum(sums) / trace.m, bp4=bp4)


def _factors(trace, i, weight, neurons, output):
    """The rate factors of example i along the path through ``neurons`` (layers l..L)."""
    l, j, k = weight
    layers, L = trace.layers, len(trace.layers)
    a_below = trace.x if l == 1 else layers[l - 2].a
    factors = [_factor("a", [l - 1, k], a_below[i, k])]                       # ∂z^l_j/∂w^l_jk
    for q in range(l, L + 1):
        layer, p = layers[q - 1], neurons[q - l]
        if q > l:
            r = neurons[q - l - 1]
            factors.append(_factor("w", [q, p, r], layer.w[p, r]))             # ∂z^q_p/∂a^(q-1)_r
        if layer.jacobian is None:
            factors.append(_factor("sigma_prime", [q, p], layer.sigma_prime[i, p]))  # ∂a^q_p/∂z^q_p
        else:
            factors.append(_factor("jacobian", [q, output, p], layer.jacobian[i, output, p]))
    m_out = neurons[-1] if output is None else output
    factors.append(_factor("cost_gradient", [L, m_out], layers[-1].upstream[i, m_out]))  # ∂C/∂a^L_m
    return factors


def _factor(kind, index, value):
    return {"factor": kind, "index": list(index), "value": float(value)}
