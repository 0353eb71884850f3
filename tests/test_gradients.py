"""``bprop.gradcheck`` over every activation x cost combination, and what it reports.

The grid: every hidden activation x every valid (output activation, cost) pair x
networks of 1-4 weight layers x mini-batches of 1 and 16, each below a relative error
of 1e-7 against central finite differences in float64.

Each network gets the initialisation that suits its hidden activation (as a user would)
and small random biases, so no ReLU sits exactly on its kink at z = 0, where the
derivative does not exist and finite differences see half a slope.
"""
import itertools

import numpy as np
import pytest

import bprop
from bprop import Network
from bprop.activations import LeakyReLU, Tanh
from bprop.network import Workspace

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
OUTPUT_COSTS = [("sigmoid", "quadratic"), ("tanh", "quadratic"), ("relu", "quadratic"),
                ("leaky_relu", "quadratic"), ("identity", "quadratic"), ("softmax", "quadratic"),
                ("sigmoid", "cross_entropy"), ("softmax", "cross_entropy")]
INIT = {"sigmoid": "large", "tanh": "glorot", "relu": "he", "leaky_relu": "he", "identity": "glorot"}
N_IN, WIDTH, N_OUT = 4, 6, 3

GRID = ([(1, None, o, c, m) for (o, c), m in itertools.product(OUTPUT_COSTS, [1, 16])]
        + [(depth, h, o, c, m) for depth, h, (o, c), m
           in itertools.product([2, 3, 4], HIDDEN, OUTPUT_COSTS, [1, 16])])


def targets(output, cost, m, rng, n_out=N_OUT):
    if cost == "cross_entropy" and output == "softmax":
        return rng.integers(0, n_out, m)                          # class indices
    if cost == "cross_entropy":
        return rng.integers(0, 2, (m, n_out)).astype(float)       # 0/1 per output unit
    return rng.standard_normal((m, n_out))                         # real-valued targets


def make_network(depth, hidden, output, cost, seed=0, dtype="float64"):
    sizes = [N_IN] + [WIDTH] * (depth - 1) + [N_OUT]
    names = [hidden] * (depth - 1) + [output]
    net = Network(sizes, names, cost, init=INIT[hidden or "tanh"], dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    net.set_parameters(net.weights, [0.5 * rng.standard_normal(b.shape) for b in net.biases])
    return net


def problem(depth, hidden, output, cost, m, seed=0, dtype="float64"):
    net = make_network(depth, hidden, output, cost, seed, dtype)
    rng = np.random.default_rng(seed + 2000)
    return net, rng.standard_normal((m, N_IN)), targets(output, cost, m, rng)


@pytest.mark.parametrize("depth, hidden, output, cost, m", GRID,
                         ids=[f"L{d}-{h or 'none'}-{o}-{c}-m{m}" for d, h, o, c, m in GRID])
def test_backprop_matches_finite_differences(depth, hidden, output, cost, m):
    net, X, Y = problem(depth, hidden, output, cost, m, seed=depth * 10 + m)
    result = bprop.gradcheck(net, X, Y)
    assert result["max_relative_error"] < 1e-7
    assert len(result["layers"]) == depth


@pytest.mark.parametrize("output, cost", OUTPUT_COSTS)
def test_float32_network_is_checked_in_a_float64_copy(output, cost):
    net, X, Y = problem(3, "tanh", output, cost, 8, seed=5, dtype="float32")
    before = [p.copy() for p in net.weights + net.biases]
    result = bprop.gradcheck(net, X.astype(np.float32), Y)
    assert result["max_relative_error"] < 1e-7
    for p, q in zip(net.weights + net.biases, before):
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p, q)


def test_gradcheck_leaves_the_network_unchanged():
    net, X, Y = problem(3, "relu", "softmax", "cross_entropy", 8)
    before = [p.copy() for p in net.weights + net.biases]
    bprop.gradcheck(net, X, Y)
    for p, q in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(p, q)


def test_gradcheck_catches_a_wrong_derivative(monkeypatch):
    # A check that cannot fail proves nothing: break tanh's derivative and watch it fail.
    net, X, Y = problem(2, "tanh", "identity", "quadratic", 8)
    monkeypatch.setattr(Tanh, "prime", lambda self, z, a: 1.0 - a)
    assert bprop.gradcheck(net, X, Y)["max_relative_error"] > 1e-2


@pytest.mark.parametrize("position", ["hidden", "output"])
def test_custom_leaky_relu_slope_is_checked_with_that_slope(position):
    names = [LeakyReLU(alpha=0.3), "identity"] if position == "hidden" else ["tanh", LeakyReLU(alpha=0.3)]
    net = Network([N_IN, WIDTH, N_OUT], names, "quadratic", init="he", seed=1)
    rng = np.random.default_rng(5)
    net.set_parameters(net.weights, [0.5 * rng.standard_normal(b.shape) for b in net.biases])
    X, Y = rng.standard_normal((8, N_IN)), rng.standard_normal((8, N_OUT))
    zs = [X @ net.weights[0].T + net.biases[0]]
    zs.append(net.activations[0](zs[0]) @ net.weights[1].T + net.biases[1])
    assert min(np.abs(z).min() for z in zs) > 1e-3  # no neuron within a step ε of its kink
    assert bprop.gradcheck(net, X, Y)["max_relative_error"] < 1e-7


# ---- targets ---------------------------------------------------------------------------------
def test_class_indices_and_one_hot_rows_give_the_same_gradient():
    net, X, _ = problem(3, "relu", "softmax", "cross_entropy", 12)
    labels = np.random.default_rng(3).integers(0, N_OUT, 12)
    by_index = net.backprop(X, labels)
    by_one_hot = net.backprop(X, np.eye(N_OUT)[labels])
    for g, h in zip(by_index[0] + by_index[1], by_one_hot[0] + by_one_hot[1]):
        np.testing.assert_array_equal(g, h)


def test_zero_one_labels_for_one_sigmoid_unit_equal_a_column_of_targets():
    net = Network([N_IN, WIDTH, 1], ["tanh", "sigmoid"], "cross_entropy", seed=4)
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((9, N_IN)), rng.integers(0, 2, 9)
    by_label, by_column = net.backprop(X, y), net.backprop(X, y[:, None].astype(float))
    for g, h in zip(by_label[0] + by_label[1], by_column[0] + by_column[1]):
        np.testing.assert_array_equal(g, h)


def test_regression_targets_for_an_identity_output_match_finite_differences():
    net = Network([N_IN, WIDTH, 2], ["tanh", "identity"], "quadratic", init="glorot", seed=6)
    rng = np.random.default_rng(7)
    X, Y = rng.standard_normal((10, N_IN)), 5.0 * rng.standard_normal((10, 2))
    assert bprop.gradcheck(net, X, Y)["max_relative_error"] < 1e-7


def test_one_column_of_regression_values_matches_finite_differences():
    net = Network([N_IN, WIDTH, 1], ["sigmoid", "identity"], "quadratic", init="large", seed=8)
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((10, N_IN)), 3.0 * rng.standard_normal(10)
    assert bprop.gradcheck(net, X, y)["max_relative_error"] < 1e-7


# ---- what gradcheck reports ------------------------------------------------------------------------
def count_forward_passes(monkeypatch):
    calls = []
    original = Network.forward

    def counting(self, X, workspace, masks=None):
        calls.append(len(X))
        return original(self, X, workspace, masks)

    monkeypatch.setattr(Network, "forward", counting)
    return calls


def test_forward_pass_counts_are_one_for_backprop_and_two_per_parameter_for_differences(monkeypatch):
    net, X, Y = problem(3, "sigmoid", "sigmoid", "quadratic", 5)
    n_params = sum(p.size for p in net.weights + net.biases)
    calls = count_forward_passes(monkeypatch)
    result = bprop.gradcheck(net, X, Y)
    assert result["checked"] == n_params
    assert result["forward_passes"] == {"backprop": 1, "finite_differences": 2 * n_params}
    assert len(calls) == 1 + 2 * n_params  # what actually ran


def test_max_params_checks_a_sample_of_each_array(monkeypatch):
    net, X, Y = problem(3, "tanh", "softmax", "cross_entropy", 5)
    limit = 4
    expected = sum(min(p.size, limit) for p in net.weights + net.biases)
    calls = count_forward_passes(monkeypatch)
    result = bprop.gradcheck(net, X, Y, max_params=limit)
    assert result["checked"] == expected
    assert len(calls) == 1 + 2 * expected
    assert result["max_relative_error"] < 1e-7


def test_max_params_sample_is_reproducible_for_a_seed():
    net, X, Y = problem(3, "tanh", "softmax", "cross_entropy", 5)
    first = bprop.gradcheck(net, X, Y, max_params=3, seed=7)
    assert bprop.gradcheck(net, X, Y, max_params=3, seed=7) == first


def test_max_params_sample_depends_on_the_seed():
    net, X, Y = problem(3, "tanh", "softmax", "cross_entropy", 5)
    errors = {bprop.gradcheck(net, X, Y, max_params=3, seed=s)["layers"][0]["weights"] for s in range(5)}
    assert len(errors) > 1


def test_per_layer_errors_are_reported_for_weights_and_biases():
    net, X, Y = problem(2, "relu", "identity", "quadratic", 4)
    result = bprop.gradcheck(net, X, Y)
    assert all(set(layer) == {"weights", "biases"} for layer in result["layers"])
    assert result["max_relative_error"] == max(max(layer.values()) for layer in result["layers"])


# ---- dropout --------------------------------------------------------------------------------------------
def sigma(name, z):
    return {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0),
            "sigmoid": lambda z: 1 / (1 + np.exp(-z))}[name](z)


def masked_mean_cost(net, X, Y, masks):
    """Mean quadratic cost of the network with a^l ⊙ mask^l fed to the layer above (test code)."""
    a = X
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        z = a @ w.T + b
        a = z if l == net.n_layers - 1 else sigma(net.activations[l].name, z) * masks[l]
    return 0.5 * ((a - Y) ** 2).sum(axis=1).mean()


@pytest.mark.parametrize("hidden", ["tanh", "relu", "sigmoid"])
def test_backprop_with_a_fixed_dropout_mask_matches_finite_differences_of_the_masked_network(hidden):
    net = Network([N_IN, WIDTH, WIDTH, 2], [hidden, hidden, "identity"], "quadratic",
                  init=INIT[hidden], seed=11)
    rng = np.random.default_rng(12)
    net.set_parameters(net.weights, [0.5 * rng.standard_normal(b.shape) for b in net.biases])
    m, keep = 6, 0.6
    X, Y = rng.standard_normal((m, N_IN)), rng.standard_normal((m, 2))
    masks = [(rng.random((m, WIDTH)) < keep) / keep for _ in range(2)] + [None]
    assert all(0 < mask.mean() < 1 / keep for mask in masks[:2])  # some dropped, some kept

    workspace = net.backward(X, Y, Workspace(net, m), masks)
    nabla_w, nabla_b = workspace.nabla_w, workspace.nabla_b

    h = 1e-5
    for l in range(net.n_layers):
        for params, grads in ((net.weights, nabla_w), (net.biases, nabla_b)):
            p, expected = params[l].reshape(-1), np.empty(params[l].size)
            for i in range(p.size):
                saved = p[i]
                p[i] = saved + h
                plus = masked_mean_cost(net, X, Y, masks)
                p[i] = saved - h
                minus = masked_mean_cost(net, X, Y, masks)
                p[i] = saved
                expected[i] = (plus - minus) / (2 * h)
            actual = grads[l].reshape(-1)
            error = np.linalg.norm(actual - expected) / (np.linalg.norm(actual) + np.linalg.norm(expected))
            assert error < 1e-7, f"layer {l}"


def test_default_step_resolves_the_small_gradients_of_deep_sigmoid_layers():
    # A 4-layer sigmoid network whose first-layer gradients are ~1e-4: with ε = 1e-6 the
    # rounding in C(p ± ε) alone gave a relative error of 4e-7 here.
    net, X, Y = problem(4, "sigmoid", "leaky_relu", "quadratic", 16, seed=356)
    assert np.abs(net.backprop(X, Y)[0][0]).max() < 1e-3
    assert bprop.gradcheck(net, X, Y)["max_relative_error"] < 1e-7
