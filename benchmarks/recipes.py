"""The recipes of issues 7 and 14, their arithmetic, and the targets the report checks.

A recipe is a plain dict, so it travels to a worker subprocess as JSON unchanged.
"""
import numpy as np

RECIPES = {
    "A": {
        "title": "the book",
        "sizes": [784, 30, 10],
        "activations": ["sigmoid", "sigmoid"],
        "cost": "quadratic",
        "init": "large",
        "optimizer": "sgd",
        "learning_rate": 3.0,
        "momentum": 0.0,
        "batch_size": 10,
        "dtype": "float64",
    },
    "B": {
        "title": "modern small",
        "sizes": [784, 100, 10],
        "activations": ["relu", "softmax"],
        "cost": "cross_entropy",
        "init": "he",
        "optimizer": "sgd",
        "learning_rate": 0.05,
        "momentum": 0.9,
        "batch_size": 128,
        "dtype": "float32",
    },
    "C": {
        "title": "wide, Adam",
        "sizes": [784, 512, 512, 10],
        "activations": ["relu", "relu", "softmax"],
        "cost": "cross_entropy",
        "init": "he",
        "optimizer": "adam",
        "learning_rate": 0.001,
        "momentum": 0.0,
        "batch_size": 128,
        "dtype": "float32",
    },
    "C-sgd": {
        "title": "wide, momentum SGD",
        "sizes": [784, 512, 512, 10],
        "activations": ["relu", "relu", "softmax"],
        "cost": "cross_entropy",
        "init": "he",
        "optimizer": "sgd",
        "learning_rate": 0.05,
        "momentum": 0.9,
        "batch_size": 128,
        "dtype": "float32",
    },
}

# Recipe D: recipe B on Fashion-MNIST until this test accuracy.
TIME_TO_ACCURACY = {"recipe": "B", "target_accuracy": 0.85, "max_epochs": 30}

ALL_RECIPES = ["A", "B", "C", "C-sgd", "D"]
IMPLEMENTATIONS = ["bprop", "bprop_numpy", "torch", "jax_step", "jax_scan", "jax_scan_gather",
                   "sklearn", "per_example", "matmul_floor", "matmul_floor_numpy", "bprop_whole"]
JAX_VARIANTS = ["jax_step", "jax_scan", "jax_scan_gather"]
FLOOR_VARIANTS = ["matmul_floor", "matmul_floor_numpy"]  # the floor: the faster of the two
COMPETITORS = ["torch", "jax", "sklearn", "per_example"]  # "jax": the fastest JAX variant of the run
D_IMPLEMENTATIONS = ["bprop", "torch", "jax_step", "jax_scan", "jax_scan_gather"]  # bprop: kernels="auto"

# Issue 14's targets: competitor time / bprop time at least this much.
SPEED_TARGETS = {
    "A": {"jax": 2.0, "torch": 5.0, "sklearn": 3.0, "per_example": 10.0},
    "B": {"jax": 1.2, "torch": 1.8, "sklearn": 1.8},
    "C": {"jax": 1.1, "torch": 1.4},
    "C-sgd": {"jax": 1.1, "torch": 1.4},
}
FLOOR_TARGET = {"A": 1.4, "B": 1.3, "C": 1.2, "C-sgd": 1.2}  # bprop time / matmul-floor time at most
D_TARGET = 1.0  # every competitor's time to 85% / bprop's at least (ahead of every competitor)
MEMORY_TARGET = 1.3  # (data set + training's extra RSS) / (data + parameters + one batch's activations) at most
IMPORT_TARGET = 0.2  # import bprop / import torch at most


def n_weights(sizes):
    return sum(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def n_parameters(sizes):
    return n_weights(sizes) + sum(sizes[1:])


def matmul_flops_per_example(sizes):
    """The exact multiply-add count of one example's forward and backward pass, times 2.

    Forward z = a w^T, BP4's nabla_w = delta^T a and BP2's delta w for every layer but
    the first (no gradient with respect to the input): 2 n_in n_out each.
    """
    shapes = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * n_in * n_out for n_in, n_out in shapes)
    nabla_w = forward
    delta = sum(2 * n_in * n_out for n_in, n_out in shapes[1:])
    return forward + nabla_w + delta


def memory_budget_bytes(recipe, n_train):
    """Data set + parameters + one mini-batch's activations (z and a per layer, and the input)."""
    itemsize = np.dtype(recipe["dtype"]).itemsize
    sizes, m = recipe["sizes"], recipe["batch_size"]
    data = n_train * sizes[0] * itemsize + n_train * np.dtype(np.int64).itemsize
    parameters = n_parameters(sizes) * itemsize
    activations = m * (sizes[0] + 2 * sum(sizes[1:])) * itemsize
    return {"data": data, "parameters": parameters, "batch_activations": activations,
            "total": data + parameters + activations}


def shuffles(seed):
    """The generator of the mini-batch orders bprop's ``fit(seed=seed)`` trains on: NumPy's
    ``default_rng(seed)``, one ``permutation(n)`` per epoch.

    PyTorch and JAX draw their orders from it too, so in recipe D every library trains on
    the same orders from the same initial parameters, and epochs-to-target no longer
    depend on whose shuffle happened to be luckier (common random numbers).
    """
    return np.random.default_rng(seed)


def initial_parameters(recipe, seed):
    """Weights (n_out, n_in) and biases (n_out,) at the recipe's init scale, for competitors.

    ``large``: the book's chapter-1 w, b ~ N(0, 1).  ``he``: w ~ N(0, 2 / n_in), b = 0.
    (bprop draws its own, from the same distributions, by the same names.)
    """
    rng = np.random.default_rng(seed)
    dtype = np.dtype(recipe["dtype"])
    weights, biases = [], []
    for n_in, n_out in zip(recipe["sizes"][:-1], recipe["sizes"][1:]):
        if recipe["init"] == "large":
            w = rng.standard_normal((n_out, n_in))
            b = rng.standard_normal(n_out)
        elif recipe["init"] == "he":
            w = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
            b = np.zeros(n_out)
        else:
            raise ValueError(f"unknown init {recipe['init']!r}")
        weights.append(w.astype(dtype))
        biases.append(b.astype(dtype))
    return weights, biases
