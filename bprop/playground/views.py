"""The numbers the page draws, computed by the network itself, packed small for the wire.

Every function here takes a ``Network`` and asks it: its forward pass for the activations
of every layer (heat maps, a drawn digit), ``evaluate`` for the curves, ``predict`` for a
confusion matrix, ``backprop`` for ∂C/∂w. Nothing is recomputed here; values are only
rounded or scaled to bytes for the page.
"""
import base64

import numpy as np

GRID = 48                 # heat-map resolution: GRID × GRID points over the data's square
MAX_DRAWN_WEIGHTS = 4096  # a layer with more weights is not sent for drawing edge by edge
MAX_IMAGES = 32           # first-layer neurons shown as images


def layer_activations(network, X):
    """[a^0 = X, a^1, ..., a^L] for the rows of X, from the network's own forward pass."""
    X = np.ascontiguousarray(X, dtype=network.dtype)
    workspace = network.forward(X, network.workspace(len(X)))
    return [X] + [a.copy() for a in workspace.activations[1:]]


def to_bytes(values, activation):
    """Values scaled to [-1, 1] for the page's colour scale, as base64 of one byte each.

    Sigmoid and softmax outputs map 0 → -1, ½ → 0, 1 → 1 (so white is the decision
    boundary); tanh is already in [-1, 1]; anything unbounded is divided by its largest |value|.
    """
    values = np.asarray(values, dtype=np.float64)
    if activation in ("sigmoid", "softmax"):
        scaled = 2.0 * values - 1.0
    elif activation == "tanh":
        scaled = values
    else:
        peak = float(np.abs(values).max()) if values.size else 0.0
        scaled = values / peak if peak > 0 else values
    return base64.b64encode(np.round((np.clip(scaled, -1, 1) + 1) * 127.5).astype(np.uint8).tobytes()).decode()


def grid_points(extent, grid=GRID):
    """The heat map's points, row by row from the top (y = extent[1]) to the bottom."""
    lo, hi = extent
    xs = np.linspace(lo, hi, grid)
    ys = np.linspace(hi, lo, grid)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


def heat_maps(network, extent, grid=GRID):
    """Every neuron of every layer over the plane: ``layers[l][j]`` is a^l_j as bytes (l = 0: the inputs)."""
    activations = layer_activations(network, grid_points(extent, grid))
    maps = [[to_bytes(activations[0][:, k], "identity") for k in range(activations[0].shape[1])]]
    for sigma, a in zip(network.activations, activations[1:]):
        maps.append([to_bytes(a[:, j], sigma.name) for j in range(a.shape[1])])
    return {"grid": grid, "extent": list(extent), "layers": maps}


def output_map(network, extent, grid=GRID):
    """The output's decision map alone: P(class 1) for one sigmoid unit or a 2-way softmax."""
    activations = layer_activations(network, grid_points(extent, grid))
    a = activations[-1]
    column = a[:, 0] if a.shape[1] == 1 else a[:, 1]
    return to_bytes(column, "sigmoid")


def extent_of(X, margin=0.15):
    """A square around the 2-D points with a margin, as (lo, hi) for both axes."""
    lo, hi = float(X.min()), float(X.max())
    pad = margin * (hi - lo or 1.0)
    return (round(lo - pad, 3), round(hi + pad, 3))


def parameters(network, limit=MAX_DRAWN_WEIGHTS):
    """Weights and biases for drawing, rounded; a layer too big to draw edge by edge is None."""
    weights = [None if w.size > limit else np.round(w.astype(np.float64), 4).tolist() for w in network.weights]
    biases = [np.round(b.astype(np.float64), 4).tolist() if b.size <= limit else None for b in network.biases]
    return {"weights": weights, "biases": biases}


def gradients(network, X, y, limit=MAX_DRAWN_WEIGHTS):
    """∂C/∂w of the mean cost over the mini-batch (X, y), by backprop, for drawing."""
    nabla_w, nabla_b = network.backprop(X, y)
    return [None if g.size > limit else np.round(g.astype(np.float64), 6).tolist() for g in nabla_w]


def confusion(network, X, labels, n_classes):
    """counts[i][j]: examples of class i the network puts in class j."""
    predicted = np.asarray(network.predict(X)).astype(np.int64)
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (labels, np.clip(predicted, 0, n_classes - 1)), 1)
    return counts.tolist()


def first_layer_images(network, image_shape, limit=MAX_IMAGES):
    """The first layer's incoming weights of up to ``limit`` neurons as images (bytes, ±max → ±1)."""
    w = network.weights[0][:limit]
    return {"shape": list(image_shape),
            "images": [to_bytes(row, "weights") for row in w]}
