"""The network: its parameters, the forward pass and backpropagation (BP1-BP4).

Notation is Nielsen's, in mini-batch form. Layer l (counted from 0 for the first
weight layer) has weights w^l of shape (n_out, n_in) -- w_jk connects neuron k of
the layer below to neuron j -- and biases b^l of shape (n_out,). A mini-batch is a
matrix with one example per row, so for m examples

    z^l = a^(l-1) (w^l)^T + b^l        (m, n_out): row i is w^l a^(l-1)_i + b^l
    a^l = σ(z^l)

with a^(-1) = X, the input. Backprop computes the gradient of the mean cost
C = (1/m) Σ_x C_x by the four equations:

    BP1  δ^L = ∇_a C ⊙ σ'(z^L)                     (in costs.py: Cost.output_delta)
    BP2  δ^l = (δ^(l+1) w^(l+1)) ⊙ σ'(z^l)          i.e. ((w^(l+1))^T δ^(l+1)) ⊙ σ'(z^l)
    BP3  ∂C/∂b^l = (1/m) Σ_x δ^l_x
    BP4  ∂C/∂w^l = (1/m) Σ_x δ^l_x (a^(l-1)_x)^T    = (δ^l)^T a^(l-1) / m

δ stays per example (one row each); the 1/m mean is taken in BP3 and BP4 (or, while
training, in the update w → w - (η/m) Σ_x ∂C_x/∂w, as the book writes it).
"""
import os

import numpy as np

from bprop import activations as _activations
from bprop import costs as _costs
from bprop import io, memory, validation
from bprop.errors import InputError, ModelFileError

INITS = ("large", "nielsen", "glorot", "he")
DTYPES = ("float32", "float64")


class Dense:
    """A fully connected layer of the layer-by-layer builder: ``Dense(n_in, n_out, activation)``."""

    def __init__(self, n_in, n_out, activation="sigmoid"):
        self.n_in = validation.positive_int(n_in, "n_in")
        self.n_out = validation.positive_int(n_out, "n_out")
        self.activation = activation

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}, {self.activation!r})"


class Network:
    """A feed-forward network of fully connected layers, trained by backpropagation.

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input first: ``[784, 30, 10]`` as in Nielsen's book.
    activation : str or list of str
        One name for every layer, or one per weight layer (``len(sizes) - 1`` names):
        ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``identity``, ``softmax``
        (softmax only as the output layer).
    cost : {"quadratic", "cross_entropy"}
        Cross-entropy is binary for a sigmoid output and categorical for softmax.
    init : {"large", "nielsen", "glorot", "he"}, optional
        ``large``: w, b ~ N(0, 1) (Nielsen ch. 1). ``nielsen``: w ~ N(0, 1/n_in),
        b ~ N(0, 1) (his ch. 3 default). ``glorot``: w ~ U(±sqrt(6/(n_in+n_out))), b = 0.
        ``he``: w ~ N(0, 2/n_in), b = 0. Default: ``he`` when the first hidden layer is a
        ReLU, otherwise ``nielsen``.
    dtype : {"float64", "float32"}
    seed : int, optional
        Seeds the initial weights and, unless ``fit`` is given its own, training.
    parameters : (weights, biases), optional
        Start from these arrays (shapes checked, values copied in ``dtype``) instead of
        drawing initial ones, as ``copy`` does.

    Attributes
    ----------
    weights : list of ndarray, ``weights[l]`` of shape (sizes[l+1], sizes[l])
    biases : list of ndarray, ``biases[l]`` of shape (sizes[l+1],)
    class_names : list of str or None
        ``class_names[k]`` names output class k ("Sneaker", "setosa"); saved with the model
        so ``bprop predict`` and ``evaluate`` print names. None: classes are their indices.
    image_format : bprop.images.ImageFormat or None
        How the training images were made (shape, the ink's box, centring), saved with the
        model so ``bprop predict`` prepares a picture the same way. None: not image data.
    """

    def __init__(self, sizes, activation="sigmoid", cost="quadratic", init=None,
                 dtype="float64", seed=None, *, parameters=None):
        sizes = list(sizes) if isinstance(sizes, (list, tuple, np.ndarray)) else sizes
        if not isinstance(sizes, list) or len(sizes) < 2:
            raise InputError(f"sizes must be a list of at least two layer sizes, like [784, 30, 10]; got {sizes!r}")
        self.sizes = [validation.positive_int(n, "each layer size") for n in sizes]
        n_layers = len(self.sizes) - 1
        names = [activation] * n_layers if isinstance(activation, str) else list(activation)
        if len(names) != n_layers:
            raise InputError(
                f"activation has {len(names)} names but the network has {n_layers} weight layers; "
                f"give one name for all or one per layer"
            )
        self.activations = [_activations.get(name) for name in names]
        names = [sigma.name for sigma in self.activations]
        for sigma in self.activations[:-1]:
            if not sigma.elementwise:
                raise InputError(f"{sigma.name} can only be the output layer's activation")
        if self.activations[-1].name == "softmax" and self.sizes[-1] == 1:
            raise InputError("softmax over a single output unit is always 1, so it cannot learn; use "
                             "one output unit per class, or sigmoid for one yes/no output")
        self.cost = _costs.get(cost, self.activations[-1])
        self.dtype = np.dtype(validation.choice(str(np.dtype(dtype)) if _is_dtype(dtype) else dtype,
                                                "dtype", DTYPES))
        if init is None:
            init = "he" if names[0] in ("relu", "leaky_relu") and n_layers > 1 else "nielsen"
        self.init = validation.choice(init, "init", INITS)
        self.seed = validation.seed(seed)
        memory.require(memory.parameter_count(self.sizes) * self.dtype.itemsize,
                       f"a network of sizes {self.sizes} ({memory.parameter_count(self.sizes):,} "
                       f"{self.dtype.name} weights and biases)", "choose smaller layers")
        if parameters is None:
            self.weights, self.biases = _initial_parameters(self.sizes, self.init, self.dtype,
                                                            np.random.default_rng(seed))
        elif isinstance(parameters, (tuple, list)) and len(parameters) == 2:
            self.set_parameters(*parameters)
        else:
            raise InputError("parameters must be a pair (weights, biases) of lists of arrays")
        self._workspaces = {}
        self.class_names = None
        self.image_format = None

    @classmethod
    def from_layers(cls, layers, cost="quadratic", init=None, dtype="float64", seed=None):
        """Build a network layer by layer: ``Network.from_layers([Dense(784, 100, "relu"), Dense(100, 10, "softmax")])``."""
        layers = list(layers)
        if not layers or not all(isinstance(layer, Dense) for layer in layers):
            raise InputError("from_layers needs a non-empty list of bprop.Dense layers")
        for below, above in zip(layers, layers[1:]):
            if above.n_in != below.n_out:
                raise InputError(
                    f"layer {above!r} takes {above.n_in} inputs but the layer below it gives {below.n_out}"
                )
        sizes = [layers[0].n_in] + [layer.n_out for layer in layers]
        return cls(sizes, [layer.activation for layer in layers], cost, init, dtype, seed)

    # ---- description -------------------------------------------------------------
    @property
    def n_layers(self):
        """Number of weight layers, L (one fewer than ``len(sizes)``)."""
        return len(self.sizes) - 1

    @property
    def is_classifier(self):
        """True when the output layer is sigmoid or softmax: outputs read as class scores."""
        return self.activations[-1].name in ("sigmoid", "softmax")

    def config(self):
        """The architecture as plain JSON-able values (what ``save`` records).

        ``activation_parameters`` (one dict per layer, e.g. a leaky ReLU's ``{"alpha": 0.2}``)
        is there when some layer's activation has parameters.
        """
        config = {
            "sizes": self.sizes,
            "activations": [sigma.name for sigma in self.activations],
            "cost": self.cost.name,
            "init": self.init,
            "dtype": self.dtype.name,
            "seed": self.seed,
        }
        parameters = [sigma.parameters() for sigma in self.activations]
        if any(parameters):
            config["activation_parameters"] = parameters
        return config

    def __repr__(self):
        return (f"Network({self.sizes}, activation={[s.name for s in self.activations]}, "
                f"cost={self.cost.name!r}, dtype={self.dtype.name!r})")

    # ---- forward -------------------------------------------------------------------
    def forward(self, X, workspace, masks=None):
        """z^l = w^l a^(l-1) + b^l and a^l = σ(z^l) for every layer, into ``workspace``.

        ``X`` must already be checked (a C-ordered array of ``self.dtype``, one example per
        row, as many rows as the workspace was made for): this is the hot path, it checks
        nothing. ``masks[l]``, when given, is hidden layer l's inverted-dropout mask: the
        next layer sees a^l ⊙ mask, and BP2 scales the gradient flowing back the same way.
        Returns the workspace, holding ``zs[l]`` = z^l, ``activations[l + 1]`` = a^l = σ(z^l)
        (``activations[0]`` is X) and ``inputs[l]``, what weight layer l multiplies (X first;
        a^(l-1) or its dropped-out copy).
        """
        zs, activations, inputs = workspace.zs, workspace.activations, workspace.inputs
        activations[0] = inputs[0] = a = X
        for l, (w, b, sigma) in enumerate(zip(self.weights, self.biases, self.activations)):
            z = np.matmul(a, w.T, out=zs[l])
            z += b                                            # z^l = w^l a^(l-1) + b^l
            a = sigma.forward(z, out=activations[l + 1])      # a^l = σ(z^l)
            if masks is not None and masks[l] is not None:
                a = np.multiply(a, masks[l], out=workspace.dropped[l])
            inputs[l + 1] = a
        return workspace

    def feedforward(self, X):
        """Output activations a^L for the examples in X (one per row)."""
        X = validation.inputs(X, self.sizes[0], self.dtype)
        return self._feedforward_checked(X)

    def _feedforward_checked(self, X, chunk=4096):
        out = np.empty((len(X), self.sizes[-1]), dtype=self.dtype)
        for start in range(0, len(X), chunk):
            rows = X[start:start + chunk]
            out[start:start + len(rows)] = self.forward(rows, self.workspace(len(rows))).activations[-1]
        return out

    # ---- backward ------------------------------------------------------------------
    def backprop(self, X, Y):
        """Gradient of the mean cost over the mini-batch (X, Y), one example per row.

        Returns ``(nabla_w, nabla_b)``, shaped like ``(self.weights, self.biases)``.
        ``Y`` may be class indices or target rows (see ``fit``).
        """
        step = self.backprop_pass(X, Y)
        return step.nabla_w, step.nabla_b

    def backprop_pass(self, X, Y):
        """Every quantity of one forward and backward pass over (X, Y), checked and copied.

        Returns a ``BackpropPass`` with, per layer l = 0 .. L-1 (``net.weights[l]``):
        ``zs[l]`` = z^l, ``activations[l + 1]`` = a^l (``activations[0]`` is X),
        ``deltas[l]`` = δ^l (one row per example), and the gradients of the mean cost
        ``nabla_w[l]`` = ∂C/∂w^l, ``nabla_b[l]`` = ∂C/∂b^l. What ``bprop.trace`` shows.
        """
        X = validation.inputs(X, self.sizes[0], self.dtype)
        Y, _ = validation.targets(Y, len(X), self.sizes[-1], self.dtype, self.is_classifier,
                                  cost=self.cost)
        workspace = self.backward(X, Y, Workspace(self, len(X)))  # fresh: the caller owns it
        return BackpropPass(zs=workspace.zs, activations=list(workspace.activations),
                            deltas=workspace.deltas, nabla_w=workspace.nabla_w,
                            nabla_b=workspace.nabla_b)

    def backward(self, X, Y, workspace, masks=None, mean=True):
        """BP1-BP4 for a checked mini-batch (X, Y), into ``workspace``; returns the workspace.

        Runs ``forward`` first, then leaves δ^l in ``workspace.deltas[l]`` and the gradients
        in ``workspace.nabla_w`` / ``workspace.nabla_b``. With ``mean=False`` the gradients
        are left as sums over the mini-batch, Σ_x ∂C_x/∂w, and the 1/m is applied by the
        update w → w - (η/m) Σ_x ∂C_x/∂w (Nielsen's equations 20-21): the training loop's
        form, one pass fewer per array. Like ``forward``, this checks nothing.
        """
        self.forward(X, workspace, masks)
        zs, activations, inputs = workspace.zs, workspace.activations, workspace.inputs
        nabla_w, nabla_b, deltas = workspace.nabla_w, workspace.nabla_b, workspace.deltas
        L = self.n_layers - 1
        delta = self.cost.output_delta(zs[L], activations[L + 1], Y, out=deltas[L])  # δ^L (BP1, in costs.py)
        for l in range(L, -1, -1):
            np.add.reduce(delta, axis=0, out=nabla_b[l])                  # BP3: Σ_x δ^l_x
            np.matmul(delta.T, inputs[l], out=nabla_w[l])                 # BP4: Σ_x δ^l_x (a^(l-1)_x)^T
            if l > 0:
                g = np.matmul(delta, self.weights[l], out=deltas[l - 1])  # (w^(l+1))^T δ^(l+1)
                if masks is not None and masks[l - 1] is not None:
                    g *= masks[l - 1]
                delta = self.activations[l - 1].vjp(zs[l - 1], activations[l], g, out=g)  # BP2
        if mean:
            m = len(X)
            for nabla in nabla_w + nabla_b:
                nabla /= m                                                # BP3, BP4: the mean over x
        return workspace

    def workspace(self, m):
        """The reusable ``Workspace`` for mini-batches of m rows (a few sizes kept, oldest dropped)."""
        workspace = self._workspaces.get(m)
        if workspace is None or not workspace.fits(self):
            if len(self._workspaces) >= 4:
                self._workspaces.pop(next(iter(self._workspaces)))
            workspace = self._workspaces[m] = Workspace(self, m)
        return workspace

    def release_workspaces(self):
        """Drop the cached workspaces (they are rebuilt on demand), e.g. before pickling."""
        self._workspaces.clear()

    # ---- using a trained network ---------------------------------------------------
    def predict_proba(self, X):
        """Output activations for X: class probabilities for a softmax output."""
        return self.feedforward(X)

    def predict(self, X):
        """Class indices (argmax, or a^L > 0.5 for one sigmoid unit) or, for regression, values."""
        return self._decide(self.feedforward(X))

    def _decide(self, output):
        if not self.is_classifier:
            return output[:, 0] if output.shape[1] == 1 else output
        return self.classes(output)

    @staticmethod
    def classes(output):
        """Class indices read from output rows: the argmax, or a > 0.5 for a single unit."""
        if output.shape[1] == 1:
            return (output[:, 0] > 0.5).astype(np.int64)
        return output.argmax(axis=1)

    def evaluate(self, X, y):
        """Mean cost over (X, y), and accuracy when y holds classes.

        Returns a dict ``{"cost": float, "accuracy": float or None, "n": int}``.
        """
        X = validation.inputs(X, self.sizes[0], self.dtype)
        Y, labels = validation.targets(y, len(X), self.sizes[-1], self.dtype, self.is_classifier,
                                       cost=self.cost)
        return self.score(X, Y, labels)

    def score(self, X, Y, labels, chunk=4096):
        """``evaluate`` for data already checked: X and target rows Y in ``self.dtype``,
        ``labels`` the class indices (or None). What the training loop calls each epoch."""
        total_cost, correct = 0.0, 0
        for start in range(0, len(X), chunk):
            rows = slice(start, start + chunk)
            workspace = self.forward(X[rows], self.workspace(len(X[rows])))
            z, a = workspace.zs[-1], workspace.activations[-1]
            total_cost += float(self.cost.value(z, a, Y[rows]).sum())
            if labels is not None:
                correct += int((self.classes(a) == labels[rows]).sum())
        n = len(X)
        return {"cost": total_cost / n,
                "accuracy": correct / n if labels is not None else None,
                "n": n}

    # ---- training and files --------------------------------------------------------
    def fit(self, X, y, **options):
        """Train by mini-batch gradient descent; see ``bprop.training.fit`` for the options.

        Returns the history: one record per epoch.
        """
        from bprop.training import fit

        return fit(self, X, y, **options)

    def save(self, path):
        """Write the network to one ``.npz`` file (arrays + JSON header, no pickle), atomically."""
        io.save(self, path)

    def copy(self, dtype=None):
        """An independent network with the same layers, cost, parameters, seed, class names
        and image format, in ``dtype`` if given (the float64 twin that gradient checks and
        traces compute on). The activation objects are shared, so a leaky slope carries over."""
        twin = Network(self.sizes, list(self.activations), self.cost.name, init=self.init,
                       dtype=self.dtype if dtype is None else dtype, seed=self.seed,
                       parameters=(self.weights, self.biases))
        twin.class_names = None if self.class_names is None else list(self.class_names)
        twin.image_format = self.image_format
        return twin

    def copy_parameters(self):
        """Copies of (weights, biases)."""
        return [w.copy() for w in self.weights], [b.copy() for b in self.biases]

    def set_parameters(self, weights, biases):
        """Replace every weight and bias, checking shapes; values are copied in ``self.dtype``."""
        if len(weights) != self.n_layers or len(biases) != self.n_layers:
            raise InputError(f"expected {self.n_layers} weight and bias arrays")
        for l, (w, b) in enumerate(zip(weights, biases)):
            shape_w, shape_b = (self.sizes[l + 1], self.sizes[l]), (self.sizes[l + 1],)
            if np.shape(w) != shape_w or np.shape(b) != shape_b:
                raise InputError(
                    f"layer {l}: weights must have shape {shape_w} and biases {shape_b}; "
                    f"got {np.shape(w)} and {np.shape(b)}"
                )
        self.weights = [np.array(w, dtype=self.dtype, order="C") for w in weights]
        self.biases = [np.array(b, dtype=self.dtype) for b in biases]


class BackpropPass:
    """The per-layer quantities of one backprop pass (see ``Network.backprop_pass``)."""

    __slots__ = ("zs", "activations", "deltas", "nabla_w", "nabla_b")

    def __init__(self, zs, activations, deltas, nabla_w, nabla_b):
        self.zs, self.activations, self.deltas = zs, activations, deltas
        self.nabla_w, self.nabla_b = nabla_w, nabla_b


class Workspace:
    """Buffers for mini-batches of m rows, reused step after step.

    ``X``, ``Y``: the mini-batch itself (``gather`` copies the training loop's rows here);
    per layer l: ``zs[l]`` (z^l), ``activations[l + 1]`` (a^l; ``activations[0]`` is
    the input), ``inputs[l]`` (what weight layer l multiplies), ``deltas[l]`` (δ^l),
    ``nabla_w[l]``, ``nabla_b[l]`` (the gradients), ``dropped[l]`` (a^l ⊙ dropout mask).
    ``Network.forward`` and ``Network.backward`` fill them.
    """

    def __init__(self, network, m):
        dtype, sizes = network.dtype, network.sizes
        self.m = m
        self.X = self.Y = None    # made by the first ``gather``: evaluation needs neither
        self.zs = [np.empty((m, n), dtype) for n in sizes[1:]]
        self.activations = [None] + [np.empty((m, n), dtype) for n in sizes[1:]]
        self.inputs = [None] * len(sizes)
        self.dropped = [np.empty((m, n), dtype) for n in sizes[1:-1]]  # dropout's a^l ⊙ mask
        self.deltas = [np.empty((m, n), dtype) for n in sizes[1:]]
        self.nabla_w = [np.empty((n_out, n_in), dtype) for n_in, n_out in zip(sizes, sizes[1:])]
        self.nabla_b = [np.empty(n, dtype) for n in sizes[1:]]
        self.sizes, self.dtype = list(sizes), dtype

    def fits(self, network):
        return self.sizes == network.sizes and self.dtype == network.dtype

    def gather(self, X, Y, rows):
        """Copy rows ``rows`` of X and Y into this workspace's own ``X`` and ``Y``; return them."""
        if self.X is None:
            self.X = np.empty((self.m, X.shape[1]), self.dtype)
            self.Y = np.empty((self.m, Y.shape[1]), self.dtype)
        X.take(rows, axis=0, out=self.X)
        Y.take(rows, axis=0, out=self.Y)
        return self.X, self.Y


def load(path):
    """Read a network written by ``Network.save`` (or the model inside a checkpoint)."""
    arrays, header = io.read_archive(path, kinds=("model", "checkpoint"))
    return network_from(header["network"], arrays, path, header)


def network_from(config, arrays, path="model", header=None):
    """Build a Network from a model file header's ``network`` config and its arrays, checked
    (and, given the whole header, its class names and image format)."""
    name = os.path.basename(os.fspath(path))
    try:
        parameters = config.get("activation_parameters") or [None] * len(config["activations"])
        if (not isinstance(parameters, list) or len(parameters) != len(config["activations"])
                or not all(p is None or isinstance(p, dict) for p in parameters)):
            raise InputError("activation_parameters must be one dict per layer")
        layers = [_activations.get(sigma, p) if isinstance(sigma, str) else sigma
                  for sigma, p in zip(config["activations"], parameters)]
        network = Network(config["sizes"], layers, config["cost"],
                          init=config.get("init"), dtype=config["dtype"], seed=config.get("seed"))
    except (KeyError, TypeError, AttributeError) as error:
        raise ModelFileError(f"{name}: header's network description is incomplete ({error})") from None
    except InputError as error:
        raise ModelFileError(f"{name}: header's network description is invalid: {error}") from None
    if header is not None:
        network.class_names = io.class_names_from(header, network.sizes[-1], name)
        network.image_format = io.image_format_from(header, network.sizes[0], name)
    weights = [arrays[f"w{l}"] for l in range(network.n_layers)]
    biases = [arrays[f"b{l}"] for l in range(network.n_layers)]
    for array in weights + biases:
        if array.dtype != network.dtype:
            raise ModelFileError(f"{name}: arrays are {array.dtype} but the header says {network.dtype}")
        if not np.isfinite(array).all():
            raise ModelFileError(f"{name}: parameters contain NaN or infinite values")
    network.set_parameters(weights, biases)
    return network


def _is_dtype(value):
    """True if NumPy reads ``value`` as a dtype; a string it cannot parse (a damaged model
    file's "0:" or "01") raises ValueError or SyntaxError there, not only TypeError."""
    try:
        np.dtype(value)
        return True
    except (TypeError, ValueError, SyntaxError):
        return False


def _initial_parameters(sizes, init, dtype, rng):
    """Initial w and b drawn in float64 and stored in ``dtype``.

    The values are drawn a block at a time straight into the ``dtype`` arrays (the
    generator's stream is the same whether drawn at once or in blocks), so a float32
    network never holds a float64 copy of its weights, and a seed gives the same values
    as drawing each whole array in float64 and converting it.
    """
    weights, biases = [], []
    for n_in, n_out in zip(sizes, sizes[1:]):
        w, b = np.empty((n_out, n_in), dtype), np.empty(n_out, dtype)
        if init == "large":            # Nielsen ch. 1: N(0, 1)
            _draw(w, rng.standard_normal)
            _draw(b, rng.standard_normal)
        elif init == "nielsen":        # Nielsen ch. 3: N(0, 1/n_in) weights
            _draw(w, lambda k: rng.standard_normal(k) / np.sqrt(n_in))
            _draw(b, rng.standard_normal)
        elif init == "glorot":         # Glorot & Bengio 2010, uniform
            limit = np.sqrt(6.0 / (n_in + n_out))
            _draw(w, lambda k: rng.uniform(-limit, limit, k))
            b[:] = 0
        else:                          # He et al. 2015: N(0, 2/n_in)
            _draw(w, lambda k: rng.standard_normal(k) * np.sqrt(2.0 / n_in))
            b[:] = 0
        weights.append(w)
        biases.append(b)
    return weights, biases


def _draw(out, draw, block=1 << 16):
    """Fill ``out`` (C order) with ``draw(k)``'s float64 values, ``block`` at a time."""
    flat = out.reshape(-1)
    for start in range(0, flat.size, block):
        stop = min(start + block, flat.size)
        flat[start:stop] = draw(stop - start)
