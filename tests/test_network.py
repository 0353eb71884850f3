"""The Network: parameter layout, both builders, initialisation, the forward pass
against plain NumPy written here, prediction and evaluation."""
import json

import numpy as np
import pytest

import bprop
from bprop import Dense, Network


def reference_forward(weights, biases, names, X):
    """a^L by z^l = a^(l-1) (w^l)^T + b^l, a^l = σ(z^l), in plain NumPy."""
    a = np.asarray(X, dtype=np.float64)
    for w, b, name in zip(weights, biases, names):
        z = a @ np.asarray(w, np.float64).T + b
        if name == "sigmoid":
            a = 1 / (1 + np.exp(-z))
        elif name == "tanh":
            a = np.tanh(z)
        elif name == "relu":
            a = np.maximum(z, 0)
        elif name == "leaky_relu":
            a = np.where(z > 0, z, 0.01 * z)
        elif name == "identity":
            a = z
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
    return a


# ---- layout -------------------------------------------------------------------------------
def test_weights_have_nielsens_shape_n_out_by_n_in_and_biases_n_out():
    net = Network([7, 5, 3], seed=0)
    assert net.sizes == [7, 5, 3]
    assert net.n_layers == 2
    assert [w.shape for w in net.weights] == [(5, 7), (3, 5)]
    assert [b.shape for b in net.biases] == [(5,), (3,)]


def test_one_activation_name_applies_to_every_layer():
    net = Network([4, 3, 3, 2], activation="tanh")
    assert [s.name for s in net.activations] == ["tanh", "tanh", "tanh"]


def test_one_activation_per_layer_is_honoured():
    net = Network([4, 3, 2], activation=["relu", "softmax"], cost="cross_entropy")
    assert [s.name for s in net.activations] == ["relu", "softmax"]


def test_activation_list_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match=r"activation has 3 names but the network has 2 weight layers"):
        Network([4, 3, 2], activation=["relu", "relu", "softmax"])


def test_softmax_is_refused_as_a_hidden_layer():
    with pytest.raises(ValueError, match=r"softmax can only be the output layer"):
        Network([4, 3, 2], activation=["softmax", "sigmoid"])


@pytest.mark.parametrize("sizes", [[4], [], [4, 0, 2], [4, -1], [4, 2.5]])
def test_invalid_sizes_are_refused(sizes):
    with pytest.raises(ValueError, match="size"):
        Network(sizes)


def test_from_layers_builds_the_same_network_as_the_sizes_form():
    by_layers = Network.from_layers([Dense(6, 4, "relu"), Dense(4, 3, "softmax")],
                                    cost="cross_entropy", seed=3)
    by_sizes = Network([6, 4, 3], ["relu", "softmax"], "cross_entropy", seed=3)
    assert by_layers.sizes == by_sizes.sizes
    assert [s.name for s in by_layers.activations] == ["relu", "softmax"]
    for w1, w2 in zip(by_layers.weights + by_layers.biases, by_sizes.weights + by_sizes.biases):
        np.testing.assert_array_equal(w1, w2)


def test_from_layers_refuses_layers_that_do_not_connect():
    with pytest.raises(ValueError, match=r"takes 5 inputs but the layer below it gives 4"):
        Network.from_layers([Dense(6, 4), Dense(5, 3)])


def test_config_is_plain_json():
    net = Network([3, 2], activation="sigmoid", cost="cross_entropy", dtype="float32", seed=1)
    config = json.loads(json.dumps(net.config()))
    assert config == {"sizes": [3, 2], "activations": ["sigmoid"], "cost": "cross_entropy",
                      "init": "nielsen", "dtype": "float32", "seed": 1}


# ---- initialisation ---------------------------------------------------------------------------
N_IN, N_OUT = 400, 300  # 120 000 weights: sample moments within a few percent


@pytest.mark.parametrize("init, weight_std, bias_std", [
    ("large", 1.0, 1.0),
    ("nielsen", 1 / np.sqrt(N_IN), 1.0),
    ("he", np.sqrt(2 / N_IN), 0.0),
    ("glorot", np.sqrt(6 / (N_IN + N_OUT)) / np.sqrt(3), 0.0),  # std of U(-l, l) is l/√3
])
def test_initial_weights_have_the_documented_spread(init, weight_std, bias_std):
    net = Network([N_IN, N_OUT], init=init, seed=0)
    w, b = net.weights[0], net.biases[0]
    assert abs(w.mean()) < 0.02 * weight_std
    assert w.std() == pytest.approx(weight_std, rel=0.02)
    if bias_std:
        assert b.std() == pytest.approx(bias_std, rel=0.15)
    else:
        assert not b.any()


def test_glorot_weights_stay_inside_their_uniform_limit():
    net = Network([N_IN, N_OUT], init="glorot", seed=0)
    assert np.abs(net.weights[0]).max() <= np.sqrt(6 / (N_IN + N_OUT))


@pytest.mark.parametrize("first, expected", [("relu", "he"), ("leaky_relu", "he"),
                                             ("sigmoid", "nielsen"), ("tanh", "nielsen")])
def test_default_init_is_he_for_relu_hidden_layers_else_nielsen(first, expected):
    assert Network([4, 3, 2], activation=[first, "sigmoid"]).init == expected


@pytest.mark.parametrize("init", ["large", "nielsen", "glorot", "he"])
def test_same_seed_gives_identical_initial_parameters(init):
    a, b = Network([5, 4, 3], init=init, seed=11), Network([5, 4, 3], init=init, seed=11)
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(p, q)


def test_different_seeds_give_different_initial_weights():
    a, b = Network([5, 4, 3], seed=1), Network([5, 4, 3], seed=2)
    assert not np.array_equal(a.weights[0], b.weights[0])


@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32, np.float64])
def test_parameters_have_the_requested_dtype(dtype):
    net = Network([5, 4, 3], dtype=dtype, seed=0)
    assert all(p.dtype == np.dtype(dtype) for p in net.weights + net.biases)
    assert net.dtype == np.dtype(dtype)


# ---- forward pass ----------------------------------------------------------------------------------
@pytest.mark.parametrize("names", [
    ["sigmoid", "sigmoid"], ["tanh", "identity"], ["relu", "softmax"],
    ["leaky_relu", "tanh", "sigmoid"], ["identity", "relu", "softmax"],
])
def test_feedforward_matches_plain_numpy(names):
    sizes = [6] + [5] * (len(names) - 1) + [3]
    net = Network(sizes, names, seed=4)
    X = np.random.default_rng(5).standard_normal((9, 6))
    expected = reference_forward(net.weights, net.biases, names, X)
    np.testing.assert_allclose(net.feedforward(X), expected, rtol=1e-12, atol=1e-14)


def test_feedforward_of_more_rows_than_one_chunk_matches_plain_numpy():
    net = Network([3, 4, 2], ["tanh", "softmax"], seed=6)
    X = np.random.default_rng(7).standard_normal((9000, 3))
    expected = reference_forward(net.weights, net.biases, ["tanh", "softmax"], X)
    np.testing.assert_allclose(net.feedforward(X), expected, rtol=1e-12, atol=1e-14)


def test_feedforward_accepts_one_example_as_a_vector():
    net = Network([3, 2], seed=8)
    x = np.array([0.1, -0.2, 0.3])
    np.testing.assert_allclose(net.feedforward(x), net.feedforward(x[None]))
    assert net.feedforward(x).shape == (1, 2)


def test_assigning_a_weight_matrix_changes_the_output():
    net = Network([3, 2], activation="identity", seed=9)
    net.weights[0] = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    net.biases[0] = np.array([0.5, -0.5])
    np.testing.assert_allclose(net.feedforward([[1.0, 1.0, 7.0]]), [[1.5, 1.5]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_outputs_have_the_network_dtype_whatever_the_input_dtype(dtype):
    net = Network([3, 4, 2], ["relu", "softmax"], "cross_entropy", dtype=dtype, seed=0)
    X_other = np.ones((2, 3), dtype=np.float64 if dtype == "float32" else np.float32)
    assert net.feedforward(X_other).dtype == np.dtype(dtype)
    assert net.predict_proba(np.ones((2, 3), dtype=int)).dtype == np.dtype(dtype)


def test_set_parameters_refuses_wrong_shapes_and_names_the_expected_one():
    net = Network([3, 2], seed=0)
    with pytest.raises(ValueError, match=r"weights must have shape \(2, 3\).*got \(3, 2\)"):
        net.set_parameters([np.zeros((3, 2))], [np.zeros(2)])


def test_set_parameters_copies_in_the_network_dtype():
    net = Network([3, 2], dtype="float32", seed=0)
    w = np.ones((2, 3))
    net.set_parameters([w], [np.zeros(2)])
    w[:] = 5
    assert net.weights[0].dtype == np.float32
    np.testing.assert_array_equal(net.weights[0], 1)


def test_workspace_cache_stays_bounded_over_many_batch_sizes():
    net = Network([3, 2], seed=0)
    for m in range(1, 30):
        net.feedforward(np.ones((m, 3)))
    assert len(net._workspaces) <= 4


# ---- backprop's return values ------------------------------------------------------------------------
def test_backprop_returns_gradients_shaped_like_the_parameters():
    net = Network([5, 4, 3], seed=0)
    X = np.random.default_rng(0).standard_normal((6, 5))
    nabla_w, nabla_b = net.backprop(X, np.eye(3)[[0, 1, 2, 0, 1, 2]])
    assert [g.shape for g in nabla_w] == [w.shape for w in net.weights]
    assert [g.shape for g in nabla_b] == [b.shape for b in net.biases]


def test_backprop_results_are_not_overwritten_by_a_later_call():
    net = Network([5, 4, 3], seed=0)
    rng = np.random.default_rng(1)
    X1, X2 = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    first = net.backprop(X1, np.zeros((6, 3)))
    saved = [g.copy() for g in first[0] + first[1]]
    net.backprop(X2, np.ones((6, 3)))
    net.feedforward(X2)
    for g, s in zip(first[0] + first[1], saved):
        np.testing.assert_array_equal(g, s)


# ---- prediction and evaluation ------------------------------------------------------------------------
def test_predict_gives_the_argmax_class_for_softmax_outputs():
    net = Network([4, 5, 3], ["tanh", "softmax"], "cross_entropy", seed=1)
    X = np.random.default_rng(2).standard_normal((20, 4))
    expected = reference_forward(net.weights, net.biases, ["tanh", "softmax"], X).argmax(axis=1)
    np.testing.assert_array_equal(net.predict(X), expected)


def test_predict_thresholds_a_single_sigmoid_output_at_one_half():
    net = Network([2, 1], "sigmoid", "cross_entropy", seed=0)
    net.weights[0] = np.array([[1.0, 0.0]])
    net.biases[0] = np.array([0.0])
    np.testing.assert_array_equal(net.predict([[-2.0, 0.0], [0.5, 0.0], [3.0, 9.0]]), [0, 1, 1])


def test_predict_returns_values_for_a_regression_network():
    net = Network([2, 1], "identity", seed=0)
    net.weights[0] = np.array([[2.0, -1.0]])
    net.biases[0] = np.array([0.25])
    np.testing.assert_allclose(net.predict([[1.0, 1.0], [0.0, 2.0]]), [1.25, -1.75])


def test_predict_proba_rows_of_a_softmax_network_sum_to_one():
    net = Network([4, 3], "softmax", "cross_entropy", seed=3)
    proba = net.predict_proba(np.random.default_rng(4).standard_normal((10, 4)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_evaluate_gives_mean_log_likelihood_and_accuracy():
    net = Network([4, 6, 3], ["relu", "softmax"], "cross_entropy", seed=5)
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((50, 4)), rng.integers(0, 3, 50)
    a = reference_forward(net.weights, net.biases, ["relu", "softmax"], X)
    result = net.evaluate(X, y)
    assert result["n"] == 50
    assert result["cost"] == pytest.approx(-np.log(a[np.arange(50), y]).mean(), rel=1e-12)
    assert result["accuracy"] == pytest.approx((a.argmax(axis=1) == y).mean())


def test_evaluate_over_several_chunks_equals_the_whole_set_formula():
    net = Network([3, 2], "sigmoid", "quadratic", seed=7)
    rng = np.random.default_rng(8)
    X, Y = rng.standard_normal((9000, 3)), rng.uniform(0, 1, (9000, 2))
    a = reference_forward(net.weights, net.biases, ["sigmoid"], X)
    assert net.evaluate(X, Y)["cost"] == pytest.approx(0.5 * ((a - Y) ** 2).sum(axis=1).mean(), rel=1e-10)


def test_evaluate_has_no_accuracy_for_regression():
    net = Network([3, 1], "identity", seed=0)
    assert net.evaluate(np.ones((4, 3)), np.zeros(4))["accuracy"] is None


def test_evaluate_accepts_one_hot_rows_and_class_indices_alike():
    net = Network([4, 3], "softmax", "cross_entropy", seed=9)
    rng = np.random.default_rng(10)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    assert net.evaluate(X, y) == net.evaluate(X, np.eye(3)[y])


def test_repr_names_sizes_activations_and_cost():
    text = repr(Network([3, 2], "tanh", "quadratic"))
    assert "[3, 2]" in text and "tanh" in text and "quadratic" in text


def test_public_api_exports_the_documented_names():
    for name in ["Network", "Dense", "load", "gradcheck", "DivergenceError", "ModelFileError",
                 "InputError"]:
        assert hasattr(bprop, name)


# ---- the core API the rest of the package uses ---------------------------------------------------
def test_backprop_pass_returns_every_layers_quantities_consistent_with_a_plain_forward_pass():
    rng = np.random.default_rng(3)
    net = Network([3, 4, 2], activation=["tanh", "softmax"], cost="cross_entropy", seed=1)
    X, y = rng.standard_normal((5, 3)), np.array([0, 1, 1, 0, 1])
    step = net.backprop_pass(X, y)
    a = X
    np.testing.assert_array_equal(step.activations[0], X)
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        z = a @ w.T + b
        np.testing.assert_allclose(step.zs[l], z, rtol=1e-12)
        a = np.tanh(z) if l == 0 else np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(step.activations[l + 1], a, rtol=1e-12)
    Y = np.eye(2)[y]
    np.testing.assert_allclose(step.deltas[1], step.activations[2] - Y, rtol=1e-12)   # fused BP1
    np.testing.assert_allclose(step.deltas[0], (step.deltas[1] @ net.weights[1]) * (1 - step.activations[1] ** 2),
                               rtol=1e-12)                                             # BP2
    nabla_w, nabla_b = net.backprop(X, y)
    for l in range(2):
        np.testing.assert_array_equal(step.nabla_w[l], nabla_w[l])
        np.testing.assert_array_equal(step.nabla_b[l], nabla_b[l])
        np.testing.assert_allclose(step.nabla_b[l], step.deltas[l].mean(axis=0), rtol=1e-12)   # BP3


def test_backprop_pass_arrays_belong_to_the_caller():
    net = Network([2, 3, 1], seed=0)
    X, Y = np.ones((4, 2)), np.array([0, 1, 1, 0])
    first = net.backprop_pass(X, Y)
    saved = [d.copy() for d in first.deltas]
    net.backprop_pass(2 * X, Y)
    net.fit(X, Y, epochs=1, batch_size=4)
    for before, after in zip(saved, first.deltas):
        np.testing.assert_array_equal(before, after)


def test_a_workspace_gathers_a_mini_batch_into_its_own_buffers():
    net = Network([3, 2], seed=0)
    X, Y = np.arange(12.0).reshape(4, 3), np.arange(8.0).reshape(4, 2)
    workspace = net.workspace(2)
    X_batch, Y_batch = workspace.gather(X, Y, np.array([3, 1]))
    np.testing.assert_array_equal(X_batch, X[[3, 1]])
    np.testing.assert_array_equal(Y_batch, Y[[3, 1]])
    assert X_batch is workspace.X and not np.shares_memory(X_batch, X)
    assert net.workspace(2) is workspace


def test_copy_is_an_independent_twin_in_the_dtype_asked_for():
    from bprop.images import ImageFormat

    net = Network([4, 5, 3], [bprop.activations.LeakyReLU(0.2), "softmax"], "cross_entropy",
                  dtype="float32", seed=1)
    net.class_names, net.image_format = ["a", "b", "c"], ImageFormat((2, 2), 2, "box")
    twin = net.copy(dtype="float64")
    assert twin.dtype == np.float64 and net.copy().dtype == np.float32
    assert twin.sizes == net.sizes and twin.cost.name == net.cost.name and twin.init == net.init
    assert twin.activations[0].alpha == pytest.approx(0.2)
    assert twin.class_names == net.class_names and twin.image_format == net.image_format
    for ours, theirs in zip(twin.weights + twin.biases, net.weights + net.biases):
        np.testing.assert_array_equal(ours, theirs.astype(np.float64))
    twin.weights[0][0, 0] += 1.0                      # independent parameters and names
    twin.class_names[0] = "z"
    assert twin.weights[0][0, 0] != net.weights[0][0, 0] and net.class_names[0] == "a"
    X = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_allclose(net.copy(dtype="float64").predict_proba(X), net.predict_proba(X), rtol=1e-5)


def test_copy_trains_as_the_original_does_from_its_seed():
    X = np.random.default_rng(0).normal(size=(40, 4))
    y = (X[:, 0] > 0).astype(int)
    net = Network([4, 5, 2], "sigmoid", seed=7)
    net.weights[0][0, 0] = 0.5                        # parameters that the seed would not draw
    twin = net.copy()
    assert twin.seed == 7
    net.fit(X, y, epochs=2, batch_size=8, learning_rate=0.5, kernels="numpy", verbose=0)
    twin.fit(X, y, epochs=2, batch_size=8, learning_rate=0.5, kernels="numpy", verbose=0)
    for ours, theirs in zip(twin.weights + twin.biases, net.weights + net.biases):
        np.testing.assert_array_equal(ours, theirs)


def test_a_network_can_start_from_given_parameters_and_checks_their_shapes():
    w, b = [np.ones((3, 2)), np.zeros((1, 3))], [np.full(3, 0.5), np.zeros(1)]
    net = Network([2, 3, 1], parameters=(w, b), dtype="float32")
    assert net.weights[0].dtype == np.float32 and not np.shares_memory(net.weights[0], w[0])
    np.testing.assert_array_equal(net.weights[0], w[0])
    np.testing.assert_array_equal(net.biases[0], b[0])
    with pytest.raises(bprop.InputError, match="layer 1: weights must have shape"):
        Network([2, 3, 1], parameters=(w[:1] + [np.zeros((2, 3))], b))
    with pytest.raises(bprop.InputError, match="parameters must be a pair"):
        Network([2, 3, 1], parameters=(w, b, w))
