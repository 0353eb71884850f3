"""bprop's compiled epoch beside its parts, one at a time: ``python -m benchmarks.ceilings A B C C-sgd``.

Issue 14 asks, where a target is out of reach, for the profile and the ceiling measured.
For each recipe this times, in one process with the repeats interleaved (so the host's
drift hits every part alike), one epoch of:

- ``products``: the matrix products alone on contiguous mini-batches: the bench's
  ``matmul_floor`` (bprop's gemm, on the threads bprop's loop gives it);
- ``products+gather``: the same loop, each mini-batch first gathered from a shuffled
  order (``gather_rows``), as every shuffled epoch must read its rows;
- ``update``: what the loop does to the parameters besides the products, alone: the
  optimizer's rule on every array, except the part BLAS does for SGD and momentum
  (``epoch.py`` adds BP4's product into w^l, or v^l, with gemm's beta);
- ``element-wise``: bias + σ, BP1's kernel, σ' ⊙ with BP3's sum, the cost and accuracy
  tally and the stored outputs, alone, on buffers refilled each mini-batch with one real
  step's products; ``(its copies)`` times the refills alone, and is taken off;
- ``loop``: bprop's compiled loop over the epoch (``CompiledTraining.run``: the form
  ``fit`` chooses, and one core's loop as well where that form is the split);
- ``fit``: ``Network.fit`` for one epoch (the loop plus the input checks and the shuffle);
- ``numpy floor``: the bench's ``matmul_floor_numpy`` (NumPy's matmul, its BLAS's threads).

"sum of parts" is products+gather + update + element-wise less its copies: what an epoch of this design
(products in BLAS, the rest in fused passes between them) costs when every part runs as
fast as it does alone. Its ratio to the floor (the faster products-only run, as in the
bench) estimates the lowest ``bprop / floor`` this design reaches on this machine (an
estimate, not a bound: the loop can come out on either side of it). A competitor's time
over the floor in a bench run (``--bench``), divided by it, estimates the best ratio
against that competitor: two runs' ratios to their own floors, which the host's drift
moves far less than their times.
"""
import argparse
import sys
import time

import numpy as np

from benchmarks import data as bench_data
from benchmarks.recipes import FLOOR_TARGET, RECIPES, SPEED_TARGETS


def _kernels():
    """The part-by-part loops, compiled on first use (numba imports only here)."""
    from bprop.kernels.activations import bias_activation, vjp_sum
    from bprop.kernels.codes import ADAM, MOMENTUM, PLAIN
    from bprop.kernels.compiler import jit
    from bprop.kernels.costs import output_delta
    from bprop.kernels.epoch import store_outputs
    from bprop.kernels.optimizers import add_velocity, apply_rule
    from bprop.kernels.tally import batch_tally

    def updates(n_batches, rule, weights, biases, nabla_w, nabla_b, state, rate, mu, beta1, beta2,
                step_size, epsilon_hat, parallel_from):
        """Per mini-batch, what epoch.py's loop does to the parameters outside gemm."""
        L = len(weights)
        zero = rate * 0
        for _ in range(n_batches):
            for l in range(L):
                parallel = weights[l].size >= parallel_from
                if rule == MOMENTUM:
                    add_velocity(weights[l], state[2 * l], parallel)
                elif rule != PLAIN:
                    s1 = state[2 * l]
                    apply_rule(rule, weights[l], nabla_w[l], s1,
                               state[2 * L + 2 * l] if rule == ADAM else s1, rate, mu, zero,
                               beta1, beta2, step_size, epsilon_hat, parallel)
            for l in range(L):
                p = 2 * l + 1
                b = biases[l].reshape((1, biases[l].size))
                g = nabla_b[l].reshape((1, nabla_b[l].size))
                s1 = g if rule == PLAIN else state[p]
                apply_rule(rule, b, g, s1, state[2 * L + p] if rule == ADAM else s1, rate, mu,
                           zero, beta1, beta2, step_size, epsilon_hat, b.size >= parallel_from)

    def elementwise(n, batch_size, Y, order, labels, biases, kinds, alphas, cost, zs, activations,
                    deltas, products, nabla_b, outputs, kernels):
        """Per mini-batch, the loop's element-wise kernels. ``products`` holds the z^l and
        δ^l of one real step (after its bias add and σ' ⊙, so ``biases`` are zeros here):
        copied back into the buffers first, as the products would write them (σ' ⊙ works
        in place).
        ``kernels`` False: the copies alone, whose time is taken off (see ``report``)."""
        L = len(zs)
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            rows = order[start:start + m]
            for l in range(L):
                zs[l][:m] = products[l][:m]
                if l < L - 1:
                    deltas[l][:m] = products[L + l][:m]
            if not kernels:
                continue
            for l in range(L - 1):
                bias_activation(zs[l][:m], biases[l], activations[l][:m], kinds[l], alphas[l])
            z = zs[L - 1][:m]
            output_delta(z, biases[L - 1], activations[L - 1][:m], Y, rows, kinds[L - 1],
                         alphas[L - 1], cost, deltas[L - 1][:m], nabla_b[L - 1])
            batch_tally(z, activations[L - 1][:m], Y, rows, labels, kinds[L - 1], cost)
            for l in range(L - 1, 0, -1):
                vjp_sum(zs[l - 1][:m], activations[l - 1][:m], deltas[l - 1][:m], kinds[l - 1],
                        alphas[l - 1], nabla_b[l - 1])
            store_outputs(z, outputs, start)

    return jit(updates), jit(elementwise)


class Parts:
    """One recipe's network, buffers and timed parts (see the module)."""

    def __init__(self, name, X, y):
        import bprop
        from bprop import validation
        from bprop.kernels import blas
        from bprop.kernels import optimizers as O
        from bprop.kernels import step as S
        from bprop.kernels.codes import ADAM
        from bprop.optimizers import SGD, Adam
        from benchmarks.implementations import MatmulFloor, MatmulFloorNumpy

        recipe = self.recipe = RECIPES[name]
        self.X, self.y = X, y
        activations = list(recipe["activations"])
        self.options = dict(epochs=1, batch_size=recipe["batch_size"],
                            learning_rate=recipe["learning_rate"], optimizer=recipe["optimizer"],
                            kernels="numba", verbose=0)
        if recipe["optimizer"] == "sgd":
            self.options["momentum"] = recipe["momentum"]
        self.net = bprop.Network(recipe["sizes"], activation=activations, cost=recipe["cost"],
                                 init=recipe["init"], dtype=recipe["dtype"], seed=0)
        self.Y, labels = validation.targets(y, len(X), recipe["sizes"][-1], self.net.dtype, True,
                                            cost=self.net.cost)
        self.labels = np.empty(0, np.int64) if labels is None else labels
        optimizer = Adam() if recipe["optimizer"] == "adam" else SGD(momentum=recipe["momentum"])
        m = self.batch_size = recipe["batch_size"]
        self.n_batches = -(-len(X) // m)
        self.training = S.CompiledTraining(self.net, optimizer, 0.0, len(X), m, False)
        self.whole = None
        if self.training.form[0] == "split":     # one core's loop too, for the parts' sake
            saved, S.SPLIT_MIN_WORK = S.SPLIT_MIN_WORK, float("inf")
            try:
                self.whole = S.CompiledTraining(self.net, optimizer, 0.0, len(X), m, False)
            finally:
                S.SPLIT_MIN_WORK = saved
        # one real step, so the buffers hold realistic values for the element-wise part
        self.outputs = np.empty((len(X), recipe["sizes"][-1]), self.net.dtype)
        order = np.random.default_rng(0).permutation(len(X))
        self.training.run(X, self.Y, self.labels, order, 0, 1, recipe["learning_rate"], self.outputs)
        t = self.training
        self.products_seen = tuple(z.copy() for z in t.zs) + tuple(d.copy() for d in t.deltas[:-1])
        self.zero_biases = tuple(np.zeros_like(b) for b in self.net.biases)
        params, state = t._state()
        self.start = [p.copy() for p in params]
        self.params, self.state_arrays = params, state
        self.state = tuple(s.reshape(1, -1) if s.ndim == 1 else s for s in state) or (t.nabla_w[0],)
        self.rule = t.rule
        rate = recipe["learning_rate"] / m
        self.hyper = (np.float64(1.0 / m if t.rule == ADAM else rate),
                      recipe.get("momentum", 0.0), 0.9, 0.999, 1e-3, 1e-8)
        self.parallel_from = O.PARALLEL_SIZE
        self.one_core = t.form[0] in ("whole", "split")
        self.blas = blas
        self.floor = MatmulFloor()
        self.floor_model = self.floor.build(recipe, 0)
        self.numpy_floor = MatmulFloorNumpy()
        self.numpy_floor_model = self.numpy_floor.build(recipe, 0)
        self.updates, self.elementwise = _kernels()
        self.rng = np.random.default_rng(1)

    def reset(self):
        """The parameters back to their first values and the optimizer's state to zero (untimed)."""
        for p, first in zip(self.params, self.start):
            p[...] = first
        for s in self.state_arrays:
            s[...] = 0

    def _threads(self):
        from contextlib import nullcontext

        return self.blas.one_thread() if self.one_core else nullcontext()

    def timed(self):
        """{part: a function that runs it for one epoch}."""
        t, net, X = self.training, self.net, self.X
        dtype = net.dtype.type
        weights, biases = tuple(net.weights), tuple(net.biases)
        eta = self.recipe["learning_rate"]
        rate, mu, beta1, beta2, step_size, epsilon_hat = (dtype(v) for v in self.hyper)

        def products():
            self.floor.train(self.floor_model, X, self.y, 1)

        def gathered():
            order = self.rng.permutation(len(X))
            with self._threads():
                self.floor.products(X, order, self.batch_size, weights, t.X_batch, t.zs,
                                    t.deltas, t.nabla_w)

        def update():
            with self._threads():
                self.updates(self.n_batches, self.rule, weights, biases, t.nabla_w, t.nabla_b,
                             self.state, rate, mu, beta1, beta2, step_size, epsilon_hat,
                             self.parallel_from)

        def elementwise(kernels=True):
            def run():
                order = self.rng.permutation(len(X))
                self.elementwise(len(X), self.batch_size, self.Y, order, self.labels,
                                 self.zero_biases, t.kinds, t.alphas, t.cost, t.zs, t.activations,
                                 t.deltas, self.products_seen, t.nabla_b, self.outputs, kernels)
            return run

        def loop(training):
            def run():
                order = self.rng.permutation(len(X))
                training.run(X, self.Y, self.labels, order, 0, self.n_batches, eta, self.outputs)
            return run

        def fit():
            net.fit(X, self.y, seed=int(self.rng.integers(1 << 30)), **self.options)

        def numpy_floor():
            self.numpy_floor.train(self.numpy_floor_model, X, self.y, 1)

        parts = {"products": products, "products+gather": gathered, "update": update,
                 "element-wise": elementwise(), "(its copies)": elementwise(False),
                 f"loop ({t.form[0]})": loop(t)}
        if self.whole is not None:
            parts["loop (whole)"] = loop(self.whole)
        parts["fit"] = fit
        parts["numpy floor"] = numpy_floor
        return parts


def measure(name, X, y, repeats):
    """{part: [seconds of one epoch, per repeat]}, the parts interleaved, order rotated."""
    network = Parts(name, X, y)
    parts = network.timed()
    for run in parts.values():          # compile or load the kernels, start the thread pools
        network.reset()
        run()
    times = {part: [] for part in parts}
    names = list(parts)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for part in names[shift:] + names[:shift]:
            network.reset()
            start = time.perf_counter()
            parts[part]()
            times[part].append(time.perf_counter() - start)
    return times


def report(name, times, bench=None):
    """The table's lines for one recipe: median s/epoch and ratio to the floor; with
    ``bench`` (the recipe's entry of a ``bprop bench`` JSON), the best ratios against the
    competitors that the sum of parts allows, each competitor's time over that run's floor
    divided by the sum of parts over this run's floor."""
    median = {part: float(np.median(v)) for part, v in times.items()}
    floor = min(median["products"], median["numpy floor"])
    elementwise = max(median["element-wise"] - median["(its copies)"], 0.0)
    parts = median["products+gather"] + median["update"] + elementwise
    lowest = parts / floor
    lines = [f"recipe {name}: s/epoch, median of {len(times['products'])} (x the floor, "
             f"{floor:.3f} s)"]
    for part, value in median.items():
        lines.append(f"  {part:18s} {value:7.3f}  {value / floor:5.2f}x")
    lines.append(f"  {'sum of parts':18s} {parts:7.3f}  {lowest:5.2f}x   "
                 "(products+gather + update + element-wise less its copies)")
    lines.append(f"  bprop / floor the parts add up to: {lowest:.2f} "
                 f"(target at most {FLOOR_TARGET[name]})")
    best = {}
    if bench is not None:
        bench_floor = bench["fastest_floor"]["seconds_per_epoch"]
        rivals = {"jax": bench.get("fastest_jax", {}).get("seconds_per_epoch"),
                  "torch": bench["results"].get("torch", {}).get("seconds_per_epoch")}
        for rival, seconds in rivals.items():
            if seconds and rival in SPEED_TARGETS[name]:
                best[rival] = seconds / bench_floor / lowest
                lines.append(f"  best {rival} / bprop they allow: {seconds / bench_floor:.2f} / "
                             f"{lowest:.2f} = {best[rival]:.2f} (target at least "
                             f"{SPEED_TARGETS[name][rival]})")
    return lines, {"floor": floor, "median": median, "sum_of_parts": parts, "best": best}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceilings",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="*", default=["A", "B", "C", "C-sgd"],
                        choices=[r for r in RECIPES if r != "D"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--data", choices=["auto", "fashion-mnist", "random"], default="auto")
    parser.add_argument("--bench", metavar="JSON", help="a bprop bench result (e.g. "
                        "benchmarks/results/latest.json): also print the best ratios against "
                        "JAX and PyTorch that the sum of parts allows")
    args = parser.parse_args(argv)
    bench = None
    if args.bench:
        import json
        from pathlib import Path

        bench = json.loads(Path(args.bench).read_text())["recipes"]
    X, y, _, _, description = bench_data.load(args.data, args.n_train, 100)
    print(f"{description['source']} data, {len(X)} examples; {args.repeats} repeats, interleaved")
    for name in args.recipes:
        Xr = np.ascontiguousarray(X, dtype=RECIPES[name]["dtype"])
        lines, _ = report(name, measure(name, Xr, y, args.repeats),
                          None if bench is None or name not in bench else bench[name])
        print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
