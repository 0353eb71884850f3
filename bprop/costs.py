"""Cost functions C, each with its gradient ∇_a C beside it, and BP1.

Costs are per example; a mini-batch's cost is the mean over its rows. Y holds one
target row per example (a one-hot row for a class label).

BP1 lives here: δ^L = ∇_a C ⊙ σ'(z^L), computed by ``output_delta``. When the output
activation and the cost pair up (sigmoid with binary cross-entropy, softmax with
categorical cross-entropy) the product simplifies to δ^L = a^L - y, which is both
cheaper and numerically stable; those pairs use it.
"""
import numpy as np

from bprop.activations import Sigmoid, Softmax


def _clip_open_unit(a):
    """a moved inside (0, 1) by the smallest step the dtype allows, so log a and 1/a stay finite."""
    tiny = np.finfo(a.dtype).tiny
    return np.clip(a, tiny, 1.0 - np.finfo(a.dtype).epsneg)


class Cost:
    name = None
    fused_with = None  # the activation class whose pairing gives δ^L = a - y

    def __init__(self, activation):
        self.activation = activation
        self.fused = self.fused_with is not None and isinstance(activation, self.fused_with)

    def check_targets(self, Y, name="y"):
        """Raise InputError if the target rows Y are outside what this cost is defined for."""

    def output_delta(self, z, a, Y, out=None):
        """BP1: δ^L = ∇_a C ⊙ σ'(z^L), one row per example (a^L - y where the pair fuses)."""
        if self.fused:
            return np.subtract(a, Y, out=out)  # BP1, fused: δ^L = a^L - y
        return self.general_output_delta(z, a, Y, out=out)

    def general_output_delta(self, z, a, Y, out=None):
        """BP1 as the product ∇_a C ⊙ σ'(z^L) (through σ's Jacobian for softmax), even for a
        pair that fuses to a^L - y: what the trace shows beside the fused δ^L."""
        return self.activation.vjp(z, a, self.gradient(a, Y), out=out)  # BP1

    def __repr__(self):
        return f"{type(self).__name__}()"


class Quadratic(Cost):
    """C = ½ ‖y - a‖²  (Nielsen's equation 6, per example);  ∇_a C = a - y."""

    name = "quadratic"

    def value(self, z, a, Y):
        diff = a - Y
        return 0.5 * np.einsum("ij,ij->i", diff, diff)

    def gradient(self, a, Y):
        return a - Y


class BinaryCrossEntropy(Cost):
    """C = -Σ_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]  (Nielsen's equation 63).

    ∇_a C = (a - y) / (a (1 - a)); with a sigmoid output, δ^L = a - y. The value is
    computed from z as Σ_j [softplus(z_j) - y_j z_j], which is the same number without
    taking the log of 0 when a sigmoid saturates.
    """

    name = "cross_entropy"
    fused_with = Sigmoid

    def value(self, z, a, Y):
        if self.fused:
            softplus = np.logaddexp(0, z)  # ln(1 + e^z), never overflows
            return np.sum(softplus - Y * z, axis=1)
        a = _clip_open_unit(a)
        return -np.sum(Y * np.log(a) + (1 - Y) * np.log1p(-a), axis=1)

    def gradient(self, a, Y):
        a = _clip_open_unit(a)
        return (a - Y) / (a * (1 - a))

    def check_targets(self, Y, name="y"):
        if ((Y < 0) | (Y > 1)).any():
            from bprop.errors import InputError

            raise InputError(f"{name} must lie in [0, 1] for binary cross-entropy; "
                             f"found {Y[(Y < 0) | (Y > 1)][0]:g}")


class CategoricalCrossEntropy(Cost):
    """C = -Σ_j y_j ln a_j, the log-likelihood of the true class  (Nielsen's equation 80).

    ∇_a C = -y / a; with a softmax output, δ^L = a - y. The value is computed from z as
    Σ_j y_j (logsumexp(z) - z_j), which equals -Σ y_j ln softmax(z)_j without its log 0.
    """

    name = "cross_entropy"
    fused_with = Softmax

    def value(self, z, a, Y):
        if self.fused:
            zmax = z.max(axis=1, keepdims=True)
            log_sum_exp = zmax + np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))
            return np.sum(Y * (log_sum_exp - z), axis=1)
        return -np.sum(Y * np.log(_clip_open_unit(a)), axis=1)

    def gradient(self, a, Y):
        return -Y / _clip_open_unit(a)

    def check_targets(self, Y, name="y"):
        """δ^L = a - y holds only when each target row is a distribution: y ≥ 0, Σ_j y_j = 1."""
        sums = Y.sum(axis=1)
        tolerance = 1e-3 if Y.dtype == np.float32 else 1e-9
        if (Y < 0).any() or (np.abs(sums - 1) > tolerance).any():
            from bprop.errors import InputError

            raise InputError(f"{name} rows must be class probabilities (≥ 0, summing to 1) for "
                             "softmax with cross-entropy, e.g. one-hot rows or class indices; "
                             f"found a row summing to {sums[np.argmax(np.abs(sums - 1))]:g}")


COSTS = ("quadratic", "cross_entropy")


def get(name, output_activation):
    """The cost called ``name`` for a network whose output layer is ``output_activation``.

    ``cross_entropy`` is the binary form for a sigmoid output and the categorical form
    (log-likelihood) for a softmax output.
    """
    from bprop.errors import InputError

    if isinstance(name, Cost):
        return name
    if name == "quadratic":
        return Quadratic(output_activation)
    if name == "cross_entropy":
        if isinstance(output_activation, Softmax):
            return CategoricalCrossEntropy(output_activation)
        if isinstance(output_activation, Sigmoid):
            return BinaryCrossEntropy(output_activation)
        raise InputError(
            f"cost 'cross_entropy' needs a sigmoid or softmax output layer, not "
            f"{output_activation.name!r}; use cost='quadratic' or change the output activation"
        )
    raise InputError(f"unknown cost {name!r}; expected one of {', '.join(COSTS)}")
