"""JAX on the CPU, written as a JAX user would: a jitted train step, or a whole epoch as one
``lax.scan``.

Three variants, each its own implementation in the benchmark:

- ``jax_step``: ``jax.jit`` of one step (the loss's gradient, the update), with parameters
  and optimizer state donated; the training set lives on the device once and the step
  slices its indices from the epoch's permutation (``lax.dynamic_slice``) and gathers its
  mini-batch inside the jitted call;
- ``jax_scan``: the whole epoch jitted as one ``lax.scan`` over mini-batches that are
  gathered up front (``X[perm].reshape(batches, m, n_in)``, one big copy, inside the jit);
- ``jax_scan_gather``: the same scan, each step gathering its own rows inside the loop.

Each epoch's order is bprop's (``recipes.shuffles``: a NumPy permutation per epoch,
passed to the jitted epoch or step as an int32 array), so recipe D compares the libraries
on the same orders. The last, short mini-batch (50,000 = 390 × 128 + 80) is trained like
bprop trains it, by one more step after the scan. The same initial parameters as every
other implementation (``recipes.initial_parameters``); the same update rules as bprop:
v → μ v - η ∇C, w → w + v; Adam with its bias corrections. XLA compiles for the data's
shapes in ``prepare`` (the worker calls it before the clock starts), so the timed epochs
hold no compilation; recipe D's time to accuracy includes it.
"""
import numpy as np

from benchmarks.recipes import initial_parameters, shuffles


class JaxImplementation:
    name = "jax_step"
    variant = "step"

    def __init__(self):
        import jax

        jax.config.update("jax_enable_x64", True)  # recipe A is float64
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        self._compiled = {}

    def notes(self, recipe):
        how = {"step": "jit step, batch gathered inside the step",
               "scan": "epoch = one lax.scan over batches pre-gathered inside the jit",
               "scan_gather": "epoch = one lax.scan, each step gathers its batch"}[self.variant]
        return [f"{how}; XLA CPU, {self.jax.device_count()} device, "
                "compiled for the data's shapes before timing"]

    def blas(self):
        return (f"XLA:CPU (jax {self.jax.__version__}; its own dot kernels, Eigen/oneDNN), "
                f"{self.jax.devices()[0].device_kind}")

    # ---- the model --------------------------------------------------------------------
    def build(self, recipe, seed):
        jnp = self.jnp
        weights, biases = initial_parameters(recipe, seed)
        params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in zip(weights, biases)]
        if recipe["optimizer"] == "adam":
            zeros = [(jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in params]
            state = (jnp.zeros((), jnp.int32), zeros, [(jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in params])
        else:
            state = [(jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in params]
        return {"params": params, "state": state, "recipe": recipe,
                "orders": shuffles(seed), "data": None, "compiled": None}

    def _functions(self, recipe):
        key = (recipe["sizes"] and tuple(recipe["sizes"]), recipe["dtype"], recipe["optimizer"],
               recipe["cost"], tuple(recipe["activations"]), recipe["batch_size"])
        if key not in self._compiled:
            self._compiled[key] = self._make(recipe)
        return self._compiled[key]

    def _make(self, recipe):
        jax, jnp = self.jax, self.jnp
        from functools import partial

        n_classes, m = recipe["sizes"][-1], recipe["batch_size"]
        eta, mu = recipe["learning_rate"], recipe["momentum"]
        hidden = recipe["activations"][0]
        quadratic = recipe["cost"] == "quadratic"
        dtype = jnp.dtype(recipe["dtype"])

        def loss(params, x, y):
            a = x
            for w, b in params[:-1]:
                z = a @ w.T + b
                a = jax.nn.sigmoid(z) if hidden == "sigmoid" else jax.nn.relu(z)
            w, b = params[-1]
            z = a @ w.T + b
            if quadratic:  # sigmoid output, C = mean over the batch of ½‖a - y‖²
                diff = jax.nn.sigmoid(z) - jax.nn.one_hot(y, n_classes, dtype=dtype)
                return 0.5 * jnp.sum(diff * diff) / x.shape[0]
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(z), y[:, None], axis=1))

        def update(params, state, grads):
            if recipe["optimizer"] == "adam":
                t, ms, vs = state
                t = t + 1
                b1, b2, eps = 0.9, 0.999, 1e-8
                c1, c2 = 1 - b1 ** t.astype(dtype), 1 - b2 ** t.astype(dtype)
                new_p, new_m, new_v = [], [], []
                for (w, b), (gw, gb), (mw, mb), (vw, vb) in zip(params, grads, ms, vs):
                    pair_p, pair_m, pair_v = [], [], []
                    for p, g, m_, v_ in ((w, gw, mw, vw), (b, gb, mb, vb)):
                        m_ = b1 * m_ + (1 - b1) * g
                        v_ = b2 * v_ + (1 - b2) * g * g
                        p = p - eta * (m_ / c1) / (jnp.sqrt(v_ / c2) + eps)
                        pair_p.append(p), pair_m.append(m_), pair_v.append(v_)
                    new_p.append(tuple(pair_p)), new_m.append(tuple(pair_m)), new_v.append(tuple(pair_v))
                return new_p, (t, new_m, new_v)
            if mu:
                new_state = [(mu * vw - eta * gw, mu * vb - eta * gb)
                             for (vw, vb), (gw, gb) in zip(state, grads)]
                new_params = [(w + vw, b + vb) for (w, b), (vw, vb) in zip(params, new_state)]
                return new_params, new_state
            return [(w - eta * gw, b - eta * gb) for (w, b), (gw, gb) in zip(params, grads)], state

        def train_step(params, state, x, y):
            grads = jax.grad(loss)(params, x, y)
            return update(params, state, grads)

        @partial(jax.jit, donate_argnums=(0, 1), static_argnums=(6,))
        def step(params, state, X, Y, perm, start, size):  # the batch gathered inside the step
            index = jax.lax.dynamic_slice_in_dim(perm, start, size)
            return train_step(params, state, X[index], Y[index])

        def epoch(params, state, X, Y, perm, gather_inside):
            n = X.shape[0]
            full = (n // m) * m
            index = perm[:full].reshape(-1, m)
            if gather_inside:
                def body(carry, idx):
                    return train_step(*carry, X[idx], Y[idx]), None
                (params, state), _ = jax.lax.scan(body, (params, state), index)
            else:
                xs, ys = X[index], Y[index]

                def body(carry, batch):
                    return train_step(*carry, *batch), None
                (params, state), _ = jax.lax.scan(body, (params, state), (xs, ys))
            if full < n:
                rest = perm[full:]
                params, state = train_step(params, state, X[rest], Y[rest])
            return params, state

        epoch_pre = jax.jit(partial(epoch, gather_inside=False), donate_argnums=(0, 1))
        epoch_gather = jax.jit(partial(epoch, gather_inside=True), donate_argnums=(0, 1))
        return {"step": step, "scan": epoch_pre, "scan_gather": epoch_gather}

    # ---- training ------------------------------------------------------------------------
    def prepare(self, model, X, y):
        """Put the data on the device and compile for its shapes: not an epoch's cost."""
        jnp = self.jnp
        model["data"] = (jnp.asarray(X), jnp.asarray(y))
        self._compile_for(model)

    def _compile_for(self, model):
        functions = self._functions(model["recipe"])
        X, Y = model["data"]
        m = model["recipe"]["batch_size"]
        args = (model["params"], model["state"], X, Y)
        compiled = model["compiled"] = {}  # called directly by train: no tracing, no cache look-up
        n = X.shape[0]
        perm = self._permutation(np.arange(n))  # any int32 array of n: compiling sees its shape
        if self.variant == "step":
            for size in {min(m, n), n % m or min(m, n)}:
                compiled[size] = functions["step"].lower(*args, perm, 0, size).compile()
        else:
            compiled[None] = functions[self.variant].lower(*args, perm).compile()

    def _permutation(self, order):
        return self.jnp.asarray(order.astype(np.int32))

    def train(self, model, X, y, epochs):
        jax = self.jax
        if model["data"] is None:
            self.prepare(model, X, y)
        compiled = model["compiled"]
        X_d, Y_d = model["data"]
        n, m = X_d.shape[0], model["recipe"]["batch_size"]
        params, state = model["params"], model["state"]
        for _ in range(epochs):
            perm = self._permutation(model["orders"].permutation(n))
            if self.variant == "step":
                for k in range(0, n, m):
                    params, state = compiled[min(m, n - k)](params, state, X_d, Y_d, perm, k)
            else:
                params, state = compiled[None](params, state, X_d, Y_d, perm)
        jax.block_until_ready(params)
        model["params"], model["state"] = params, state

    def accuracy(self, model, X, y):
        jnp = self.jnp
        a = jnp.asarray(X)
        params = model["params"]
        for w, b in params[:-1]:
            z = a @ w.T + b
            a = self.jax.nn.sigmoid(z) if model["recipe"]["activations"][0] == "sigmoid" else self.jax.nn.relu(z)
        w, b = params[-1]
        predicted = np.asarray(jnp.argmax(a @ w.T + b, axis=1))
        return float(np.mean(predicted == y))

    def train_until(self, model, X, y, X_test, y_test, target, max_epochs, clock):
        """Recipe D: compilation included, as a user's first run pays it."""
        curve = []
        for epoch in range(1, max_epochs + 1):
            self.train(model, X, y, 1)
            accuracy = self.accuracy(model, X_test, y_test)
            curve.append({"epoch": epoch, "seconds": clock(), "test_accuracy": accuracy})
            if accuracy >= target:
                break
        return curve


class JaxScan(JaxImplementation):
    name = "jax_scan"
    variant = "scan"


class JaxScanGather(JaxImplementation):
    name = "jax_scan_gather"
    variant = "scan_gather"
