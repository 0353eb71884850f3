"""The implementations the benchmark trains side by side, one small class each.

Every class imports its library in ``__init__`` (so a worker subprocess pays only for its
own), and has ``build(recipe, seed)``, ``train(model, X, y, epochs)`` and
``accuracy(model, X, y)``. ``train`` is what the worker times: everything a user's
training call does, nothing of the set-up.
"""
import contextlib
import os

import numpy as np

from benchmarks.recipes import initial_parameters, shuffles


def _compiled_form(recipe):
    """How bprop's compiled path trains the recipe: ``bprop.kernels.step.form``'s answer."""
    from bprop.kernels.step import form

    return form(recipe["sizes"], recipe["batch_size"], "softmax" in recipe["activations"][:-1])


class BpropImplementation:
    """bprop's ``fit`` with the compiled kernels (``kernels="numba"``); ``bprop_numpy`` below
    is the same call on the NumPy reference path. The warm-up run loads (or, the first time
    on a machine, compiles) the kernels, as every later run of a user's does from the cache."""

    name = "bprop"
    kernels = "numba"

    def __init__(self):
        import bprop
        from bprop.kernels import numba_available

        self.bprop = bprop
        if not numba_available():  # an environment installed before numba became a dependency
            self.kernels = "numpy"
        if self.kernels != "numpy":
            # The libraries the compiled path imports, imported here as the other workers
            # import torch and jax: before any clock starts. Loading the compiled kernels
            # (numba's cache, in the first fit) stays timed, as JAX's compilation does.
            import numba  # noqa: F401

            from bprop.kernels import blas  # noqa: F401  (binds and loads MKL's gemm)

    def notes(self, recipe):
        if self.kernels == "numpy":
            return ["kernels='numpy': the NumPy reference path"
                    + (" (numba is not installed)" if self.name == "bprop" else "")]
        from bprop.kernels import blas

        gemm = {"mkl": "MKL's gemm", "scipy": "SciPy's BLAS (OpenBLAS)"}[blas.BLAS]
        chosen, parts = _compiled_form(recipe)
        if chosen == "step":
            form = f"per mini-batch: products by {gemm}, fused compiled element-wise kernels"
        elif chosen == "threaded":
            form = (f"the whole epoch as one compiled loop, products by {gemm} on its threads, "
                    "the big parameter arrays updated over numba's threads")
        elif chosen == "split":
            form = (f"the whole epoch as one compiled loop, each hidden layer's units split over "
                    f"{parts} cores, each part's products by {gemm} on one thread")
        else:
            form = (f"the whole epoch as one compiled loop on one core (products by {gemm} on one "
                    "thread; BP4's product added into the weights or velocities by gemm for SGD "
                    "and momentum)")
        return [f"kernels='numba': {form}"]

    def blas(self):
        """Whose gemm the kernels call, and every BLAS loaded in the worker."""
        from threadpoolctl import threadpool_info

        loaded = "; ".join(f"{p['internal_api']} {p.get('version')} {p.get('architecture') or ''}, "
                           f"{p['num_threads']} threads" for p in threadpool_info()
                           if p.get("internal_api") in ("openblas", "mkl", "blis"))
        if self.kernels == "numpy":
            return f"NumPy's matmul; loaded: {loaded}"
        from bprop.kernels import blas

        return f"kernels' gemm: {blas.BLAS}; loaded: {loaded}"

    def build(self, recipe, seed):
        activations = recipe["activations"]
        activation = activations[0] if len(set(activations)) == 1 else list(activations)
        net = self.bprop.Network(recipe["sizes"], activation=activation, cost=recipe["cost"],
                                 init=recipe["init"], dtype=recipe["dtype"], seed=seed)
        return {"net": net, "recipe": recipe, "seed": seed, "epochs_done": 0}

    def train(self, model, X, y, epochs):
        """Timed epochs (recipes A-C). Each call is a new ``fit`` seeded afresh, so only a
        model's first call draws the orders PyTorch and JAX draw; the worker calls it once
        per timed model. Recipe D trains in one call, ``train_until``."""
        recipe, net = model["recipe"], model["net"]
        options = dict(epochs=epochs, batch_size=recipe["batch_size"],
                       learning_rate=recipe["learning_rate"], optimizer=recipe["optimizer"],
                       seed=model["seed"] + model["epochs_done"], kernels=self.kernels)
        if recipe["optimizer"] == "sgd":
            options["momentum"] = recipe["momentum"]
        net.fit(X, y, verbose=0, **options)   # no epoch lines inside a timed section
        model["epochs_done"] += epochs

    def accuracy(self, model, X, y):
        return float(model["net"].evaluate(X, y)["accuracy"])

    def train_until(self, model, X, y, X_test, y_test, target, max_epochs, clock):
        """Recipe D in one ``fit`` call: validation after each epoch, a callback stops it.

        One call keeps the momentum state across epochs, as a user's run would, and the
        ``kernels`` option is left to ``auto``, as a user's run leaves it."""
        recipe, curve = model["recipe"], []

        def stop_at_target(record):
            accuracy = record["validation_accuracy"]
            curve.append({"epoch": record["epoch"], "seconds": clock(), "test_accuracy": accuracy})
            return accuracy >= target

        options = dict(epochs=max_epochs, batch_size=recipe["batch_size"],
                       learning_rate=recipe["learning_rate"], optimizer=recipe["optimizer"],
                       seed=model["seed"], validation_data=(X_test, y_test),
                       callbacks=[stop_at_target], kernels="auto")  # as a user's run: auto
        if recipe["optimizer"] == "sgd":
            options["momentum"] = recipe["momentum"]
        model["net"].fit(X, y, **options)
        return curve


class BpropNumpyImplementation(BpropImplementation):
    name = "bprop_numpy"
    kernels = "numpy"


class BpropWholeImplementation(BpropImplementation):
    """``bprop`` with the split loop turned off: where ``form`` would split a network's
    units over the cores, one core's whole loop trains it instead. Not in the default
    list: run it beside ``bprop`` to see which of the two forms this machine favours."""

    name = "bprop_whole"

    def __init__(self):
        super().__init__()
        from bprop.kernels import step

        step.SPLIT_MIN_WORK = float("inf")


class TorchImplementation:
    """``nn.Sequential`` + ``torch.optim`` on 2 CPU threads; shuffled mini-batches taken by
    indexing the whole training tensor with a slice of a permutation (a DataLoader is far
    slower at batch size 10, and no fairer). The permutations are bprop's (``shuffles``)."""

    name = "torch"

    def __init__(self):
        import torch

        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
        self.torch = torch

    def notes(self, recipe):
        return [f"{self.torch.get_num_threads()} threads; mini-batches gathered from bprop's permutations, no DataLoader; "
                "init copied from the recipe's scale"]

    def blas(self):
        torch = self.torch
        return (f"torch {torch.__version__}: MKL {'on' if torch.backends.mkl.is_available() else 'off'}, "
                f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'} "
                f"(CPU capability {torch.backends.cpu.get_cpu_capability()}), "
                f"{torch.get_num_threads()} threads")

    def build(self, recipe, seed):
        torch, nn = self.torch, self.torch.nn
        torch.manual_seed(seed)
        dtype = getattr(torch, recipe["dtype"])
        weights, biases = initial_parameters(recipe, seed)
        layers = []
        n_layers = len(weights)
        for l, (w, b) in enumerate(zip(weights, biases)):
            linear = nn.Linear(w.shape[1], w.shape[0], dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w))
                linear.bias.copy_(torch.from_numpy(b))
            layers.append(linear)
            kind = recipe["activations"][l]
            if kind == "sigmoid":
                layers.append(nn.Sigmoid())
            elif kind == "relu":
                layers.append(nn.ReLU())
            elif kind == "softmax" and l == n_layers - 1:
                pass  # fused into cross_entropy below, as every PyTorch user does
            else:
                raise ValueError(f"torch side: no activation {kind!r}")
        net = nn.Sequential(*layers)
        if recipe["optimizer"] == "sgd":
            optimizer = torch.optim.SGD(net.parameters(), lr=recipe["learning_rate"],
                                        momentum=recipe["momentum"])
        else:
            optimizer = torch.optim.Adam(net.parameters(), lr=recipe["learning_rate"])
        return {"net": net, "optimizer": optimizer, "orders": shuffles(seed), "recipe": recipe}

    def train(self, model, X, y, epochs):
        torch = self.torch
        F = torch.nn.functional
        net, optimizer, recipe = model["net"], model["optimizer"], model["recipe"]
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        n, m = len(X), recipe["batch_size"]
        quadratic = recipe["cost"] == "quadratic"
        n_classes = recipe["sizes"][-1]
        net.train()
        for _ in range(epochs):
            permutation = torch.from_numpy(model["orders"].permutation(n))
            for k in range(0, n, m):
                index = permutation[k:k + m]
                x_batch, y_batch = X_t[index], y_t[index]
                optimizer.zero_grad(set_to_none=True)
                output = net(x_batch)
                if quadratic:  # C = mean over the batch of ½‖a - y‖²
                    target = F.one_hot(y_batch, n_classes).to(output.dtype)
                    loss = 0.5 * F.mse_loss(output, target, reduction="sum") / len(index)
                else:
                    loss = F.cross_entropy(output, y_batch)
                loss.backward()
                optimizer.step()

    def accuracy(self, model, X, y):
        torch = self.torch
        with torch.inference_mode():
            predicted = model["net"](torch.from_numpy(X)).argmax(dim=1).numpy()
        return float(np.mean(predicted == y))


class SklearnImplementation:
    """``MLPClassifier`` driven one epoch per ``partial_fit`` call (exactly one pass over
    the shuffled data each; no early stopping, no tolerance test, no L2 penalty)."""

    name = "sklearn"

    def __init__(self):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        self.MLPClassifier = MLPClassifier

    def notes(self, recipe):
        notes = ["own Glorot-uniform init; partial_fit = one epoch"]
        if recipe["cost"] != "cross_entropy" or recipe["activations"][-1] != "softmax":
            notes.append("MLPClassifier always uses a softmax output with log-loss: "
                         "it cannot run sigmoid output + quadratic cost, so it trains a "
                         "softmax/log-loss network of the same sizes here")
        return notes

    def build(self, recipe, seed):
        hidden = recipe["activations"][0]
        options = dict(
            hidden_layer_sizes=tuple(recipe["sizes"][1:-1]),
            activation={"sigmoid": "logistic", "relu": "relu", "tanh": "tanh"}[hidden],
            solver=recipe["optimizer"], alpha=0.0, batch_size=recipe["batch_size"],
            learning_rate="constant", learning_rate_init=recipe["learning_rate"],
            shuffle=True, random_state=seed, early_stopping=False,
            max_iter=1, tol=0.0, n_iter_no_change=10**9,
        )
        if recipe["optimizer"] == "sgd":
            options.update(momentum=recipe["momentum"], nesterovs_momentum=False)
        return {"clf": self.MLPClassifier(**options), "classes": np.arange(recipe["sizes"][-1])}

    def train(self, model, X, y, epochs):
        for _ in range(epochs):
            model["clf"].partial_fit(X, y, classes=model["classes"])

    def accuracy(self, model, X, y):
        return float(np.mean(model["clf"].predict(X) == y))


class PerExampleImplementation:
    """The book's per-example loop (``benchmarks/per_example.py``); recipe A only."""

    name = "per_example"

    def __init__(self):
        from benchmarks import per_example

        self.module = per_example

    def notes(self, recipe):
        return ["per-example backprop with column vectors, as the book's network.py"]

    def build(self, recipe, seed):
        if recipe["cost"] != "quadratic" or set(recipe["activations"]) != {"sigmoid"}:
            raise ValueError("the per-example loop runs the book's recipe (A) only")
        weights, biases = initial_parameters(recipe, seed)
        return {"net": self.module.PerExampleNetwork(weights, biases),
                "rng": self.module.make_rng(seed), "recipe": recipe, "pairs": None}

    def prepare(self, model, X, y):
        """Convert to the book's list of column-vector pairs: data loading, not training."""
        model["pairs"] = self.module.as_column_pairs(X, y, model["recipe"]["sizes"][-1])

    def train(self, model, X, y, epochs):
        recipe = model["recipe"]
        for _ in range(epochs):
            model["net"].sgd_epoch(model["pairs"], recipe["batch_size"],
                                   recipe["learning_rate"], model["rng"])

    def accuracy(self, model, X, y):
        net = model["net"]
        predicted = [int(np.argmax(net.feedforward(x.reshape(-1, 1).astype(np.float64))))
                     for x in X]
        return float(np.mean(np.array(predicted) == y))


class MatmulFloorNumpy:
    """Exactly the matrix products of one training epoch and nothing else, through NumPy.

    Per mini-batch: z^l = a^(l-1) w^l^T for every layer, nabla_w^l = delta^l^T a^(l-1)
    for every layer, and delta^(l-1) = delta^l w^l for every layer but the first, each
    into a preallocated ``out=`` buffer. No activation, cost, shuffle or update: the
    time a NumPy library cannot go below for these layer shapes.
    """

    name = "matmul_floor_numpy"

    def __init__(self):
        pass

    def notes(self, recipe):
        return ["matrix products only (forward, nabla_w, delta; no input gradient), "
                "out= buffers, contiguous batches"]

    def build(self, recipe, seed):
        weights, _ = initial_parameters(recipe, seed)
        return {"weights": weights, "recipe": recipe, "buffers": {}}

    def _buffers(self, model, m):
        if m not in model["buffers"]:
            dtype = np.dtype(model["recipe"]["dtype"])
            sizes = model["recipe"]["sizes"]
            model["buffers"][m] = {
                "z": [np.empty((m, n), dtype) for n in sizes[1:]],
                # zeros stand in for BP1's output delta: a product costs the same whatever the values
                "delta": [np.zeros((m, n), dtype) for n in sizes[1:]],
                "nabla_w": [np.empty_like(w) for w in model["weights"]],
            }
        return model["buffers"][m]

    def train(self, model, X, y, epochs):
        weights, m = model["weights"], model["recipe"]["batch_size"]
        n_layers = len(weights)
        for _ in range(epochs):
            for k in range(0, len(X), m):
                a_in = X[k:k + m]
                buffers = self._buffers(model, len(a_in))
                z, delta, nabla_w = buffers["z"], buffers["delta"], buffers["nabla_w"]
                a = a_in
                for l in range(n_layers):
                    np.matmul(a, weights[l].T, out=z[l])
                    a = z[l]
                for l in reversed(range(n_layers)):
                    a_prev = z[l - 1] if l else a_in
                    np.matmul(delta[l].T, a_prev, out=nabla_w[l])
                    if l:
                        np.matmul(delta[l], weights[l], out=delta[l - 1])

    def accuracy(self, model, X, y):
        return None


NO_ORDER = np.empty(0, np.int64)  # MatmulFloor's products: read the mini-batches in place


class MatmulFloor(MatmulFloorNumpy):
    """The same products as ``MatmulFloorNumpy``, through the gemm bprop's compiled kernels
    call (MKL's when the mkl package is installed, else SciPy's; ``bprop.kernels.blas``),
    and issued from one compiled loop per epoch, so no call costs Python's overhead: the
    floor for bprop's compiled path. On one MKL thread when bprop's whole loop would be
    (small steps), as bprop runs them."""

    name = "matmul_floor"

    def __init__(self):
        from bprop.kernels import blas
        from bprop.kernels.batches import gather_rows
        from bprop.kernels.compiler import jit

        self._blas = blas

        def products(X, order, batch_size, weights, X_batch, zs, deltas, nabla_w):
            """An epoch's products, each mini-batch read in place from X or, when ``order``
            is not empty, first gathered in that order into X_batch (``ceilings.py``)."""
            gemm = blas.gemm
            n, L = X.shape[0], len(weights)
            for start in range(0, n, batch_size):
                m = min(batch_size, n - start)
                if order.size:
                    a_in = X_batch[:m]
                    gather_rows(X, order[start:start + m], a_in)
                else:
                    a_in = X[start:start + m]
                for l in range(L):
                    gemm(0, 1, 1.0, a_in if l == 0 else zs[l - 1][:m], weights[l], 0.0, zs[l][:m])
                for l in range(L - 1, -1, -1):
                    gemm(1, 0, 1.0, deltas[l][:m], a_in if l == 0 else zs[l - 1][:m], 0.0, nabla_w[l])
                    if l > 0:
                        gemm(0, 0, 1.0, deltas[l][:m], weights[l], 0.0, deltas[l - 1][:m])

        self.products = jit(products)

    def notes(self, recipe):
        one = _compiled_form(recipe)[0] in ("whole", "split")
        return [f"matrix products only, as matmul_floor_numpy, through bprop's kernels' gemm "
                f"({self._blas.BLAS}{', one thread on one core' if one and self._blas.BLAS == 'mkl' else ''}) "
                f"from one compiled loop"]

    def build(self, recipe, seed):
        model = super().build(recipe, seed)
        dtype, sizes, m = np.dtype(recipe["dtype"]), recipe["sizes"], recipe["batch_size"]
        model["zs"] = tuple(np.empty((m, n), dtype) for n in sizes[1:])
        model["deltas"] = tuple(np.zeros((m, n), dtype) for n in sizes[1:])
        model["nabla_w"] = tuple(np.empty_like(w) for w in model["weights"])
        model["X_batch"] = np.empty((m, sizes[0]), dtype)
        return model

    def train(self, model, X, y, epochs):
        recipe = model["recipe"]
        one = _compiled_form(recipe)[0] in ("whole", "split")
        threads = self._blas.one_thread() if one else contextlib.nullcontext()
        weights = tuple(np.ascontiguousarray(w) for w in model["weights"])
        with threads:
            for _ in range(epochs):
                self.products(X, NO_ORDER, recipe["batch_size"], weights, model["X_batch"],
                              model["zs"], model["deltas"], model["nabla_w"])


from benchmarks.jax_competitor import JaxImplementation, JaxScan, JaxScanGather  # noqa: E402

IMPLEMENTATIONS = {
    cls.name: cls
    for cls in (BpropImplementation, BpropNumpyImplementation, BpropWholeImplementation, TorchImplementation,
                JaxImplementation, JaxScan, JaxScanGather, SklearnImplementation,
                PerExampleImplementation, MatmulFloor, MatmulFloorNumpy)
}
