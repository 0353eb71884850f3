"""What the page asks for, checked: a data set, a network and training options, within limits.

The page sends one JSON object (the same one it keeps in its URL)::

    {"data": {"name": "circles", "n": 400, "noise": 0.1, "validation": 0.5, "seed": 0},
     "network": {"hidden": [4, 4], "activations": ["tanh", "tanh"], "output": "sigmoid",
                 "cost": "cross_entropy", "init": "auto"},
     "training": {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.0, "batch_size": 10,
                  "l2": 0.0, "dropout": 0.0, "seed": 0, "speed": 20}}

Missing keys take the defaults below; ``speed`` (epochs per second, 0 for as fast as it
goes) is the page's own, the other training options are ``bprop.options.TRAINING``'s. Here only shapes, names and limits are checked
(so no request can ask for more memory than the limits allow); the values themselves
are checked by the library's own validation when the network and trainer are built.
"""
import copy
import math

from bprop.errors import InputError

MAX_HIDDEN_LAYERS = 6
MAX_NEURONS = 256          # per hidden layer
MAX_BATCH_SIZE = 1000
MAX_SPEED = 10_000         # epochs per second when throttled; 0 means as fast as it goes

TOY = ("circles", "xor", "gaussians", "spiral")
IMAGES = ("digits", "mnist", "fashion-mnist")

DEFAULT = {
    "data": {"name": "circles", "n": 400, "noise": 0.1, "validation": 0.5, "seed": 0},
    "network": {"hidden": [4, 4], "activations": ["tanh", "tanh"], "output": "sigmoid",
                "cost": "cross_entropy", "init": "auto"},
    "training": {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.0, "batch_size": 10,
                 "l2": 0.0, "dropout": 0.0, "seed": 0, "speed": 20},
}


def parse(raw):
    """The page's configuration merged over ``DEFAULT``, with shapes and limits checked."""
    if raw is None:
        raw = {}
    _object(raw, "the configuration")
    unknown = sorted(set(raw) - set(DEFAULT))
    if unknown:
        raise InputError(f"unknown configuration section {unknown[0]!r}; the sections are data, network, training")
    config = copy.deepcopy(DEFAULT)
    for section, defaults in DEFAULT.items():
        given = raw.get(section, {})
        _object(given, section)
        unknown = sorted(set(given) - set(defaults))
        if unknown:
            raise InputError(f"unknown {section} option {unknown[0]!r}; known: {', '.join(defaults)}")
        config[section].update(given)
    _check_data(config["data"])
    _check_network(config["network"])
    _check_training(config["training"])
    return config


def _object(value, name):
    if not isinstance(value, dict):
        raise InputError(f"{name} must be a JSON object; got {type(value).__name__}")


def _check_data(data):
    name = data["name"]
    if not isinstance(name, str) or not (name in TOY or name in IMAGES or name.startswith("upload:")):
        raise InputError(f"unknown data set {name!r}; choose one of {', '.join(TOY + IMAGES)} "
                         f"or upload a CSV file")
    data["n"] = _integer(data["n"], "data n")
    for key in ("noise", "validation"):
        data[key] = _number(data[key], f"data {key}")
    data["seed"] = _integer(data["seed"], "data seed")


def _check_network(network):
    hidden, activations = network["hidden"], network["activations"]
    if not isinstance(hidden, list) or len(hidden) > MAX_HIDDEN_LAYERS:
        raise InputError(f"hidden must be a list of at most {MAX_HIDDEN_LAYERS} layer sizes")
    network["hidden"] = [_integer(n, "a hidden layer size") for n in hidden]
    if any(not 1 <= n <= MAX_NEURONS for n in network["hidden"]):
        raise InputError(f"each hidden layer has 1 to {MAX_NEURONS} neurons")
    if isinstance(activations, str):
        activations = network["activations"] = [activations] * len(hidden)
    if not isinstance(activations, list) or len(activations) != len(hidden):
        raise InputError(f"activations must name one activation per hidden layer ({len(hidden)})")
    for key in ("output", "cost", "init"):
        if not isinstance(network[key], str):
            raise InputError(f"network {key} must be a name; got {network[key]!r}")
    if not all(isinstance(name, str) for name in activations):
        raise InputError("each hidden layer's activation must be a name")


def _check_training(training):
    from bprop import options

    if not isinstance(training["optimizer"], str):
        raise InputError("optimizer must be a name: sgd or adam")
    for key in ("learning_rate", "momentum", "l2", "dropout"):
        training[key] = _number(training[key], key)
    training["batch_size"] = _integer(training["batch_size"], "batch_size")
    if not 1 <= training["batch_size"] <= MAX_BATCH_SIZE:
        raise InputError(f"batch_size must be 1 to {MAX_BATCH_SIZE}; got {training['batch_size']}")
    training["seed"] = _integer(training["seed"], "training seed")
    options.check({key: value for key, value in training.items() if key != "speed"})  # the one table's checks
    training["speed"] = _number(training["speed"], "speed")
    if not 0 <= training["speed"] <= MAX_SPEED:
        raise InputError(f"speed is epochs per second, 0 (as fast as it goes) to {MAX_SPEED}")


def _number(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def _integer(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or abs(value) > 2**31 or value != int(value):
        raise InputError(f"{name} must be a whole number; got {value!r}")
    return int(value)
