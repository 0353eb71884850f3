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
import itertools
import math


def sum_over_paths(trace, weight, max_paths):
    """A ``PathSum`` for ``weight = (l, j, k)`` of ``trace`` (at most ``max_paths`` listed)."""
    from bprop.tracing import Path, PathSum

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
