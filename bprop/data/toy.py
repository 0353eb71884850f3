"""Two-dimensional toy data sets, made up on the spot: circles, XOR, two Gaussians, a spiral.

The points lie in about [-1, 1]², two classes, as in TensorFlow Playground: small enough
to train in a blink and to draw a network's decision region over. ``noise`` scales a
Gaussian jitter of the points (0 gives clean classes, 0.5 a lot of overlap).
"""
import numpy as np

from bprop import validation
from bprop.data.dataset import Dataset
from bprop.errors import DataError

__all__ = ["TOY_SETS", "MAX_EXAMPLES", "make_toy"]

TOY_SETS = {
    "circles": "a disc of one class inside a ring of the other",
    "xor": "the four quadrants, opposite ones alike: not linearly separable",
    "gaussians": "two Gaussian blobs: a straight line separates them",
    "spiral": "two interleaved spirals: needs a few layers",
}
MAX_EXAMPLES = 20_000


def make_toy(name, n=400, noise=0.1, validation_fraction=0.5, seed=0):
    """A toy set of ``n`` points in the plane, split into training and validation examples.

    Parameters
    ----------
    name : {"circles", "xor", "gaussians", "spiral"}
    n : int, total number of points (both splits), 4 .. MAX_EXAMPLES.
    noise : float in [0, 1], standard deviation of the jitter, in units of half the square.
    validation_fraction : float in [0, 0.9], the share of points held out for validation.
    seed : int, seeds the points and the split; the same arguments give the same set.

    Returns
    -------
    Dataset with class names "0" and "1" (labels half and half) and no test split.
    """
    if name not in TOY_SETS:
        raise DataError(f"unknown toy data set {name!r}; choose one of {', '.join(TOY_SETS)}")
    n = validation.positive_int(n, "n")
    if not 4 <= n <= MAX_EXAMPLES:
        raise DataError(f"a toy set has 4 to {MAX_EXAMPLES} points; got n = {n}")
    noise = validation.non_negative(noise, "noise", upper=1)
    validation_fraction = validation.non_negative(validation_fraction, "validation_fraction", upper=0.9)
    seed = validation.seed(seed)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = _MAKERS[name](rng, y)
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(n)
    X, y = X[order].astype(np.float32), y[order].astype(np.int64)
    n_validation = min(int(round(validation_fraction * n)), n - 2)
    cut = n - n_validation
    train, held_out = (X[:cut], y[:cut]), ((X[cut:], y[cut:]) if n_validation else None)
    return Dataset(name, train, held_out, None, class_names=["0", "1"],
                   source=f"bprop.data.toy: {TOY_SETS[name]}")


def _circles(rng, y):
    radius = np.where(y == 0, rng.uniform(0.0, 0.45, len(y)), rng.uniform(0.65, 1.0, len(y)))
    angle = rng.uniform(0.0, 2 * np.pi, len(y))
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


def _xor(rng, y):
    magnitude = rng.uniform(0.1, 1.0, (len(y), 2))       # away from the axes, where classes meet
    sign_x = rng.choice([-1.0, 1.0], len(y))
    sign_y = np.where(y == 1, sign_x, -sign_x)           # class 1: x and y of the same sign
    return magnitude * np.column_stack([sign_x, sign_y])


def _gaussians(rng, y):
    centre = np.where(y[:, None] == 1, 0.5, -0.5)
    return centre + 0.25 * rng.standard_normal((len(y), 2))


def _spiral(rng, y):
    t = rng.uniform(0.0, 1.0, len(y))
    radius = 0.05 + 0.95 * t
    angle = 1.75 * 2 * np.pi * t + np.pi * y
    return np.column_stack([radius * np.sin(angle), radius * np.cos(angle)])


_MAKERS = {"circles": _circles, "xor": _xor, "gaussians": _gaussians, "spiral": _spiral}
