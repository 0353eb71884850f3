"""The compiled kernels (``kernels="numba"``) against the NumPy reference path.

Every test trains two copies of one network from the same seed, one per path, and
compares the parameters: float64 to 1e-12 relative, float32 to 1e-5 (the largest
difference over an array, relative to the array's largest value). Each of the compiled
path's forms is checked (``path`` below): the per-mini-batch step (BLAS products, fused
element-wise kernels) and the whole compiled loop in its three forms. A few mini-batches each,
including a short last one: long enough to use every kernel, short enough that rounding
differences are not amplified by training itself.
"""
from pathlib import Path

import numpy as np
import pytest

import bprop
from bprop import kernels
from bprop.errors import DivergenceError, InputError

pytest.importorskip("numba")

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}
PATHS = ("step", "whole", "split", "threaded")


@pytest.fixture
def path(request, monkeypatch):
    """The compiled path's four forms: per mini-batch, the whole loop on one core, the
    whole loop with the hidden units split over 2 parts (with either BLAS), and the whole
    loop with BLAS's threads and every parameter array updated over numba's threads."""
    from bprop.kernels import optimizers, step

    monkeypatch.setattr(step, "LOOPS", request.param != "step")
    monkeypatch.setattr(step, "WHOLE_LOOP_MAX_WORK", -1 if request.param == "threaded" else 10**12)
    if request.param == "threaded":
        monkeypatch.setattr(optimizers, "PARALLEL_SIZE", 1)
    monkeypatch.setattr(step, "SPLIT_MIN_WORK", -1 if request.param == "split" else 10**12)
    monkeypatch.setattr(step, "SPLIT_BLAS", ("mkl", "scipy"))
    monkeypatch.setattr(step, "SPLIT_PARTS", 2)
    return request.param


@pytest.fixture
def whole_loop(monkeypatch):
    """Every network small enough for the whole compiled loop."""
    from bprop.kernels import step

    monkeypatch.setattr(step, "WHOLE_LOOP_MAX_WORK", 10**12)


def _data(sizes, dtype, n=40, regression=False):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    if regression:
        return X, rng.uniform(0.1, 0.9, size=(n, sizes[-1])).astype(dtype)
    return X, rng.integers(0, sizes[-1], n)


def _train_both(sizes, activations, cost, dtype, options, regression=False):
    X, y = _data(sizes, dtype, regression=regression)
    nets = {}
    for which in ("numpy", "numba"):
        net = bprop.Network(sizes, activations, cost, dtype=dtype, seed=3)
        history = net.fit(X, y, epochs=1, batch_size=16, seed=5, kernels=which, **options)
        nets[which] = (net, history)
    return nets


def _assert_equal_to_reference(nets, dtype):
    (reference, ref_history), (fast, fast_history) = nets["numpy"], nets["numba"]
    tolerance = TOLERANCE[dtype]
    for name, ours, theirs in [("weights", fast.weights, reference.weights),
                               ("biases", fast.biases, reference.biases)]:
        for l, (a, b) in enumerate(zip(ours, theirs)):
            assert a.dtype == b.dtype == np.dtype(dtype)
            scale = max(float(np.abs(b).max()), np.finfo(dtype).tiny)
            error = float(np.abs(a.astype(np.float64) - b).max()) / scale
            assert error <= tolerance, f"{name}[{l}] differs by {error:.3g} (relative)"
    assert fast_history[0]["cost"] == pytest.approx(ref_history[0]["cost"], rel=tolerance * 10)
    assert fast_history[0]["accuracy"] == ref_history[0]["accuracy"]


TAILS = {"float64": [-800.0, -700.0, -300.0, -40.0, -1e-300, 0.0, 0.5, 40.0, 800.0],
         "float32": [-100.0, -88.0, -80.0, -40.0, -1e-30, 0.0, 0.5, 40.0, 100.0]}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
def test_each_activation_kernel_equals_the_reference_into_its_tails(name, dtype):
    from bprop import activations
    from bprop.kernels.activations import bias_activation
    from bprop.kernels.codes import ACTIVATION_CODES

    z = np.array([TAILS[dtype]], dtype)
    sigma = activations.get(name)
    expected = sigma(z.copy())
    a = np.empty_like(z)
    bias_activation(z, np.zeros(z.shape[1], dtype), a, ACTIVATION_CODES[name],
                    getattr(sigma, "alpha", 0.0))
    np.testing.assert_allclose(a, expected, rtol=TOLERANCE[dtype], atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
def test_the_column_block_kernels_equal_the_reference_and_leave_other_columns(name, dtype):
    """split.py's kernels on one part's columns lo..hi-1 of a layer, into both tails."""
    from bprop import activations
    from bprop.kernels.activations import bias_activation_columns, vjp_sum_columns
    from bprop.kernels.codes import ACTIVATION_CODES

    rng = np.random.default_rng(11)
    lo, hi = 3, 3 + len(TAILS[dtype])
    z = rng.normal(scale=3, size=(5, hi + 4)).astype(dtype)
    z[0, lo:hi] = TAILS[dtype]
    b = rng.normal(size=hi - lo).astype(dtype)
    g = rng.normal(size=z.shape).astype(dtype)
    sigma = activations.get(name)
    alpha = getattr(sigma, "alpha", 0.0)
    z_ref = z.copy()
    z_ref[:, lo:hi] += b
    a_ref = sigma(z_ref[:, lo:hi].copy())

    a = np.full_like(z, np.nan)
    bias_activation_columns(z, b, a, lo, hi, ACTIVATION_CODES[name], alpha)
    np.testing.assert_array_equal(z, z_ref)              # the block's add, and nothing else
    np.testing.assert_allclose(a[:, lo:hi], a_ref, rtol=TOLERANCE[dtype], atol=0)
    assert np.isnan(np.delete(a, np.s_[lo:hi], axis=1)).all()
    nabla_b = np.full(hi - lo, np.nan, dtype)
    g_before = g.copy()                  # σ' from the kernel's own a (a(1 - a) near a = 1
    g_ref = sigma.vjp(z_ref[:, lo:hi], a[:, lo:hi], g[:, lo:hi].copy())   # magnifies an ulp)
    vjp_sum_columns(z, a, g, lo, hi, ACTIVATION_CODES[name], alpha, nabla_b)
    np.testing.assert_allclose(g[:, lo:hi], g_ref, rtol=TOLERANCE[dtype], atol=0)
    np.testing.assert_array_equal(np.delete(g, np.s_[lo:hi], axis=1),
                                  np.delete(g_before, np.s_[lo:hi], axis=1))
    np.testing.assert_allclose(nabla_b, g_ref.sum(axis=0, dtype=np.float64),
                               rtol=TOLERANCE[dtype] * 10, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
def test_every_hidden_activation_trains_like_the_reference(path, dtype, hidden):
    nets = _train_both([6, 5, 4], [hidden, "softmax"], "cross_entropy", dtype,
                       dict(learning_rate=0.3, momentum=0.9))
    _assert_equal_to_reference(nets, dtype)


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output, cost, regression", [
    ("sigmoid", "quadratic", False),
    ("sigmoid", "cross_entropy", False),
    ("softmax", "cross_entropy", False),
    ("softmax", "quadratic", False),
    ("identity", "quadratic", True),
    ("tanh", "quadratic", True),
])
def test_every_output_activation_and_cost_trains_like_the_reference(path, dtype, output, cost,
                                                                     regression):
    nets = _train_both([6, 5, 4], ["tanh", output], cost, dtype, dict(learning_rate=0.5),
                       regression=regression)
    _assert_equal_to_reference(nets, dtype)


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cost", ["cross_entropy", "quadratic"])
def test_one_sigmoid_output_with_binary_labels_trains_like_the_reference(path, dtype, cost):
    """One output unit: classes are a > 0.5, in the training tally as in evaluate."""
    X, _ = _data([6, 5, 1], dtype)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    nets = {}
    for which in ("numpy", "numba"):
        net = bprop.Network([6, 5, 1], ["tanh", "sigmoid"], cost, dtype=dtype, seed=3)
        nets[which] = (net, net.fit(X, y, epochs=1, batch_size=16, seed=5, kernels=which,
                                    learning_rate=0.5))
    assert 0 < nets["numpy"][1][0]["accuracy"] < 1  # the count is a real comparison
    _assert_equal_to_reference(nets, dtype)


OPTIMIZERS = {
    "sgd": dict(learning_rate=0.5),
    "momentum": dict(learning_rate=0.2, momentum=0.9),
    "nesterov": dict(learning_rate=0.2, momentum=0.9, nesterov=True),
    "adam": dict(optimizer="adam", learning_rate=0.01),
}


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("l2", [0.0, 2.0])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_optimizer_with_and_without_l2_trains_like_the_reference(path, dtype, l2, optimizer):
    nets = _train_both([6, 5, 4], ["relu", "softmax"], "cross_entropy", dtype,
                       dict(OPTIMIZERS[optimizer], l2=l2))
    _assert_equal_to_reference(nets, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_dropout_trains_like_the_reference(dtype, optimizer):
    # Dropout always takes the per-mini-batch step: its masks come from the trainer's
    # generator, the same draws as the NumPy path's.
    nets = _train_both([6, 5, 5, 4], ["sigmoid", "relu", "softmax"], "cross_entropy", dtype,
                       dict(OPTIMIZERS[optimizer], dropout=0.3, l2=1.0))
    _assert_equal_to_reference(nets, dtype)


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_a_deeper_network_trains_like_the_reference(path):
    nets = _train_both([6, 7, 5, 4], ["tanh", "leaky_relu", "sigmoid"], "cross_entropy", "float64",
                       dict(OPTIMIZERS["adam"], l2=0.5))
    _assert_equal_to_reference(nets, "float64")


@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_a_split_into_uneven_parts_trains_like_the_reference(monkeypatch, parts, optimizer):
    """Widths that no part count divides, two hidden layers (four meetings a step), L2."""
    from bprop.kernels import split, step

    monkeypatch.setattr(step, "WHOLE_LOOP_MAX_WORK", 10**12)
    monkeypatch.setattr(step, "SPLIT_MIN_WORK", -1)
    monkeypatch.setattr(step, "SPLIT_BLAS", ("mkl", "scipy"))
    monkeypatch.setattr(step, "SPLIT_PARTS", parts)
    calls = []
    monkeypatch.setattr(step, "train_split", lambda *args: calls.append(args[7][0].shape[0]) or
                        split.train_split(*args))    # args[7]: the weights; [0]: w^1
    for sizes in ([6, 37, 19, 4], [6, 70, 40, 4]):   # the second: cuts on multiples of 16
        nets = _train_both(sizes, ["relu", "tanh", "softmax"], "cross_entropy", "float64",
                           dict(OPTIMIZERS[optimizer], l2=0.5))
        _assert_equal_to_reference(nets, "float64")
    assert set(calls) == {37, 70}                 # the split loop trained both
    assert split.unit_bounds([6, 70, 40, 4], parts).tolist() == (
        [[0, 32, 70], [0, 16, 40]] if parts == 2 else [[0, 16, 48, 70], [0, 13, 26, 40]])


def test_the_split_is_chosen_for_recipe_b_with_mkl_only():
    from bprop.kernels import blas, step
    from bprop.training import Trainer

    def split_used(sizes, batch_size):
        X, y = _data(sizes, "float32", n=2 * batch_size)
        trainer = Trainer(bprop.Network(sizes, ["relu", "softmax"], "cross_entropy",
                                        dtype="float32", seed=0),
                          epochs=1, batch_size=batch_size, momentum=0.9, kernels="numba", verbose=0)
        trainer.run(X, y)
        return trainer._compiled.split is not None

    cores = step.SPLIT_PARTS or __import__("numba").get_num_threads()
    assert split_used([784, 100, 10], 128) == (blas.BLAS == "mkl" and cores > 1)   # B: 10 M
    assert not split_used([784, 30, 10], 10)          # the book's: 0.24 M, one core's loop
    assert not split_used([784, 512, 10], 128)        # 52 M: per mini-batch


def test_each_recipe_gets_its_form():
    from bprop.kernels import blas, step

    cores = step.SPLIT_PARTS or __import__("numba").get_num_threads()
    b = ("split", cores) if blas.BLAS == "mkl" and cores > 1 else ("whole", 1)
    assert step.form([784, 30, 10], 10) == ("whole", 1)                   # A
    assert step.form([784, 100, 10], 128) == b                            # B
    assert step.form([784, 512, 512, 10], 128) == ("threaded", 1)         # C
    assert step.form([784, 512, 512, 10], 128, dropout=True) == ("step", 1)
    assert step.form([784, 30, 10], 10, dropout=True) == ("step", 1)


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_a_tiny_l2_shrink_is_applied_in_float32(path, optimizer):
    # With all-zero inputs ∂C/∂w^1 is 0, so w^1 changes by L2's shrink alone: ηλ/n = 1e-7 a
    # step. Handed to BLAS as its factor 1 - 1e-7, float32 would round it to 1 - 1.19e-7.
    X = np.zeros((64, 6), np.float32)
    y = np.arange(64) % 4
    shrunk = {}
    for which in ("numpy", "numba"):
        net = bprop.Network([6, 5, 4], dtype="float32", seed=0)
        before = net.weights[0].astype(np.float64)
        net.fit(X, y, epochs=20, batch_size=4, learning_rate=0.064, l2=1e-4, seed=1,
                momentum=0.5 if optimizer == "momentum" else 0.0, kernels=which, verbose=0)
        shrunk[which] = 1 - np.mean(net.weights[0] / before)      # after 320 steps
    # (float32 rounds w - 1e-7 w element by element, so even the NumPy path is a few % short)
    expected = {"sgd": 320e-7, "momentum": 320e-7 / 0.5}[optimizer]  # momentum: ~1/(1-μ) as much
    assert shrunk["numpy"] == pytest.approx(expected, rel=0.1)
    assert shrunk["numba"] == pytest.approx(shrunk["numpy"], rel=0.02)


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("recipe", ["book", "modern"])
def test_two_epochs_of_many_mini_batches_stay_with_the_reference(path, dtype, recipe):
    # 400 mini-batches at a learning rate where training is not chaotic (recipe A's η = 3
    # is: there a 1e-15 difference grows to 0.1 within an epoch on one path alone).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 20)).astype(dtype)
    y = rng.integers(0, 5, 2000)
    network = {"book": ("sigmoid", "quadratic"), "modern": (["relu", "softmax"], "cross_entropy")}
    options = {"book": dict(learning_rate=0.5), "modern": dict(learning_rate=0.05, momentum=0.9)}
    nets = {}
    for which in ("numpy", "numba"):
        net = bprop.Network([20, 15, 5], *network[recipe], dtype=dtype, seed=1)
        history = net.fit(X, y, epochs=2, batch_size=10, seed=2, kernels=which, verbose=0,
                          **options[recipe])
        nets[which] = (net, history)
    _assert_equal_to_reference(nets, dtype)
    assert nets["numpy"][1][-1]["accuracy"] == nets["numba"][1][-1]["accuracy"]


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_compiled_path_is_bit_reproducible_for_a_seed(path, dtype):
    X, y = _data([6, 5, 4], dtype, n=100)
    weights = []
    for _ in range(2):
        net = bprop.Network([6, 5, 4], ["relu", "softmax"], "cross_entropy", dtype=dtype, seed=1)
        net.fit(X, y, epochs=3, batch_size=16, optimizer="adam", learning_rate=0.01,
                seed=2, kernels="numba")
        weights.append(net.weights + net.biases)
    for a, b in zip(*weights):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_divergence_is_reported_at_the_same_mini_batch_on_both_paths(path):
    X, y = _data([6, 5, 4], "float64", n=64, regression=True)
    messages = []
    for which in ("numpy", "numba"):
        net = bprop.Network([6, 5, 4], ["relu", "identity"], "quadratic", seed=0)
        before = [w.copy() for w in net.weights]
        with pytest.raises(DivergenceError) as caught:
            net.fit(X, y, epochs=5, batch_size=8, learning_rate=1e80, kernels=which)
        messages.append(str(caught.value))
        for w, w0 in zip(net.weights, before):  # restored to the last finite epoch end: the start
            assert np.array_equal(w, w0)
    assert messages[0] == messages[1]


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("verbose", [0, 1])
def test_divergence_in_a_run_s_last_mini_batch_is_reported(path, verbose):
    # One mini-batch an epoch: each whole loop's last mini-batch is its first. The loop
    # once returned "1 done" both for a finished and a diverged run of one.
    X, y = _data([6, 5, 4], "float64", n=8, regression=True)
    messages = []
    for which in ("numpy", "numba"):
        net = bprop.Network([6, 5, 4], ["relu", "identity"], "quadratic", seed=0)
        with pytest.raises(DivergenceError) as caught:
            net.fit(X, y, epochs=5, batch_size=8, learning_rate=1e80, kernels=which,
                    verbose=verbose)
        messages.append(str(caught.value))
        assert all(np.isfinite(w).all() for w in net.weights)
    assert "mini-batch 1 of 1" in messages[0] and messages[0] == messages[1]


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_batch_callbacks_see_every_mini_batch_on_the_compiled_path(path):
    X, y = _data([6, 5, 4], "float64", n=40)
    seen = []

    class Count(bprop.Callback):   # batch_interval = 1, the default: every mini-batch
        def on_batch_end(self, trainer, batch, n_batches):
            seen.append((batch, n_batches, trainer.batch))

    net = bprop.Network([6, 5, 4], seed=0)
    net.fit(X, y, epochs=2, batch_size=16, callbacks=[Count()], kernels="numba")
    assert seen == [(0, 3, 1), (1, 3, 2), (2, 3, 3)] * 2


def _count_steps(monkeypatch):
    """Counts of the compiled path's two forms: per mini-batch steps and whole loops' mini-batches."""
    from bprop.kernels import step

    counts = {"step": 0, "whole": 0}
    original_step, original_run = step.CompiledTraining.step, step.CompiledTraining.run

    def counted_step(self, *args, **options):
        counts["step"] += 1
        return original_step(self, *args, **options)

    def counted_run(self, X, Y, labels, order, first, last, *args):
        counts["whole"] += last - first
        return original_run(self, X, Y, labels, order, first, last, *args)

    monkeypatch.setattr(step.CompiledTraining, "step", counted_step)
    monkeypatch.setattr(step.CompiledTraining, "run", counted_run)
    return counts


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_the_whole_loop_runs_with_the_progress_report_on(whole_loop, monkeypatch, capsys, verbose):
    # The progress report is a batch callback; it must not send training back to the
    # per-mini-batch form (it did: fit's default verbose=1 never used the whole loop).
    counts = _count_steps(monkeypatch)
    X, y = _data([6, 5, 4], "float64", n=200)
    bprop.Network([6, 5, 4], seed=0).fit(X, y, epochs=2, batch_size=10, kernels="numba",
                                         verbose=verbose)
    assert counts == {"step": 0, "whole": 40}
    assert capsys.readouterr().out.count("epoch ") == (2 if verbose else 0)


def test_a_callback_that_allows_it_is_called_after_runs_of_mini_batches(whole_loop):
    X, y = _data([6, 5, 4], "float64", n=2000)
    calls = {"any": [], "every 7": []}

    class Any(bprop.Callback):
        batch_interval = None

        def on_batch_end(self, trainer, batch, n_batches):
            calls["any"].append((batch, trainer.batch))

    class Every7(bprop.Callback):
        batch_interval = 7

        def on_batch_end(self, trainer, batch, n_batches):
            calls["every 7"].append(trainer.batch)

    bprop.Network([6, 5, 4], seed=0).fit(X, y, epochs=1, batch_size=10, kernels="numba",
                                         callbacks=[Any()], verbose=0)
    ends = [done for _, done in calls["any"]]
    assert all(batch == done - 1 for batch, done in calls["any"])
    assert ends == sorted(ends) and ends[-1] == 200 and 10 <= len(ends) <= 60

    calls["any"].clear()
    bprop.Network([6, 5, 4], seed=0).fit(X, y, epochs=1, batch_size=10, kernels="numba",
                                         callbacks=[Any(), Every7()], verbose=0)
    assert set(range(7, 200, 7)) <= set(calls["every 7"])      # each multiple of 7 is seen
    assert calls["every 7"][-1] == 200


def test_a_stop_from_a_batch_callback_ends_the_whole_loop_where_it_was(whole_loop):
    X, y = _data([6, 5, 4], "float64", n=2000)      # 200 mini-batches: runs of 4

    class StopAt5(bprop.Callback):
        batch_interval = 5

        def on_batch_end(self, trainer, batch, n_batches):
            trainer.stop = trainer.batch >= 5

    from bprop.training import Trainer

    trainer = Trainer(bprop.Network([6, 5, 4], seed=0), epochs=3, batch_size=10,
                      callbacks=[StopAt5()], kernels="numba", verbose=0)
    trainer.run(X, y)
    assert (trainer.epoch, trainer.batch) == (0, 5) and trainer.history == []


def test_trainer_says_which_path_ran():
    from bprop.training import Trainer

    X, y = _data([6, 5, 4], "float64")
    for which in ("numpy", "numba"):
        trainer = Trainer(bprop.Network([6, 5, 4], seed=0), epochs=1, kernels=which)
        trainer.run(X, y)
        assert trainer.kernels_used == which


@pytest.mark.parametrize("which", ["numpy", "numba"])
def test_a_compiled_run_holds_numpy_s_openblas_to_one_thread_and_gives_it_back(which):
    """OpenBLAS's threads spin after each call and take the compiled loop's cores: in every
    epoch of a compiled fit (seen where the validation score has just run) NumPy's own
    OpenBLAS is on one thread; the NumPy path keeps every thread; both restore it."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from bprop.callbacks import Callback

    def numpy_openblas_threads():
        folder = Path(np.__file__).resolve().parent
        return [info["num_threads"] for info in threadpoolctl.threadpool_info()
                if info["internal_api"] == "openblas"
                and Path(info["filepath"]).resolve().parent.name in (folder.name, folder.name + ".libs")]

    before = numpy_openblas_threads()
    if not before or max(before) < 2:
        pytest.skip("NumPy's BLAS here is not OpenBLAS on two or more threads")
    seen = []

    class Watch(Callback):
        def on_epoch_end(self, trainer, record):
            seen.append(numpy_openblas_threads())

    X, y = _data([6, 5, 4], "float64")
    bprop.Network([6, 5, 4], seed=0).fit(X, y, epochs=2, batch_size=8, kernels=which, verbose=0,
                                        validation_data=(X, y), callbacks=[Watch()])
    assert seen == [[1] * len(before)] * 2 if which == "numba" else seen == [before] * 2
    assert numpy_openblas_threads() == before


def test_overlapping_runs_share_the_first_hold_which_gives_the_threads_back():
    """Two runs in two Python threads: the first holds NumPy's OpenBLAS, the second
    shares it, and the first gives it back when it ends, in its own thread (threadpoolctl
    lets only the thread that set OpenBLAS's count change it); after both, a new run
    holds again."""
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")
    from bprop.kernels.blas import numpy_blas_one_thread

    def threads():
        return sorted(info["num_threads"] for info in threadpoolctl.threadpool_info()
                      if info["internal_api"] == "openblas")

    before = threads()
    if not before or max(before) < 2:
        pytest.skip("no OpenBLAS on two or more threads here")
    first, second, again = numpy_blas_one_thread(), numpy_blas_one_thread(), numpy_blas_one_thread()
    entered, leave, seen = threading.Event(), threading.Event(), {}

    def first_run():
        with first:
            seen["held"] = threads()
            entered.set()
            leave.wait(30)

    worker = threading.Thread(target=first_run)
    worker.start()
    try:
        assert entered.wait(30)
        with second:                          # the second run starts while the first trains,
            leave.set()                       # and the first ends before it
            worker.join(30)
            seen["after first"] = threads()
        seen["after both"] = threads()
        with again:
            seen["again"] = threads()
    finally:
        leave.set()
        worker.join(30)
    assert min(seen["held"]) == 1
    assert seen["after first"] == seen["after both"] == before
    assert min(seen["again"]) == 1 and threads() == before


# ---- choosing the path -------------------------------------------------------------------
def test_auto_uses_numpy_for_a_short_training_and_numba_for_a_long_one(monkeypatch):
    monkeypatch.delenv(kernels.ENVIRONMENT_VARIABLE, raising=False)
    assert kernels.choose("auto", [64, 100, 10], 1437, 30, 32) == "numpy"   # bprop train's digits
    assert kernels.choose("auto", [784, 512, 512, 10], 50_000, 30, 128) == "numba"


def test_auto_compiles_shorter_trainings_once_the_loops_are_cached(monkeypatch):
    monkeypatch.delenv(kernels.ENVIRONMENT_VARIABLE, raising=False)
    recipe_d = ([784, 100, 10], 50_000, 30, 128)      # the benchmark's time to 85 %: ~18 s estimated
    monkeypatch.setattr(kernels, "loops_cached", lambda folder=None: True)
    assert kernels.choose("auto", *recipe_d) == "numba"
    assert kernels.choose("auto", [784, 100, 10], 50_000, 3, 128) == "numpy"      # ~1.8 s
    assert kernels.choose("auto", [64, 100, 10], 1437, 30, 32) == "numpy"         # bprop train's digits
    monkeypatch.setattr(kernels, "loops_cached", lambda folder=None: False)
    assert kernels.choose("auto", *recipe_d) == "numpy"


def test_the_loops_count_as_cached_only_with_this_versions_stamp_and_both_loops(tmp_path):
    assert not kernels.loops_cached(tmp_path)
    (tmp_path / kernels.CACHE_STAMP).write_text(kernels.source_digest())
    assert not kernels.loops_cached(tmp_path)
    (tmp_path / "epoch.train_batches-36.py311.nbi").write_text("")
    assert not kernels.loops_cached(tmp_path)
    (tmp_path / "split.train_split-123.py311.nbi").write_text("")
    assert kernels.loops_cached(tmp_path)
    (tmp_path / kernels.CACHE_STAMP).write_text("an older version's digest")
    assert not kernels.loops_cached(tmp_path)


def test_loops_cached_finds_what_numba_cached_here(monkeypatch):
    # The file names it looks for are numba's own: after both loops have trained, a
    # writable cache beside the modules holds them.
    from bprop.kernels import compiler, epoch, split

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    folders = {getattr(loop._cache, "_cache_path", None) for loop in (epoch.train_batches, split.train_split)}
    here = str(Path(kernels.__file__).parent / "__pycache__")
    if not compiler.CACHE_USED or folders != {here}:
        pytest.skip("numba caches the kernels elsewhere here")
    X, y = _data([6, 5, 4], "float32", n=64)
    for split_min_work in (10**12, -1):                     # the whole loop, then the split
        from bprop.kernels import step

        monkeypatch.setattr(step, "SPLIT_MIN_WORK", split_min_work)
        monkeypatch.setattr(step, "SPLIT_BLAS", ("mkl", "scipy"))
        monkeypatch.setattr(step, "SPLIT_PARTS", 2)
        bprop.Network([6, 5, 4], ["relu", "softmax"], "cross_entropy", dtype="float32",
                      seed=0).fit(X, y, epochs=1, batch_size=16, kernels="numba", verbose=0)
    assert kernels.loops_cached()


@pytest.mark.parametrize("value", ["numpy", "numba"])
def test_the_environment_variable_decides_auto_but_not_an_explicit_choice(monkeypatch, value):
    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, value)
    assert kernels.choose("auto", [784, 512, 512, 10], 50_000, 30, 128) == value
    assert kernels.choose("auto", [2, 2], 4, 1, 1) == value
    other = "numpy" if value == "numba" else "numba"
    assert kernels.choose(other, [2, 2], 4, 1, 1) == other


def test_a_bad_environment_variable_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, "fast")
    with pytest.raises(InputError, match="BPROP_KERNELS='fast' is not one of auto, numpy, numba"):
        kernels.choose("auto", [2, 2], 4, 1, 1)


def test_a_run_s_own_arguments_are_checked_before_the_kernels_are_chosen(monkeypatch):
    """The fit call's own problems come first, and a refused run says no path ran."""
    from bprop.training import Trainer

    monkeypatch.setenv(kernels.ENVIRONMENT_VARIABLE, "fast")   # would be refused when chosen
    X, y = _data([6, 5, 4], "float64")
    trainer = Trainer(bprop.Network([6, 5, 4], seed=0), epochs=1, early_stopping=2)
    with pytest.raises(InputError, match="early_stopping needs validation_data"):
        trainer.run(X, y)
    with pytest.raises(InputError, match=r"validation_data must be a pair \(X_val, y_val\)"):
        trainer.run(X, y, validation_data=X)
    assert trainer.kernels_used is None
    with pytest.raises(InputError, match="BPROP_KERNELS='fast' is not one of"):
        trainer.run(X, y, validation_data=(X, y))
    with pytest.raises(InputError, match="the 'plateau' schedule watches validation accuracy"):
        bprop.Network([6, 5, 4], seed=0).fit(X, y, epochs=1, schedule="plateau")
    monkeypatch.setenv("BPROP_MEMORY_LIMIT", "1000")
    monkeypatch.delenv(kernels.ENVIRONMENT_VARIABLE)
    trainer = Trainer(bprop.Network([6, 5, 4], seed=0), epochs=1, kernels="numba")
    with pytest.raises(InputError, match="needs .* of memory"):
        trainer.run(X, y)
    assert trainer.kernels_used is None and trainer.blas_used is None


def test_an_unknown_kernels_option_is_refused():
    net = bprop.Network([2, 3, 2], seed=0)
    with pytest.raises(InputError, match="unknown kernels 'fast'"):
        net.fit(np.zeros((4, 2)), [0, 1, 0, 1], kernels="fast")


def test_numba_requested_without_numba_installed_says_what_to_do(monkeypatch):
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    with pytest.raises(InputError, match="needs numba, which is not installed: pip install numba"):
        kernels.choose("numba", [2, 2], 4, 1, 1)
    assert kernels.choose("auto", [784, 512, 512, 10], 50_000, 30, 128) == "numpy"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output, cost", [("softmax", "cross_entropy"), ("sigmoid", "quadratic")])
def test_the_compiled_tally_counts_classes_as_argmax_does_with_ties_and_nans(dtype, output, cost):
    """Ties go to the first largest output, a row with NaNs to its first NaN, as NumPy's argmax."""
    from bprop import activations, costs
    from bprop.kernels.codes import ACTIVATION_CODES, FUSED_CROSS_ENTROPY, QUADRATIC
    from bprop.kernels.tally import tally

    rng = np.random.default_rng(4)
    z = rng.normal(size=(200, 5)).astype(dtype)
    z[::7, 3] = z[::7, 1] = 40.0                      # ties (σ saturates to 1 in both dtypes)
    z[::11, 2] = np.nan                               # NaN rows
    z[5, [0, 4]] = np.nan
    labels = rng.integers(0, 5, 200)
    Y = np.eye(5, dtype=dtype)[labels]
    rows = rng.permutation(200)
    zs = z[rows]
    sigma = activations.get(output)
    code = FUSED_CROSS_ENTROPY if cost == "cross_entropy" else QUADRATIC
    total, correct = tally(zs, Y, rows, labels, ACTIVATION_CODES[output], 0.0, code)
    with np.errstate(invalid="ignore"):
        a = sigma.forward(zs, np.empty_like(zs))
    assert correct == int((a.argmax(axis=1) == labels[rows]).sum())
    assert np.isnan(total)
    finite = np.isfinite(zs).all(axis=1)
    expected = costs.get(cost, sigma).value(zs[finite], a[finite], Y[rows[finite]]).sum()
    total_finite, _ = tally(zs[finite], Y, rows[finite], labels, ACTIVATION_CODES[output], 0.0, code)
    assert total_finite == pytest.approx(float(expected), rel=TOLERANCE[dtype])


def test_the_progress_bar_counts_every_mini_batch_of_a_whole_loop(whole_loop):
    import io

    from bprop.progress import ProgressReporter
    from bprop.training import Trainer

    positions = []

    class Watched(ProgressReporter):
        def on_batch_end(self, trainer, batch, n_batches):
            super().on_batch_end(trainer, batch, n_batches)
            positions.append((trainer.epoch, self.bar.n, self.bar.total))

    X, y = _data([6, 5, 4], "float64", n=1000)
    reporter = Watched(stream=io.StringIO(), bar_stream=io.StringIO(), bar=True)
    Trainer(bprop.Network([6, 5, 4], seed=0), epochs=2, batch_size=5, callbacks=[reporter],
            kernels="numba", verbose=0).run(X, y)
    for epoch in (0, 1):
        counts = [n for e, n, total in positions if e == epoch]
        assert 10 <= len(counts) < 200 and counts == sorted(counts) and counts[-1] == 200
    assert {total for _, _, total in positions} == {200}


@pytest.mark.parametrize("interval", [0, -3, 2.5, True, "5"])
def test_a_callback_with_a_bad_batch_interval_is_refused_in_one_line(interval):
    class Odd(bprop.Callback):
        batch_interval = interval

        def on_batch_end(self, trainer, batch, n_batches):
            pass

    X, y = _data([6, 5, 4], "float64")
    with pytest.raises(InputError, match="Odd.batch_interval must be None or a whole number"):
        bprop.Network([6, 5, 4], seed=0).fit(X, y, epochs=1, callbacks=[Odd()], kernels="numba")


# A fresh process whose first compiled training is the threaded loop, on recipe C's
# network with Adam: a loop loaded from numba's cache does not start the threads its
# parallel kernels need (numba issue #8578); it crashed before CompiledTraining started them.
THREADED_FIRST = """
import numpy as np, bprop
rng = np.random.default_rng(0)
X, y = rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64)
net = bprop.Network([784, 512, 512, 10], ["relu", "relu", "softmax"], "cross_entropy",
                    dtype="float32", seed=0)
net.fit(X, y, epochs=1, batch_size=32, optimizer="adam", learning_rate=0.001,
        kernels="numba", verbose=0)
print(np.isfinite(net.weights[0]).all())
"""


def test_the_threaded_loop_runs_from_the_cache_in_a_fresh_process():
    import subprocess
    import sys

    from bprop.kernels import step

    assert step.form([784, 512, 512, 10], 32)[0] == "threaded"
    for _ in range(2):                       # the second loads what the first compiled
        done = subprocess.run([sys.executable, "-c", THREADED_FIRST], capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == ["True"]
