"""BP1-BP4, each on its own, against an independent forward pass written here.

The network's per-example δ^l are read from the workspace that ``Network.backward``
fills; every reference value is computed in this file in float64 by plain NumPy and
central finite differences: perturb z^l (or a parameter), run the rest of the network
forward in test code, and difference the per-example cost C_x.

    BP1  δ^L = ∂C_x/∂z^L
    BP2  δ^l = ∂C_x/∂z^l = (δ^(l+1) w^(l+1)) ⊙ σ'(z^l)
    BP3  ∂C/∂b^l = mean over the examples of δ^l
    BP4  ∂C/∂w^l = (δ^l)^T a^(l-1) / m
"""
import numpy as np
import pytest

from bprop import Network
from bprop.network import Workspace

H = 1e-5
M = 7
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
OUTPUT_COSTS = [("sigmoid", "quadratic"), ("tanh", "quadratic"), ("relu", "quadratic"),
                ("leaky_relu", "quadratic"), ("identity", "quadratic"), ("softmax", "quadratic"),
                ("sigmoid", "cross_entropy"), ("softmax", "cross_entropy")]
INIT = {"sigmoid": "large", "tanh": "glorot", "relu": "he", "leaky_relu": "he", "identity": "glorot"}


# ---- the forward pass and costs, independently ------------------------------------------
def sigma(name, z):
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "identity":
        return z
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def per_example_cost(cost, output, a, Y):
    if cost == "quadratic":
        return 0.5 * ((a - Y) ** 2).sum(axis=1)
    if output == "sigmoid":
        return -(Y * np.log(a) + (1 - Y) * np.log(1 - a)).sum(axis=1)
    return -(Y * np.log(a)).sum(axis=1)


def forward_from(net, l, z, Y):
    """C_x for every example, starting from z^l and running layers l, l+1, ... in test code."""
    names = [s.name for s in net.activations]
    a = sigma(names[l], z)
    for k in range(l + 1, net.n_layers):
        a = sigma(names[k], a @ net.weights[k].T + net.biases[k])
    return per_example_cost(net.cost.name, names[-1], a, Y)


def forward(net, X):
    """Lists zs[l] and inputs[l] = a^(l-1) (X first), in test code."""
    names = [s.name for s in net.activations]
    zs, inputs, a = [], [X], X
    for w, b, name in zip(net.weights, net.biases, names):
        zs.append(a @ w.T + b)
        a = sigma(name, zs[-1])
        inputs.append(a)
    return zs, inputs


def delta_by_finite_differences(net, X, Y, l):
    """∂C_x/∂z^l_j for each example x (row) and neuron j, by central differences."""
    z = forward(net, X)[0][l]
    delta = np.empty_like(z)
    for j in range(z.shape[1]):
        step = np.zeros_like(z)
        step[:, j] = H
        delta[:, j] = (forward_from(net, l, z + step, Y) - forward_from(net, l, z - step, Y)) / (2 * H)
    return delta


def mean_cost(net, X, Y):
    return forward_from(net, 0, X @ net.weights[0].T + net.biases[0], Y).mean()


def parameter_gradient_by_finite_differences(net, X, Y, p):
    grad = np.empty_like(p)
    flat, g = p.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + H
        plus = mean_cost(net, X, Y)
        flat[i] = saved - H
        minus = mean_cost(net, X, Y)
        flat[i] = saved
        g[i] = (plus - minus) / (2 * H)
    return grad


def relative_error(actual, expected):
    scale = np.linalg.norm(actual) + np.linalg.norm(expected)
    return np.linalg.norm(actual - expected) / scale


# ---- fixtures ------------------------------------------------------------------------------
def make_problem(hidden, output, cost, sizes=(4, 5, 6, 3), seed=0):
    names = [hidden] * (len(sizes) - 2) + [output]
    net = Network(list(sizes), names, cost, init=INIT[hidden], seed=seed)
    rng = np.random.default_rng(seed + 100)
    net.biases = [0.5 * rng.standard_normal(b.shape) for b in net.biases]  # no exact kinks at z = 0
    X = rng.standard_normal((M, sizes[0]))
    n_out = sizes[-1]
    if cost == "cross_entropy" and output == "softmax":
        Y = np.eye(n_out)[rng.integers(0, n_out, M)]
    elif cost == "cross_entropy":
        Y = rng.integers(0, 2, (M, n_out)).astype(float)
    else:
        Y = rng.standard_normal((M, n_out))
    return net, X, Y


def run_backprop(net, X, Y):
    """The network's BP1-BP4 on a clean mini-batch; returns (nabla_w, nabla_b, deltas)."""
    workspace = net.backward(X, Y, Workspace(net, len(X)))
    return workspace.nabla_w, workspace.nabla_b, workspace.deltas


# ---- BP1 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("output, cost", OUTPUT_COSTS)
def test_bp1_output_delta_per_example_matches_finite_differences(output, cost):
    net, X, Y = make_problem("tanh", output, cost)
    deltas = run_backprop(net, X, Y)[2]
    L = net.n_layers - 1
    assert deltas[L].shape == (M, net.sizes[-1])  # one row per example, no 1/m yet
    assert relative_error(deltas[L], delta_by_finite_differences(net, X, Y, L)) < 1e-7


# ---- BP2 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("output, cost", [("softmax", "cross_entropy"), ("identity", "quadratic"),
                                          ("softmax", "quadratic"), ("sigmoid", "cross_entropy")])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_bp2_hidden_deltas_match_finite_differences(hidden, output, cost):
    net, X, Y = make_problem(hidden, output, cost, sizes=(4, 5, 6, 3))
    deltas = run_backprop(net, X, Y)[2]
    for l in range(net.n_layers - 1):
        expected = delta_by_finite_differences(net, X, Y, l)
        assert relative_error(deltas[l], expected) < 1e-7, f"hidden layer {l}"


@pytest.mark.parametrize("hidden", HIDDEN)
def test_bp2_equation_links_each_delta_to_the_one_above(hidden):
    # δ^l = (δ^(l+1) w^(l+1)) ⊙ σ'(z^l), with σ' by finite differences of σ.
    net, X, Y = make_problem(hidden, "softmax", "cross_entropy", sizes=(4, 5, 6, 3))
    deltas = run_backprop(net, X, Y)[2]
    zs = forward(net, X)[0]
    for l in range(net.n_layers - 1):
        sigma_prime = (sigma(hidden, zs[l] + H) - sigma(hidden, zs[l] - H)) / (2 * H)
        expected = (deltas[l + 1] @ net.weights[l + 1]) * sigma_prime
        assert relative_error(deltas[l], expected) < 1e-8


# ---- BP3 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("hidden, output, cost", [
    ("sigmoid", "sigmoid", "quadratic"), ("relu", "softmax", "cross_entropy"),
    ("tanh", "identity", "quadratic"), ("leaky_relu", "sigmoid", "cross_entropy"),
])
def test_bp3_bias_gradient_is_the_mean_of_the_finite_difference_deltas(hidden, output, cost):
    net, X, Y = make_problem(hidden, output, cost)
    nabla_b = run_backprop(net, X, Y)[1]
    for l in range(net.n_layers):
        expected = delta_by_finite_differences(net, X, Y, l).mean(axis=0)
        assert relative_error(nabla_b[l], expected) < 1e-7, f"layer {l}"


@pytest.mark.parametrize("hidden, output, cost", [("tanh", "softmax", "cross_entropy"),
                                                  ("sigmoid", "identity", "quadratic")])
def test_bp3_bias_gradient_matches_finite_differences_of_the_mean_cost(hidden, output, cost):
    net, X, Y = make_problem(hidden, output, cost)
    nabla_b = run_backprop(net, X, Y)[1]
    for l in range(net.n_layers):
        expected = parameter_gradient_by_finite_differences(net, X, Y, net.biases[l])
        assert relative_error(nabla_b[l], expected) < 1e-7, f"layer {l}"


# ---- BP4 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("hidden, output, cost", [
    ("sigmoid", "sigmoid", "quadratic"), ("relu", "softmax", "cross_entropy"),
    ("tanh", "identity", "quadratic"), ("identity", "softmax", "quadratic"),
])
def test_bp4_weight_gradient_is_delta_transpose_times_the_layer_input_over_m(hidden, output, cost):
    net, X, Y = make_problem(hidden, output, cost)
    nabla_w = run_backprop(net, X, Y)[0]
    inputs = forward(net, X)[1]
    for l in range(net.n_layers):
        delta = delta_by_finite_differences(net, X, Y, l)
        expected = delta.T @ inputs[l] / M   # Σ_x δ^l_x (a^(l-1)_x)^T / m
        assert relative_error(nabla_w[l], expected) < 1e-7, f"layer {l}"


@pytest.mark.parametrize("hidden, output, cost", [("leaky_relu", "softmax", "cross_entropy"),
                                                  ("tanh", "sigmoid", "quadratic")])
def test_bp4_weight_gradient_matches_finite_differences_of_the_mean_cost(hidden, output, cost):
    net, X, Y = make_problem(hidden, output, cost)
    nabla_w = run_backprop(net, X, Y)[0]
    for l in range(net.n_layers):
        expected = parameter_gradient_by_finite_differences(net, X, Y, net.weights[l])
        assert relative_error(nabla_w[l], expected) < 1e-7, f"layer {l}"


# ---- the matrix form against the book's loop -------------------------------------------------------
def nielsen_per_example_backprop(net, X, Y):
    """Nielsen's network.py: one example at a time, column vectors, gradients summed then / m."""
    names = [s.name for s in net.activations]
    nabla_w = [np.zeros_like(w) for w in net.weights]
    nabla_b = [np.zeros_like(b) for b in net.biases]
    for x, y in zip(X, Y):
        a, activations, zs = x[:, None], [x[:, None]], []
        for w, b, name in zip(net.weights, net.biases, names):
            zs.append(w @ a + b[:, None])
            a = sigma(name, zs[-1]) if name != "softmax" else sigma(name, zs[-1].T).T
            activations.append(a)
        delta = a - y[:, None]  # ∇_a C for the quadratic cost
        delta = delta * (sigma(names[-1], zs[-1] + H) - sigma(names[-1], zs[-1] - H)) / (2 * H)
        nabla_b[-1] += delta[:, 0]
        nabla_w[-1] += delta @ activations[-2].T
        for l in range(2, net.n_layers + 1):
            sp = (sigma(names[-l], zs[-l] + H) - sigma(names[-l], zs[-l] - H)) / (2 * H)
            delta = (net.weights[-l + 1].T @ delta) * sp
            nabla_b[-l] += delta[:, 0]
            nabla_w[-l] += delta @ activations[-l - 1].T
    return [g / len(X) for g in nabla_w], [g / len(X) for g in nabla_b]


@pytest.mark.parametrize("hidden", HIDDEN)
def test_matrix_form_equals_nielsens_per_example_loop(hidden):
    net, X, Y = make_problem(hidden, "sigmoid", "quadratic", sizes=(4, 5, 6, 3))
    nabla_w, nabla_b = net.backprop(X, Y)
    loop_w, loop_b = nielsen_per_example_backprop(net, X, Y)
    for l in range(net.n_layers):
        assert relative_error(nabla_w[l], loop_w[l]) < 1e-8
        assert relative_error(nabla_b[l], loop_b[l]) < 1e-8
