"""Errors at the boundary: each bad input raises a ValueError (bprop.InputError) whose
message names the problem and the expected value, at every public entry point."""
import numpy as np
import pytest

import bprop
from bprop import InputError, Network

N_IN, N_OUT, M = 4, 3, 10


@pytest.fixture
def net():
    return Network([N_IN, 5, N_OUT], ["relu", "softmax"], "cross_entropy", seed=0)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((M, N_IN)), rng.integers(0, N_OUT, M)


# Every public function that takes X (and y where it needs one).
ENTRY_POINTS = {
    "feedforward": lambda net, X, y: net.feedforward(X),
    "predict": lambda net, X, y: net.predict(X),
    "predict_proba": lambda net, X, y: net.predict_proba(X),
    "evaluate": lambda net, X, y: net.evaluate(X, y),
    "backprop": lambda net, X, y: net.backprop(X, y),
    "fit": lambda net, X, y: net.fit(X, y, epochs=1),
    "gradcheck": lambda net, X, y: bprop.gradcheck(net, X, y),
}
WITH_TARGETS = ["evaluate", "backprop", "fit", "gradcheck"]


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


# ---- X ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_wrong_number_of_features_names_both_counts(net, data, entry):
    X, y = data
    with pytest.raises(ValueError, match=r"X has 5 features per row but the network's input layer expects 4"):
        ENTRY_POINTS[entry](net, np.ones((M, 5)), y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_nan_or_inf_in_x_is_refused_with_its_position(net, data, entry, bad):
    X, y = data
    X = X.copy()
    X[3, 2] = bad
    with pytest.raises(ValueError, match=r"X contains NaN or infinite values \(first at row 3, column 2\)"):
        ENTRY_POINTS[entry](net, X, y)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_empty_x_is_refused(net, entry):
    with pytest.raises(ValueError, match=r"X is empty: it has no examples"):
        ENTRY_POINTS[entry](net, np.empty((0, N_IN)), np.empty(0, dtype=int))


def test_x_of_three_dimensions_names_the_expected_shape(net):
    with pytest.raises(ValueError, match=r"X must be a 2-D array.*\(m, 4\); got shape \(2, 2, 4\)"):
        net.feedforward(np.ones((2, 2, 4)))


def test_a_single_example_of_the_wrong_length_names_the_expected_shape(net):
    with pytest.raises(ValueError, match=r"shape \(m, 4\); got shape \(5,\)"):
        net.feedforward(np.ones(5))


def test_non_numeric_x_is_refused(net):
    with pytest.raises(ValueError, match=r"X must hold numbers"):
        net.feedforward([["a", "b", "c", "d"]])


def test_complex_x_is_refused(net):
    with pytest.raises(ValueError, match=r"X must hold real numbers"):
        net.feedforward(np.ones((2, N_IN), dtype=complex))


def test_ragged_x_is_refused(net):
    with pytest.raises(ValueError, match=r"X is not a numeric array"):
        net.feedforward([[1.0, 2.0, 3.0, 4.0], [1.0]])


# ---- y ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", [3, 7, -1])
@pytest.mark.parametrize("entry", WITH_TARGETS)
def test_labels_outside_the_classes_name_the_allowed_range(net, data, entry, label):
    X, y = data
    y = y.copy()
    y[4] = label
    with pytest.raises(ValueError, match=rf"class index {label} but the network has 3 output units, "
                                         r"so labels must be in \[0, 2\]"):
        ENTRY_POINTS[entry](net, X, y)


@pytest.mark.parametrize("entry", WITH_TARGETS)
def test_mismatched_lengths_name_both_counts(net, data, entry):
    X, y = data
    with pytest.raises(ValueError, match=r"X has 10 examples but y has 9; they must match"):
        ENTRY_POINTS[entry](net, X, y[:9])


def test_fractional_class_labels_are_refused(net, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"integer class indices in \[0, 3\); found \[0.5\]"):
        net.evaluate(X, np.full(M, 0.5))


def test_target_rows_of_the_wrong_width_name_the_output_size(net, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"y has 4 columns but the network's output layer has 3 units"):
        net.backprop(X, np.zeros((M, 4)))


def test_nan_in_targets_is_refused(net, data):
    X, _ = data
    Y = np.zeros((M, N_OUT))
    Y[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN or infinite values"):
        net.fit(X, Y, epochs=1)


def test_labels_other_than_zero_and_one_for_one_sigmoid_unit_are_refused(data):
    X, _ = data
    net = Network([N_IN, 1], "sigmoid", "cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"0/1 labels for a network with one sigmoid output unit; found values like \[2"):
        net.fit(X, np.array([0, 1, 2, 0, 1, 0, 1, 0, 1, 0]), epochs=1)


def test_targets_of_three_dimensions_name_the_accepted_shapes(net, data):
    X, _ = data
    with pytest.raises(ValueError, match=r"class indices of shape \(10,\) or target rows of shape \(10, 3\)"):
        net.evaluate(X, np.zeros((M, N_OUT, 1)))


def test_a_bad_label_does_not_change_the_weights(net, data):
    X, y = data
    before = [w.copy() for w in net.weights]
    y = y.copy()
    y[-1] = 99
    with pytest.raises(ValueError):
        net.fit(X, y, epochs=3)
    for w, w0 in zip(net.weights, before):
        np.testing.assert_array_equal(w, w0)


# ---- validation data --------------------------------------------------------------------------------------
def test_validation_inputs_with_the_wrong_width_are_named_x_val(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"X_val has 3 features per row but the network's input layer expects 4"):
        net.fit(X, y, epochs=1, validation_data=(np.ones((5, 3)), np.zeros(5, dtype=int)))


def test_validation_labels_outside_the_classes_are_named_y_val(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"y_val holds class index 5"):
        net.fit(X, y, epochs=1, validation_data=(X, np.full(M, 5)))


def test_validation_data_that_is_not_a_pair_is_refused(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"validation_data must be a pair \(X_val, y_val\)"):
        net.fit(X, y, epochs=1, validation_data=X)


# ---- names -----------------------------------------------------------------------------------------------
def test_unknown_activation_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown activation 'gelu'; expected one of sigmoid, tanh, relu, "
                                         r"leaky_relu, identity, softmax"):
        Network([N_IN, N_OUT], activation="gelu")


def test_unknown_activation_in_a_per_layer_list_is_named():
    with pytest.raises(ValueError, match=r"unknown activation 'Relu'"):
        Network([N_IN, 5, N_OUT], activation=["Relu", "softmax"])


def test_unknown_cost_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown cost 'mse'; expected one of quadratic, cross_entropy"):
        Network([N_IN, N_OUT], cost="mse")


def test_unknown_init_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown init 'xavier'; expected one of large, nielsen, glorot, he"):
        Network([N_IN, N_OUT], init="xavier")


def test_unknown_dtype_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown dtype .*float16.*; expected one of float32, float64"):
        Network([N_IN, N_OUT], dtype="float16")


def test_unknown_optimizer_name_lists_the_choices(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"unknown optimizer 'rmsprop'; expected one of sgd, adam"):
        net.fit(X, y, optimizer="rmsprop")


def test_unknown_schedule_name_lists_the_choices(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"unknown schedule 'cosine'; expected one of constant, step, plateau"):
        net.fit(X, y, schedule="cosine")


# ---- training options ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("option, value, message", [
    ("epochs", 0, r"epochs must be an integer >= 1; got 0"),
    ("epochs", 2.5, r"epochs must be an integer >= 1; got 2.5"),
    ("batch_size", 0, r"batch_size must be an integer >= 1; got 0"),
    ("learning_rate", -0.1, r"learning_rate must be a finite number > 0; got -0.1"),
    ("learning_rate", 0, r"learning_rate must be a finite number > 0; got 0"),
    ("learning_rate", float("nan"), r"learning_rate must be a finite number"),
    ("dropout", 1.0, r"dropout must be a finite number >= 0 and < 1; got 1.0"),
    ("l2", -1, r"l2 must be a finite number >= 0; got -1.0"),
    ("momentum", 1.0, r"momentum must be a finite number >= 0 and < 1; got 1.0"),
    ("early_stopping", 0, r"early_stopping must be an integer >= 1; got 0"),
])
def test_bad_training_options_name_the_option_and_its_allowed_values(net, data, option, value, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        net.fit(X, y, **{option: value})


def test_gradcheck_refuses_a_non_positive_step(net, data):
    X, y = data
    with pytest.raises(ValueError, match=r"epsilon must be a finite number > 0"):
        bprop.gradcheck(net, X, y, epsilon=0)


def test_softmax_cross_entropy_refuses_target_rows_that_are_not_distributions():
    net = bprop.Network([3, 3], "softmax", "cross_entropy", seed=0)
    with pytest.raises(ValueError, match="summing to 1"):
        net.backprop(np.ones((2, 3)), np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))


def test_binary_cross_entropy_refuses_targets_outside_the_unit_interval():
    net = bprop.Network([3, 2], "sigmoid", "cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        net.backprop(np.ones((2, 3)), np.array([[1.5, 0.0], [0.0, 1.0]]))


def test_plateau_schedule_without_validation_data_is_refused_before_training():
    net = bprop.Network([3, 2], "sigmoid", seed=0)
    before = net.weights[0].copy()
    with pytest.raises(ValueError, match="validation"):
        net.fit(np.ones((4, 3)), [0, 1, 0, 1], epochs=1, schedule="plateau")
    np.testing.assert_array_equal(net.weights[0], before)


@pytest.mark.parametrize("seed", [-1, 1.5, "a", True])
def test_a_seed_that_is_not_a_non_negative_integer_is_refused(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        Network([3, 2], seed=seed)


@pytest.mark.parametrize("every", [0, -1])
def test_checkpoint_every_must_be_positive(tmp_path, every):
    pytest.importorskip("sklearn")
    from bprop.runs import train_run

    with pytest.raises(ValueError, match="checkpoint_every"):
        train_run({"epochs": 1, "checkpoint_every": every}, tmp_path / "run", plots=False)


@pytest.mark.parametrize("cpus", [1, 2, 3])
@pytest.mark.parametrize("row", [0, 4095, 4096, 9000, 10_239])
def test_the_finite_check_finds_a_nan_in_any_block_on_any_number_of_threads(monkeypatch, cpus, row):
    # Above SHARED_CHECK_BYTES the blocks of 4,096 rows are shared out over the CPUs: every
    # block, the short last one included, must still be looked at.
    from bprop import validation

    monkeypatch.setattr(validation, "SHARED_CHECK_BYTES", 0)
    monkeypatch.setattr(validation, "_usable_cpus", lambda: cpus)
    X = np.zeros((10_240, 3))
    assert validation._all_finite(X)
    X[row, 1] = np.inf
    assert not validation._all_finite(X)
    with pytest.raises(ValueError, match=rf"X contains NaN or infinite values \(first at row {row}, column 1\)"):
        validation.inputs(X, 3, np.float64)
