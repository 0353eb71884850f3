"""Activation functions σ, each with its derivative beside it.

Every activation is applied element-wise, a = σ(z), except softmax, whose output
depends on the whole row. Backprop never needs σ' as a matrix of its own: it needs
the product of an upstream gradient g = ∂C/∂a with the Jacobian ∂a/∂z (a
vector-Jacobian product). For an element-wise σ that product is g ⊙ σ'(z), the ⊙ of
BP1 and BP2; for softmax it is the full Jacobian applied row by row.

Each class has three methods:

- ``forward(z, out)``: a = σ(z), written into ``out`` (which may be ``z`` itself only
  when ``z`` is no longer needed);
- ``prime(z, a)``: σ'(z), computed from the cached a where that is cheaper;
- ``vjp(z, a, g, out)``: ∂C/∂z = g ⊙ σ'(z) (``out`` may be ``g``).

All arithmetic stays in the dtype of its inputs (float32 stays float32).
"""
import numpy as np


class Activation:
    """Base class: element-wise activations get ``vjp`` from ``prime``."""

    name = None
    elementwise = True

    def __call__(self, z):
        return self.forward(z, np.empty_like(z))

    def vjp(self, z, a, g, out=None):
        """∂C/∂z = ∂C/∂a ⊙ σ'(z): the Hadamard product of BP1 and BP2."""
        return np.multiply(g, self.prime(z, a), out=out)

    def parameters(self):
        """The activation's own parameters (``{}`` for most), as saved with a model."""
        return {}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """σ(z) = 1 / (1 + e^(-z));  σ'(z) = σ(z) (1 - σ(z)), from the cached a = σ(z).

    Computed as written. Below z = -709 (float64; -88.7 in float32) e^(-z) overflows to
    ∞ and σ(z) comes out 0, within the dtype's smallest number of its true value; far out
    on either side e^(-z) or σ(z) underflows. Both are expected, so neither is reported.
    """

    name = "sigmoid"

    def forward(self, z, out):
        np.negative(z, out=out)
        with np.errstate(over="ignore", under="ignore"):
            np.exp(out, out=out)                  # e^(-z)
            out += 1.0
            return np.reciprocal(out, out=out)    # 1 / (1 + e^(-z))

    def prime(self, z, a):
        return a * (1.0 - a)

    def vjp(self, z, a, g, out=None):
        out = np.multiply(g, a, out=out)
        out *= 1.0 - a
        return out


class Tanh(Activation):
    """σ(z) = tanh z;  σ'(z) = 1 - tanh² z = 1 - a²."""

    name = "tanh"

    def forward(self, z, out):
        return np.tanh(z, out=out)

    def prime(self, z, a):
        return 1.0 - a * a


class ReLU(Activation):
    """σ(z) = max(0, z);  σ'(z) = 1 where z > 0, else 0 (the subgradient 0 at z = 0)."""

    name = "relu"

    def forward(self, z, out):
        return np.maximum(z, 0, out=out)

    def prime(self, z, a):
        return (z > 0).astype(z.dtype)

    def vjp(self, z, a, g, out=None):
        return np.multiply(g, z > 0, out=out)      # g ⊙ σ'(z), σ'(z) = [z > 0]


class LeakyReLU(Activation):
    """σ(z) = z for z > 0, else αz (α = 0.01 unless given, 0 ≤ α < 1);  σ'(z) = 1 for z > 0, else α."""

    name = "leaky_relu"

    def __init__(self, alpha=0.01):
        from bprop import validation

        self.alpha = validation.non_negative(alpha, "the leaky ReLU's slope alpha", upper=1, upper_open=True)

    def parameters(self):
        return {"alpha": self.alpha}

    def forward(self, z, out):
        if np.may_share_memory(z, out):  # αz into out would overwrite the z still needed
            return np.maximum(z, self.alpha * z, out=out)
        np.multiply(z, self.alpha, out=out)
        return np.maximum(z, out, out=out)

    def prime(self, z, a):
        return np.where(z > 0, 1.0, self.alpha).astype(z.dtype)

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Identity(Activation):
    """σ(z) = z;  σ'(z) = 1. The output layer of a regression network."""

    name = "identity"

    def forward(self, z, out):
        if out is not z:
            np.copyto(out, z)
        return out

    def prime(self, z, a):
        return np.ones_like(z)

    def vjp(self, z, a, g, out=None):
        if out is None:
            return g.copy()
        if out is not g:
            np.copyto(out, g)
        return out


class Softmax(Activation):
    """a_j = e^(z_j) / Σ_k e^(z_k), row by row (an output layer).

    Its Jacobian is not diagonal: ∂a_j/∂z_k = a_j (δ_jk - a_k). Backprop applies it
    to an upstream gradient g = ∂C/∂a without forming it, one row per example:

        ∂C/∂z_k = Σ_j g_j a_j (δ_jk - a_k) = a_k (g_k - Σ_j g_j a_j).

    So softmax works with any cost; with cross-entropy the product simplifies to
    a - y, which the cost uses directly (see ``costs.py``).
    """

    name = "softmax"
    elementwise = False

    def forward(self, z, out):
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)  # shift: e^z never overflows
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def prime(self, z, a):
        raise TypeError(
            "softmax has a full Jacobian, not an element-wise derivative; use vjp(z, a, g)"
        )

    def jacobian(self, a_row):
        """∂a_j/∂z_k = a_j (δ_jk - a_k) for one example (a 1-D row); for tests and traces."""
        return np.diag(a_row) - np.outer(a_row, a_row)

    def vjp(self, z, a, g, out=None):
        inner = np.einsum("ij,ij->i", g, a)[:, None]  # Σ_j g_j a_j, one per row
        out = np.subtract(g, inner, out=out)
        out *= a
        return out


ACTIVATIONS = {
    cls.name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity, Softmax)
}


def get(name, parameters=None):
    """The activation called ``name``, built with ``parameters`` (e.g. ``{"alpha": 0.2}``).

    Raises InputError naming the choices for an unknown name or parameter.
    """
    if isinstance(name, Activation):
        return name
    from bprop.errors import InputError

    try:
        cls = ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise InputError(
            f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}"
        ) from None
    try:
        return cls(**(parameters or {}))
    except TypeError:
        raise InputError(f"{name} takes no parameters {sorted(parameters)}") from None
