"""Training: a real data set, precision, reproducibility, schedules, early stopping,
callbacks, divergence, L2 and the history."""
import json
import math

import numpy as np
import pytest

import bprop
from bprop import Callback, Network, schedules
from bprop.training import Trainer


# ---- a real data set ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 handwritten digits (bundled, offline), pixels scaled to [0, 1]."""
    datasets = pytest.importorskip("sklearn.datasets")
    model_selection = pytest.importorskip("sklearn.model_selection")
    data = datasets.load_digits()
    return model_selection.train_test_split(data.data / 16.0, data.target, test_size=0.25,
                                            random_state=0, stratify=data.target)


def test_relu_softmax_network_reaches_95_percent_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    net = Network([64, 64, 10], ["relu", "softmax"], "cross_entropy", seed=0)
    net.fit(X_train, y_train, epochs=20, batch_size=32, learning_rate=0.1, momentum=0.9)
    assert net.evaluate(X_test, y_test)["accuracy"] >= 0.95


def test_nielsens_sigmoid_quadratic_recipe_reaches_95_percent_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    net = Network([64, 30, 10], "sigmoid", "quadratic", seed=0)
    net.fit(X_train, y_train, epochs=30, batch_size=10, learning_rate=3.0)
    assert net.evaluate(X_test, y_test)["accuracy"] >= 0.95


def test_float32_adam_network_reaches_95_percent_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    net = Network([64, 64, 10], ["tanh", "softmax"], "cross_entropy", dtype="float32", seed=0)
    net.fit(X_train.astype(np.float32), y_train, epochs=20, batch_size=32, optimizer="adam",
            learning_rate=0.003)
    assert net.evaluate(X_test, y_test)["accuracy"] >= 0.95


# ---- small problems -------------------------------------------------------------------------------
def blobs(n=120, n_classes=3, n_features=4, seed=0):
    """Separable-ish classes around random centres."""
    rng = np.random.default_rng(seed)
    centres = 3 * rng.standard_normal((n_classes, n_features))
    y = rng.integers(0, n_classes, n)
    return centres[y] + rng.standard_normal((n, n_features)), y


def noise(n=60, n_classes=3, n_features=4, seed=1):
    """Labels unrelated to the inputs: validation accuracy wanders and stops improving."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_features)), rng.integers(0, n_classes, n)


def classifier(dtype="float64", seed=0):
    return Network([4, 8, 3], ["tanh", "softmax"], "cross_entropy", dtype=dtype, seed=seed)


# ---- precision ------------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [
    dict(),
    dict(momentum=0.9),
    dict(momentum=0.9, nesterov=True),
    dict(optimizer="adam"),
    dict(l2=0.5, dropout=0.3),
])
def test_float32_training_keeps_every_array_float32(options):
    X, y = blobs()
    net = classifier("float32")
    trainer = Trainer(net, epochs=2, batch_size=16, **options)
    trainer.run(X.astype(np.float32), y, validation_data=noise())
    assert all(p.dtype == np.float32 for p in net.weights + net.biases)
    assert net.feedforward(X).dtype == np.float32
    assert all(g.dtype == np.float32 for grads in net.backprop(X[:5], y[:5]) for g in grads)
    arrays, _ = trainer.optimizer.state()
    assert all(a.dtype == np.float32 for a in arrays.values())


def test_float32_training_with_float64_inputs_still_keeps_float32_parameters():
    X, y = blobs()
    net = classifier("float32")
    net.fit(X, y, epochs=1, batch_size=16, momentum=0.5, l2=0.1)
    assert all(p.dtype == np.float32 for p in net.weights + net.biases)


def test_history_holds_plain_json_numbers():
    X, y = blobs()
    history = classifier("float32").fit(X.astype(np.float32), y, epochs=2, validation_data=noise())
    json.dumps(history)  # no NumPy scalars or arrays
    assert all(isinstance(r["cost"], float) and isinstance(r["validation_cost"], float) for r in history)


# ---- reproducibility --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_gives_bit_identical_weights_after_training(dtype):
    X, y = blobs()
    results = []
    for _ in range(2):
        net = classifier(dtype, seed=7)
        net.fit(X, y, epochs=3, batch_size=10, momentum=0.9, dropout=0.2, l2=0.1)
        results.append(net.weights + net.biases)
    for p, q in zip(*results):
        assert np.array_equal(p, q)


def test_different_seeds_give_different_weights_after_training():
    X, y = blobs()
    a, b = classifier(seed=1), classifier(seed=2)
    a.fit(X, y, epochs=2)
    b.fit(X, y, epochs=2)
    assert not np.array_equal(a.weights[0], b.weights[0])


def test_fit_seed_controls_shuffling_independently_of_the_initial_weights():
    X, y = blobs()
    nets = [classifier(seed=3) for _ in range(3)]
    for net, fit_seed in zip(nets, [10, 10, 11]):
        net.fit(X, y, epochs=2, batch_size=10, seed=fit_seed)
    assert np.array_equal(nets[0].weights[0], nets[1].weights[0])
    assert not np.array_equal(nets[0].weights[0], nets[2].weights[0])


# ---- mini-batches -----------------------------------------------------------------------------------
def test_each_epoch_visits_every_example_once_in_a_new_order(monkeypatch):
    n, batch_size = 10, 3
    X = np.column_stack([np.arange(n, dtype=float), np.zeros((n, 3))])
    y = np.arange(n) % 3
    seen = []
    original = Network.backward

    def recording(self, X_batch, Y_batch, workspace, masks=None, mean=True):
        seen.append(X_batch[:, 0].astype(int).tolist())
        return original(self, X_batch, Y_batch, workspace, masks, mean)

    monkeypatch.setattr(Network, "backward", recording)
    classifier().fit(X, y, epochs=3, batch_size=batch_size, seed=0)
    assert [len(rows) for rows in seen] == [3, 3, 3, 1] * 3
    epochs = [sum(seen[i:i + 4], []) for i in (0, 4, 8)]
    assert all(sorted(order) == list(range(n)) for order in epochs)
    assert len({tuple(order) for order in epochs}) == 3


def test_a_batch_size_larger_than_the_data_uses_one_batch_per_epoch():
    X, y = blobs(n=20)
    batches = []

    class Count(Callback):
        def on_batch_end(self, trainer, batch, n_batches):
            batches.append(n_batches)

    classifier().fit(X, y, epochs=2, batch_size=1000, callbacks=[Count()])
    assert batches == [1, 1]


def test_dropout_p_is_the_probability_of_dropping_and_kept_units_are_scaled_up():
    net = Network([4, 200, 200, 3], ["relu", "relu", "softmax"], "cross_entropy", seed=0)
    trainer = Trainer(net, dropout=0.8, seed=0)
    masks = trainer._dropout_masks(500)
    assert masks[-1] is None  # never on the output layer
    for mask in masks[:-1]:
        assert (mask == 0).mean() == pytest.approx(0.8, abs=0.01)
        np.testing.assert_allclose(mask[mask != 0], 1 / 0.2)


# ---- the update rule -----------------------------------------------------------------------------------
def one_layer_sigmoid_gradient(net, X, Y):
    """∇C of the mean quadratic cost for a single sigmoid layer, written out by hand."""
    w, b = net.weights[0], net.biases[0]
    a = 1 / (1 + np.exp(-(X @ w.T + b)))
    delta = (a - Y) * a * (1 - a)
    return delta.T @ X / len(X), delta.mean(axis=0)


def test_one_sgd_step_is_w_minus_eta_times_the_mean_gradient():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 3)), rng.uniform(0, 1, (8, 2))
    net = Network([3, 2], "sigmoid", "quadratic", seed=1)
    w, b = net.weights[0].copy(), net.biases[0].copy()
    nabla_w, nabla_b = one_layer_sigmoid_gradient(net, X, Y)
    eta = 0.5
    net.fit(X, Y, epochs=1, batch_size=8, learning_rate=eta)
    np.testing.assert_allclose(net.weights[0], w - eta * nabla_w, rtol=1e-12)
    np.testing.assert_allclose(net.biases[0], b - eta * nabla_b, rtol=1e-12)


def test_l2_step_shrinks_weights_by_one_minus_eta_lambda_over_n_and_leaves_biases_alone():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 3)), rng.uniform(0, 1, (8, 2))
    net = Network([3, 2], "sigmoid", "quadratic", seed=1)
    w, b = net.weights[0].copy(), net.biases[0].copy()
    nabla_w, nabla_b = one_layer_sigmoid_gradient(net, X, Y)
    eta, lmbda, n = 0.5, 2.0, len(X)
    net.fit(X, Y, epochs=1, batch_size=n, learning_rate=eta, l2=lmbda)
    np.testing.assert_allclose(net.weights[0], (1 - eta * lmbda / n) * w - eta * nabla_w, rtol=1e-12)
    np.testing.assert_allclose(net.biases[0], b - eta * nabla_b, rtol=1e-12)


def test_l2_shrinkage_uses_the_training_set_size_not_the_mini_batch_size():
    # Every example identical, so whichever rows the first mini-batch holds, its gradient is
    # the per-example gradient; stop after that one step.
    n, m = 12, 3
    X = np.tile([[0.3, -1.2, 0.8]], (n, 1))
    Y = np.tile([[0.9, 0.1]], (n, 1))
    net = Network([3, 2], "sigmoid", "quadratic", seed=2)
    w = net.weights[0].copy()
    nabla_w, _ = one_layer_sigmoid_gradient(net, X[:1], Y[:1])

    class StopAfterOneStep(Callback):
        def on_batch_end(self, trainer, batch, n_batches):
            trainer.stop = True

    eta, lmbda = 0.4, 3.0
    net.fit(X, Y, epochs=1, batch_size=m, learning_rate=eta, l2=lmbda, callbacks=[StopAfterOneStep()])
    np.testing.assert_allclose(net.weights[0], (1 - eta * lmbda / n) * w - eta * nabla_w, rtol=1e-12)


@pytest.mark.parametrize("optimizer, expected", [("sgd", 0.1), ("adam", 0.001)])
def test_default_learning_rate_depends_on_the_optimizer(optimizer, expected):
    X, y = blobs(n=20)
    history = classifier().fit(X, y, epochs=1, optimizer=optimizer)
    assert history[0]["learning_rate"] == expected


# ---- the history --------------------------------------------------------------------------------------
def test_history_has_one_record_per_epoch_with_every_field():
    X, y = blobs()
    history = classifier().fit(X, y, epochs=3, validation_data=noise())
    assert [r["epoch"] for r in history] == [1, 2, 3]
    for record in history:
        assert set(record) >= {"epoch", "cost", "accuracy", "validation_cost", "validation_accuracy",
                               "learning_rate", "seconds"}
        assert record["cost"] > 0 and 0 <= record["accuracy"] <= 1
        assert 0 <= record["validation_accuracy"] <= 1 and record["seconds"] >= 0
    assert history.column("epoch") == [1, 2, 3]


def test_history_validation_fields_are_none_without_validation_data():
    X, y = blobs()
    history = classifier().fit(X, y, epochs=1)
    assert history[0]["validation_cost"] is None and history[0]["validation_accuracy"] is None


def test_history_accuracy_is_none_for_regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    history = Network([4, 1], "identity", seed=0).fit(X, X.sum(axis=1), epochs=1, learning_rate=0.01)
    assert history[0]["accuracy"] is None and history[0]["cost"] > 0


def test_last_validation_record_equals_evaluating_the_trained_network():
    X, y = blobs()
    X_val, y_val = noise()
    net = classifier()
    history = net.fit(X, y, epochs=3, validation_data=(X_val, y_val))
    result = net.evaluate(X_val, y_val)
    assert history[-1]["validation_cost"] == pytest.approx(result["cost"], rel=1e-12)
    assert history[-1]["validation_accuracy"] == result["accuracy"]


def test_training_cost_falls_on_a_learnable_problem():
    X, y = blobs()
    history = classifier().fit(X, y, epochs=10, batch_size=10, learning_rate=0.1)
    assert history[-1]["cost"] < 0.5 * history[0]["cost"]


# ---- schedules ----------------------------------------------------------------------------------------------
def test_step_decay_multiplies_eta_by_the_factor_every_step_epochs():
    X, y = blobs()
    schedule = schedules.StepDecay(0.8, step=3, factor=0.5)
    history = classifier().fit(X, y, epochs=8, schedule=schedule)
    assert history.column("learning_rate") == [0.8] * 3 + [0.4] * 3 + [0.2] * 2


def test_plateau_schedule_halves_eta_after_patience_epochs_without_improvement():
    schedule = schedules.HalveOnPlateau(1.0, patience=3)
    accuracies = [0.5, 0.6, 0.6, 0.55, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]
    rates = []
    for accuracy in accuracies:
        schedule.epoch_end({"validation_accuracy": accuracy})
        rates.append(schedule.learning_rate)
    # New bests at epochs 1, 2 and 6; three epochs without one after 2 and after 6, then 3 more.
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]


def test_plateau_schedule_stops_training_once_eta_falls_to_its_floor():
    schedule = schedules.HalveOnPlateau(1.0, patience=1, stop_below=4)
    stops = [schedule.epoch_end({"validation_accuracy": 0.5}) for _ in range(3)]
    # 1.0 (first best), then 0.5, then 0.25 = 1/4: stop.
    assert stops == [False, False, True]


def test_plateau_schedule_in_fit_halves_eta_when_validation_accuracy_stalls():
    X, y = blobs()
    X_val, y_val = noise()
    patience = 2
    history = classifier().fit(X, y, epochs=15, schedule=schedules.HalveOnPlateau(0.5, patience=patience),
                               validation_data=(X_val, y_val))
    rates, accuracies = history.column("learning_rate"), history.column("validation_accuracy")
    # Replay the rule on the recorded accuracies: η for epoch e+1 follows from epochs 1..e.
    best, waited, eta = None, 0, 0.5
    for rate, accuracy in zip(rates, accuracies):
        assert rate == eta
        if best is None or accuracy > best:
            best, waited = accuracy, 0
        else:
            waited += 1
            if waited == patience:
                eta, waited = eta / 2, 0
    assert min(rates) < 0.5  # it did halve at least once


def test_plateau_schedule_without_validation_data_is_refused():
    X, y = blobs()
    with pytest.raises(ValueError, match="validation"):
        classifier().fit(X, y, epochs=2, schedule="plateau")


# ---- early stopping -----------------------------------------------------------------------------------------
class Snapshots(Callback):
    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, trainer, record):
        self.weights[record["epoch"]] = [w.copy() for w in trainer.network.weights]


def test_early_stopping_stops_patience_epochs_after_the_best_and_restores_its_weights():
    X, y = blobs()
    X_val, y_val = noise()
    snapshots, patience = Snapshots(), 3
    net = classifier()
    history = net.fit(X, y, epochs=60, batch_size=10, learning_rate=0.3,
                      validation_data=(X_val, y_val), early_stopping=patience, callbacks=[snapshots])
    accuracies = history.column("validation_accuracy")
    best = int(np.argmax(accuracies)) + 1  # first epoch with the highest accuracy
    assert len(history) == best + patience < 60
    for w, saved in zip(net.weights, snapshots.weights[best]):
        np.testing.assert_array_equal(w, saved)
    assert not np.array_equal(net.weights[0], snapshots.weights[len(history)][0])


def test_early_stopping_on_regression_watches_validation_cost():
    rng = np.random.default_rng(3)
    X, X_val = rng.standard_normal((40, 4)), rng.standard_normal((20, 4))
    y, y_val = X.sum(axis=1), rng.standard_normal(20)  # validation targets are noise
    snapshots, patience = Snapshots(), 2
    net = Network([4, 6, 1], ["tanh", "identity"], seed=0)
    history = net.fit(X, y, epochs=60, learning_rate=0.05, validation_data=(X_val, y_val),
                      early_stopping=patience, callbacks=[snapshots])
    best = int(np.argmin(history.column("validation_cost"))) + 1
    assert len(history) == best + patience
    np.testing.assert_array_equal(net.weights[0], snapshots.weights[best][0])


def test_early_stopping_without_validation_data_is_refused():
    X, y = blobs()
    with pytest.raises(ValueError, match="early_stopping needs validation_data"):
        classifier().fit(X, y, epochs=2, early_stopping=2)


# ---- callbacks ----------------------------------------------------------------------------------------------
def test_function_callback_is_called_once_per_epoch_with_that_epochs_record():
    X, y = blobs()
    records = []
    history = classifier().fit(X, y, epochs=4, callbacks=[records.append])
    assert len(records) == 4
    assert all(record is entry for record, entry in zip(records, history))


def test_function_callback_returning_true_stops_training():
    X, y = blobs()
    history = classifier().fit(X, y, epochs=10, callbacks=[lambda record: record["epoch"] == 2])
    assert len(history) == 2


def test_callback_object_hooks_are_called_the_right_number_of_times():
    X, y = blobs(n=50)
    counts = {"begin": 0, "batch": 0, "epoch": 0, "end": 0}

    class Counter(Callback):
        def on_train_begin(self, trainer):
            counts["begin"] += 1

        def on_batch_end(self, trainer, batch, n_batches):
            counts["batch"] += 1

        def on_epoch_end(self, trainer, record):
            counts["epoch"] += 1

        def on_train_end(self, trainer):
            counts["end"] += 1

    classifier().fit(X, y, epochs=3, batch_size=20, callbacks=[Counter()])
    assert counts == {"begin": 1, "batch": 3 * math.ceil(50 / 20), "epoch": 3, "end": 1}


# ---- divergence ---------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_divergence_raises_naming_epoch_and_mini_batch_and_keeps_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5))
    y = X @ rng.standard_normal(5)
    net = Network([5, 8, 1], "identity", seed=0)
    initial = [w.copy() for w in net.weights]
    with pytest.raises(bprop.DivergenceError) as caught:
        net.fit(X, y, epochs=3, batch_size=10, learning_rate=1e6)
    message = str(caught.value)
    assert "epoch 1" in message and "mini-batch" in message and "smaller learning rate" in message
    assert isinstance(caught.value, ArithmeticError)
    assert all(np.isfinite(w).all() for w in net.weights + net.biases)
    # Diverged in the first epoch: back to the weights it started from.
    for w, w0 in zip(net.weights, initial):
        np.testing.assert_array_equal(w, w0)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_divergence_after_some_epochs_restores_the_last_completed_epochs_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5))
    y = X @ rng.standard_normal(5)
    net = Network([5, 8, 1], ["tanh", "identity"], seed=0)
    snapshots = Snapshots()
    with pytest.raises(bprop.DivergenceError, match=r"epoch (\d+), mini-batch \d+ of 10") as caught:
        net.fit(X, y, epochs=10, batch_size=10, learning_rate=1e6, callbacks=[snapshots])
    failed_epoch = int(str(caught.value).split("epoch ")[1].split(",")[0])
    assert failed_epoch > 1 and max(snapshots.weights) == failed_epoch - 1
    for w, saved in zip(net.weights, snapshots.weights[failed_epoch - 1]):
        np.testing.assert_array_equal(w, saved)


@pytest.mark.parametrize("options", [
    {"optimizer": "sgd"}, {"optimizer": "sgd", "momentum": 0.9}, {"optimizer": "sgd", "l2": 2.0},
    {"optimizer": "adam"},
])
def test_training_step_on_summed_gradients_equals_the_reference_mean_gradient_step(options):
    # The loop hands the optimizer Σ_x ∇C_x and m; the reference is backprop's mean gradient.
    from bprop import optimizers

    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((12, 5)), rng.integers(0, 3, 12)
    net = Network([5, 7, 3], ["tanh", "softmax"], "cross_entropy", seed=1)
    reference = Network([5, 7, 3], ["tanh", "softmax"], "cross_entropy", seed=1)
    eta, l2 = 0.3, options.get("l2", 0.0)
    net.fit(X, y, epochs=1, batch_size=12, learning_rate=eta, seed=0, **options)

    nabla_w, nabla_b = reference.backprop(X, y)
    for w, nabla in zip(reference.weights, nabla_w):
        nabla += (l2 / len(X)) * w
    optimizer = optimizers.get(options["optimizer"], options.get("momentum", 0.0))
    params = [p for pair in zip(reference.weights, reference.biases) for p in pair]
    optimizer.step(params, [g for pair in zip(nabla_w, nabla_b) for g in pair], eta)
    for got, want in zip(net.weights + net.biases, reference.weights + reference.biases):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_divergence_in_an_epochs_last_step_restores_finite_weights():
    # One mini-batch per epoch: the update that overflows is the last of its epoch.
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    net = Network([3, 4, 2], ["sigmoid", "softmax"], "cross_entropy", dtype="float32", seed=0)
    with pytest.raises(bprop.DivergenceError):
        net.fit(X, y, epochs=5, batch_size=8, learning_rate=3e38)
    assert all(np.isfinite(p).all() for p in net.weights + net.biases)


def test_a_run_stopped_early_stays_stopped_when_resumed_from_its_state():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    net = Network([3, 4, 2], ["tanh", "softmax"], "cross_entropy", seed=0)
    trainer = bprop.Trainer(net, epochs=50, batch_size=8, learning_rate=0.5, early_stopping=2)
    history = trainer.run(X, y, validation_data=(X[:10], y[:10]))
    assert len(history) < 50
    arrays, info = trainer.state()
    resumed = bprop.Trainer(net, epochs=50, batch_size=8, learning_rate=0.5, early_stopping=2)
    resumed.load_state(arrays, info)
    assert len(resumed.run(X, y, validation_data=(X[:10], y[:10]))) == len(history)


def test_resuming_with_a_different_batch_size_is_refused():
    net = Network([3, 2], "sigmoid", seed=0)
    trainer = bprop.Trainer(net, epochs=1, batch_size=4)
    trainer.run(np.ones((8, 3)), np.array([0, 1] * 4))
    arrays, info = trainer.state()
    with pytest.raises(ValueError, match="batch_size=4"):
        bprop.Trainer(net, epochs=2, batch_size=5).load_state(arrays, info)
