"""Costs C: values against Nielsen's formulas, ∇_a C and BP1's δ^L against finite
differences in float64, the fused and general output paths separately, and saturation.

Reference formulas (per example, x one row):
    quadratic             C = ½ ‖y - a‖²                          (eq. 6)
    binary cross-entropy  C = -Σ_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]   (eq. 63)
    log-likelihood        C = -Σ_j y_j ln a_j  (= -ln a_y for a class y)   (eq. 80)
"""
import warnings

import numpy as np
import pytest

import bprop
from bprop import activations, costs

H = 1e-6
M, N = 5, 4
OUTPUTS = ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "softmax"]


# ---- independent reference implementations -----------------------------------------
def sigma(name, z):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "identity":
        return z.copy()
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def quadratic(a, y):
    return 0.5 * np.sum((y - a) ** 2, axis=1)


def binary_cross_entropy(a, y):
    return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a), axis=1)


def log_likelihood(a, y):
    return -np.sum(y * np.log(a), axis=1)


REFERENCE = {"quadratic": quadratic, "binary": binary_cross_entropy, "categorical": log_likelihood}


def per_example_gradient(f, x):
    """∂f_i/∂x_ij by central differences, where f maps (m, n) to one value per row."""
    grad = np.empty_like(x)
    for j in range(x.shape[1]):
        step = np.zeros_like(x)
        step[:, j] = H
        grad[:, j] = (f(x + step) - f(x - step)) / (2 * H)
    return grad


def pre_activations(seed=0, scale=2.0):
    z = scale * np.random.default_rng(seed).standard_normal((M, N))
    return np.where(z >= 0, z + 0.1, z - 0.1)  # away from the ReLU kink


def one_hot_targets(seed=1):
    labels = np.random.default_rng(seed).integers(0, N, M)
    return np.eye(N)[labels], labels


def binary_targets(seed=2):
    return np.random.default_rng(seed).integers(0, 2, (M, N)).astype(float)


def real_targets(seed=3):
    return np.random.default_rng(seed).standard_normal((M, N))


# ---- values ---------------------------------------------------------------------------
@pytest.mark.parametrize("output", OUTPUTS)
def test_quadratic_value_matches_equation_6(output):
    z, Y = pre_activations(), real_targets()
    cost = costs.get("quadratic", activations.get(output))
    a = sigma(output, z)
    np.testing.assert_allclose(cost.value(z, a, Y), quadratic(a, Y), rtol=1e-13)


def test_binary_cross_entropy_value_matches_equation_63():
    z, Y = pre_activations(), binary_targets()
    cost = costs.get("cross_entropy", activations.get("sigmoid"))
    a = sigma("sigmoid", z)
    np.testing.assert_allclose(cost.value(z, a, Y), binary_cross_entropy(a, Y), rtol=1e-12)


def test_binary_cross_entropy_value_with_soft_targets_matches_equation_63():
    z = pre_activations()
    Y = np.random.default_rng(4).uniform(0, 1, (M, N))
    cost = costs.get("cross_entropy", activations.get("sigmoid"))
    a = sigma("sigmoid", z)
    np.testing.assert_allclose(cost.value(z, a, Y), binary_cross_entropy(a, Y), rtol=1e-12)


def test_categorical_cross_entropy_value_is_minus_log_of_the_true_class_probability():
    z = pre_activations()
    Y, labels = one_hot_targets()
    cost = costs.get("cross_entropy", activations.get("softmax"))
    a = sigma("softmax", z)
    np.testing.assert_allclose(cost.value(z, a, Y), -np.log(a[np.arange(M), labels]), rtol=1e-12)


def test_cross_entropy_name_picks_binary_for_sigmoid_and_categorical_for_softmax():
    assert isinstance(costs.get("cross_entropy", activations.get("sigmoid")), costs.BinaryCrossEntropy)
    assert isinstance(costs.get("cross_entropy", activations.get("softmax")), costs.CategoricalCrossEntropy)


# ---- ∇_a C -------------------------------------------------------------------------------
@pytest.mark.parametrize("output", OUTPUTS)
def test_quadratic_gradient_matches_finite_differences(output):
    z, Y = pre_activations(), real_targets()
    cost = costs.get("quadratic", activations.get(output))
    a = sigma(output, z)
    expected = per_example_gradient(lambda a_: quadratic(a_, Y), a)
    np.testing.assert_allclose(cost.gradient(a, Y), expected, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("output, kind, targets", [
    ("sigmoid", "binary", binary_targets),
    ("softmax", "categorical", lambda: one_hot_targets()[0]),
])
def test_cross_entropy_gradient_matches_finite_differences(output, kind, targets):
    z, Y = pre_activations(scale=1.0), targets()
    cost = costs.get("cross_entropy", activations.get(output))
    a = sigma(output, z)
    expected = per_example_gradient(lambda a_: REFERENCE[kind](a_, Y), a)
    np.testing.assert_allclose(cost.gradient(a, Y), expected, rtol=1e-7, atol=1e-8)


# ---- BP1: δ^L = ∂C_x/∂z^L ------------------------------------------------------------------
def bp1_finite_differences(output, kind, z, Y):
    return per_example_gradient(lambda z_: REFERENCE[kind](sigma(output, z_), Y), z)


@pytest.mark.parametrize("output", OUTPUTS)
def test_bp1_quadratic_output_delta_matches_finite_differences(output):
    z, Y = pre_activations(), real_targets()
    cost = costs.get("quadratic", activations.get(output))
    assert not cost.fused
    delta = cost.output_delta(z, sigma(output, z), Y)
    np.testing.assert_allclose(delta, bp1_finite_differences(output, "quadratic", z, Y),
                               rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("output, kind, targets", [
    ("sigmoid", "binary", binary_targets),
    ("softmax", "categorical", lambda: one_hot_targets()[0]),
])
def test_bp1_fused_cross_entropy_delta_a_minus_y_matches_finite_differences(output, kind, targets):
    z, Y = pre_activations(), targets()
    cost = costs.get("cross_entropy", activations.get(output))
    assert cost.fused
    a = sigma(output, z)
    delta = cost.output_delta(z, a, Y)
    np.testing.assert_allclose(delta, a - Y, rtol=1e-15)
    np.testing.assert_allclose(delta, bp1_finite_differences(output, kind, z, Y), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("output, kind, targets", [
    ("sigmoid", "binary", binary_targets),
    ("softmax", "categorical", lambda: one_hot_targets()[0]),
])
def test_bp1_general_path_vjp_of_cross_entropy_gradient_matches_finite_differences(output, kind, targets):
    # The unfused route σ'ᵀ ∇_a C on its own (ML-From-Scratch #71: a wrong softmax
    # derivative can hide behind a fused cross-entropy delta).
    z, Y = pre_activations(scale=1.0), targets()
    activation = activations.get(output)
    cost = costs.get("cross_entropy", activation)
    a = activation(z)
    delta = cost.general_output_delta(z, a, Y)   # what bprop.trace shows beside the fused a - y
    np.testing.assert_allclose(delta, bp1_finite_differences(output, kind, z, Y), rtol=1e-7, atol=1e-9)


def test_bp1_fused_softmax_delta_with_soft_probability_targets_matches_finite_differences():
    z = pre_activations()
    Y = np.random.default_rng(5).dirichlet(np.ones(N), M)  # each row sums to 1
    cost = costs.get("cross_entropy", activations.get("softmax"))
    delta = cost.output_delta(z, sigma("softmax", z), Y)
    np.testing.assert_allclose(delta, bp1_finite_differences("softmax", "categorical", z, Y),
                               rtol=1e-7, atol=1e-9)


def test_bp1_output_delta_written_into_a_buffer_equals_the_returned_delta():
    z, Y = pre_activations(), real_targets()
    cost = costs.get("quadratic", activations.get("softmax"))
    out = np.empty_like(z)
    returned = cost.output_delta(z, sigma("softmax", z), Y, out=out)
    assert returned is out
    np.testing.assert_allclose(out, bp1_finite_differences("softmax", "quadratic", z, Y),
                               rtol=1e-7, atol=1e-9)


# ---- saturation ---------------------------------------------------------------------------
@pytest.fixture
def strict_floats():
    """Overflow, division by zero and invalid operations raise; warnings are errors."""
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_cross_entropy_at_saturation_is_finite_and_equals_the_margin(dtype, strict_floats):
    sigmoid = activations.get("sigmoid")
    cost = costs.get("cross_entropy", sigmoid)
    z = np.array([[1e4, -1e4, 1e4, -1e4]], dtype)
    Y = np.array([[1, 0, 0, 1]], dtype)
    a = sigmoid(z)
    np.testing.assert_array_equal(a, [[1, 0, 1, 0]])  # outputs exactly 0 and 1
    value = cost.value(z, a, Y)
    # Two confident right answers cost 0, two confident wrong ones cost |z| each.
    np.testing.assert_allclose(value, [2e4], rtol=1e-6)
    delta = cost.output_delta(z, a, Y)
    np.testing.assert_array_equal(delta, [[0, 0, 1, -1]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_categorical_cross_entropy_at_saturation_is_finite_and_equals_the_margin(dtype, strict_floats):
    softmax = activations.get("softmax")
    cost = costs.get("cross_entropy", softmax)
    z = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0]], dtype)
    Y = np.array([[1, 0, 0], [0, 1, 0]], dtype)
    a = softmax(z)
    np.testing.assert_array_equal(a[:, :2], [[1, 0], [1, 0]])
    np.testing.assert_allclose(cost.value(z, a, Y), [0.0, 2e4], rtol=1e-6, atol=1e-30)
    np.testing.assert_array_equal(cost.output_delta(z, a, Y), a - Y)


@pytest.mark.parametrize("output", OUTPUTS)
def test_quadratic_at_saturation_is_finite(output, strict_floats):
    activation = activations.get(output)
    cost = costs.get("quadratic", activation)
    z = np.array([[1e4, -1e4, 0.5]])
    Y = np.array([[0.0, 1.0, 0.5]])
    a = activation(z)
    assert np.isfinite(cost.value(z, a, Y)).all()
    assert np.isfinite(cost.output_delta(z, a, Y)).all()


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_gradient_is_finite_when_outputs_are_exactly_zero_or_one(output, dtype, strict_floats):
    cost = costs.get("cross_entropy", activations.get(output))
    a = np.array([[0.0, 1.0, 0.0]], dtype)
    Y = np.array([[1.0, 0.0, 0.0]], dtype)
    gradient = cost.gradient(a, Y)
    assert gradient.dtype == dtype
    assert np.isfinite(gradient).all()
    assert gradient[0, 0] < 0  # pushes the true class's output up


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_general_path_through_saturated_outputs_is_finite(output, strict_floats):
    activation = activations.get(output)
    cost = costs.get("cross_entropy", activation)
    z = np.array([[1e4, -1e4, 0.0]])
    Y = np.array([[0.0, 1.0, 0.0]])
    a = activation(z)
    assert np.isfinite(activation.vjp(z, a, cost.gradient(a, Y))).all()


# ---- choosing a cost ------------------------------------------------------------------------
@pytest.mark.parametrize("output", ["relu", "identity", "tanh", "leaky_relu"])
def test_cross_entropy_with_a_non_probability_output_is_refused(output):
    with pytest.raises(ValueError, match=rf"cross_entropy.*sigmoid or softmax.*{output!r}"):
        bprop.Network([3, 2], activation=output, cost="cross_entropy")


def test_unknown_cost_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown cost 'mse'.*quadratic, cross_entropy"):
        bprop.Network([3, 2], cost="mse")


@pytest.mark.parametrize("output, name", [("sigmoid", "quadratic"), ("sigmoid", "cross_entropy"),
                                          ("softmax", "quadratic"), ("softmax", "cross_entropy")])
def test_float32_costs_stay_float32(output, name):
    activation = activations.get(output)
    cost = costs.get(name, activation)
    z = pre_activations().astype(np.float32)
    Y = one_hot_targets()[0].astype(np.float32)
    a = activation(z)
    assert cost.value(z, a, Y).dtype == np.float32
    assert cost.gradient(a, Y).dtype == np.float32
    assert cost.output_delta(z, a, Y).dtype == np.float32
