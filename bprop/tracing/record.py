"""The record of one traced step: every number of every layer, and its exact JSON form.

``bprop.tracing.step.trace`` fills a ``Trace``; ``render`` writes it as text, Markdown,
LaTeX or JSON, ``save_picture`` draws it, and ``to_json`` / ``from_json`` round-trip it
bit for bit. Layers are numbered l = 1..L as in the book: ``layers[l - 1]`` is layer l.
"""
import dataclasses
import json
import re

import numpy as np

from bprop.errors import InputError
from bprop.tracing.paths import MAX_PATHS, Path, PathSum, sum_over_paths
from bprop.tracing.picture import save_picture
from bprop.tracing.render import render

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
class Trace:
    """One step of backpropagation, every number; see ``trace``.

    ``render(format, precision)`` writes it as ``text``, ``markdown``, ``latex`` or ``json``;
    ``save_picture(path)`` draws the network; ``to_json`` / ``from_json`` round-trip it
    exactly.
    """

    sizes: list
    cost: str                # "quadratic" or "cross_entropy"
    fused: bool              # δ^L computed as a^L - y (sigmoid or softmax with cross-entropy)
    learning_rate: float     # η
    epsilon: float           # ε of the finite differences
    single: bool             # x was one example (1-D)
    x: np.ndarray            # a^0, (m, n_0)
    y: np.ndarray            # targets, (m, n_L)
    costs: np.ndarray        # C_x, one per example
    delta_general: np.ndarray  # ∇_a C ⊙ σ'(z^L) (softmax: (∂a/∂z)^T ∇_a C), the unfused product of BP1
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
        return render(self, format, precision)

    def save_picture(self, path, precision=3, example=0):
        """Draw the network with its numbers to ``path`` (``.png`` or ``.svg``)."""
        save_picture(self, path, precision=precision, example=example)

    def paths_for(self, weight):
        """The sum over paths for another weight ``(l, j, k)`` of this trace."""
        return sum_over_paths(self, weight, MAX_PATHS)

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
        try:
            data = json.loads(text)
        except RecursionError:
            raise InputError("not a bprop trace: its JSON is nested too deeply") from None
        return cls.from_dict(data)


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
