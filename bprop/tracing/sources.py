"""Where a trace's network and example come from: a JSON file, a built-in example, or a seed.

A trace file is one JSON object::

    {"sizes": [2, 3, 2, 1], "activations": ["sigmoid", "sigmoid", "sigmoid"],
     "cost": "quadratic",
     "weights": [[[0.1, -0.2], ...], ...],   # w^l, one (n_l, n_(l-1)) matrix per layer
     "biases": [[0.1, -0.1, 0.2], ...],      # b^l, one vector per layer
     "input": [0.5, 1.0],                    # one example, or a list of them
     "target": [1.0],                        # a class index, a 0/1 label or a target row (or one per example)
     "eta": 0.5}                             # optional, the learning rate η (default 0.5)

``activation`` (one name for every layer) may replace ``activations``; ``learning_rate``
may replace ``eta``; ``weight`` ([l, j, k]) chooses the sum-over-paths weight and
``description`` is shown by ``bprop trace --list-examples``. The built-in examples in
``bprop/examples/`` are such files.
"""
import json
import math
import os
import typing
from importlib import resources

import numpy as np

from bprop.errors import InputError

DEFAULT_LEARNING_RATE = 0.5
REQUIRED = ("sizes", "weights", "biases", "input", "target")
OPTIONAL = ("activations", "activation", "cost", "eta", "learning_rate", "weight", "description")


class Problem(typing.NamedTuple):
    """A network with one example (or mini-batch) to trace, and the step's learning rate."""

    network: object
    x: object
    y: object
    learning_rate: float
    weight: object = None
    description: str = ""


def example_names():
    """Names of the built-in examples, sorted."""
    folder = resources.files("bprop") / "examples"
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".json"))


def example(name):
    """The built-in example called ``name`` (see ``example_names``)."""
    names = example_names()
    if name not in names:
        raise InputError(f"unknown example {name!r}; expected one of {', '.join(names)}")
    text = (resources.files("bprop") / "examples" / f"{name}.json").read_text(encoding="utf-8")
    return from_spec(json.loads(text), f"example {name}")


def read_spec(path):
    """The Problem described by the JSON file at ``path``."""
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory, not a network description; give the .json file")
    with open(path, "rb") as file:
        raw = file.read()
    try:
        spec = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a JSON text file (it is not UTF-8)") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise InputError(f"{path} is nested too deeply to describe a network") from None
    return from_spec(spec, str(path))


def from_spec(spec, source="the trace file"):
    """The Problem described by a dict of the file format above; ``source`` names it in errors."""
    from bprop.network import Network

    if not isinstance(spec, dict):
        raise InputError(f"{source} must hold a JSON object with keys {', '.join(REQUIRED)}; "
                         f"got a {type(spec).__name__}")
    unknown = sorted(set(spec) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise InputError(f"{source} has unknown key {unknown[0]!r}; the keys are "
                         f"{', '.join(REQUIRED + OPTIONAL)}")
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise InputError(f"{source} has no {missing[0]!r}; a trace file needs {', '.join(REQUIRED)}")
    activations = spec.get("activations", spec.get("activation", "sigmoid"))
    try:
        network = Network(spec["sizes"], activations, spec.get("cost", "quadratic"), dtype="float64")
    except InputError as error:
        raise InputError(f"{source}: {error}") from None
    sizes = network.sizes
    weights = _arrays(spec["weights"], "weights", [(n_out, n_in) for n_in, n_out in zip(sizes, sizes[1:])], source)
    biases = _arrays(spec["biases"], "biases", [(n,) for n in sizes[1:]], source)
    network.set_parameters(weights, biases)
    eta = spec.get("eta", spec.get("learning_rate", DEFAULT_LEARNING_RATE))
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not math.isfinite(eta) or eta <= 0:
        raise InputError(f"{source}: eta, the learning rate, must be a number > 0; got {eta!r}")
    description = spec.get("description", "")
    return Problem(network, _numbers(spec["input"], "input", source), _numbers(spec["target"], "target", source),
                   float(eta), spec.get("weight"), description if isinstance(description, str) else "")


def seeded(sizes, activation="sigmoid", output_activation=None, cost="quadratic", init=None,
           seed=0, batch=1, learning_rate=DEFAULT_LEARNING_RATE):
    """A network initialised with ``init`` and ``seed``, its weights and biases rounded to two
    decimals so a hand calculation stays short, and ``batch`` random examples with targets."""
    from bprop.network import Network

    n_layers = len(sizes) - 1
    if output_activation is None:
        output_activation = ("softmax" if cost == "cross_entropy" and sizes[-1] > 1
                             else "sigmoid" if cost == "cross_entropy" else activation)
    network = Network(sizes, [activation] * (n_layers - 1) + [output_activation], cost, init=init,
                      dtype="float64", seed=seed)
    network.set_parameters([np.round(w, 2) for w in network.weights], [np.round(b, 2) for b in network.biases])
    rng = np.random.default_rng([seed, 1])  # a stream of its own, apart from the weights'
    X = np.round(rng.uniform(-1, 1, (batch, sizes[0])), 2)
    n_out = sizes[-1]
    if network.is_classifier:
        y = rng.integers(0, n_out if n_out > 1 else 2, batch)
    else:
        y = np.round(rng.uniform(-1, 1, (batch, n_out)), 2)
    if batch == 1:
        return Problem(network, X[0], y[0], learning_rate)
    return Problem(network, X, y, learning_rate)


def _arrays(values, key, shapes, source):
    """Each entry of ``values`` as a float64 array of the expected shape."""
    if not isinstance(values, list) or len(values) != len(shapes):
        raise InputError(f"{source}: {key} must be a list of {len(shapes)} arrays, one per weight layer")
    arrays = []
    for l, (value, shape) in enumerate(zip(values, shapes), 1):
        array = _numbers(value, f"{key}[{l - 1}] (layer {l})", source)
        if array.shape != shape:
            raise InputError(f"{source}: {key}[{l - 1}] (layer {l}) must have shape {shape}; got {array.shape}")
        arrays.append(array)
    return arrays


def _numbers(value, name, source):
    try:
        array = np.array(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise InputError(f"{source}: {name} must be numbers in a regular (not ragged) nested list") from None
    if not np.isfinite(array).all():
        raise InputError(f"{source}: {name} contains NaN or infinite values")
    return array
