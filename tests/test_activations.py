"""Activations σ: the forward pass against the textbook formula, the vector-Jacobian
product against finite differences of σ in float64, and extreme inputs.

The reference formulas and derivatives are written here, independently of
``bprop.activations``.
"""
import math
import warnings

import numpy as np
import pytest

from bprop import activations

ELEMENTWISE = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
ALL = ELEMENTWISE + ["softmax"]

H = 1e-6  # central-difference step in float64


def textbook(name, z):
    """σ(z) by its textbook formula, for moderate z (|z| < ~700)."""
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "identity":
        return z.copy()
    if name == "softmax":
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    raise AssertionError(name)


def away_from_kinks(z):
    """Move z away from 0, where ReLU and leaky ReLU have no derivative."""
    return np.where(z >= 0, z + 0.1, z - 0.1)


def batch(seed=0, m=6, n=5, scale=3.0):
    return away_from_kinks(scale * np.random.default_rng(seed).standard_normal((m, n)))


@pytest.mark.parametrize("name", ALL)
def test_forward_matches_textbook_formula(name):
    z = batch()
    sigma = activations.get(name)
    np.testing.assert_allclose(sigma(z), textbook(name, z), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", ALL)
def test_forward_into_its_own_input_buffer_matches_textbook_formula(name):
    # The module promises forward(z, out=z) is allowed once z is no longer needed.
    z = batch(seed=1)
    expected = textbook(name, z)
    sigma = activations.get(name)
    result = sigma.forward(z, out=z)
    np.testing.assert_allclose(result, expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_vjp_matches_finite_differences_of_sigma(name):
    z = batch(seed=2)
    g = np.random.default_rng(3).standard_normal(z.shape)
    sigma = activations.get(name)
    a = sigma(z)
    sigma_prime = (textbook(name, z + H) - textbook(name, z - H)) / (2 * H)
    np.testing.assert_allclose(sigma.vjp(z, a, g), g * sigma_prime, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_prime_matches_finite_differences_of_sigma(name):
    z = batch(seed=4)
    sigma = activations.get(name)
    sigma_prime = (textbook(name, z + H) - textbook(name, z - H)) / (2 * H)
    np.testing.assert_allclose(sigma.prime(z, sigma(z)), sigma_prime, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_vjp_written_into_the_upstream_gradient_buffer_is_correct(name):
    # Backprop calls vjp(z, a, g, out=g) to save memory (BP2).
    z = batch(seed=5)
    g = np.random.default_rng(6).standard_normal(z.shape)
    sigma = activations.get(name)
    expected = sigma.vjp(z, sigma(z), g.copy())
    result = sigma.vjp(z, sigma(z), g, out=g)
    np.testing.assert_allclose(result, expected, rtol=1e-15)


def test_relu_derivative_at_zero_is_the_subgradient_zero():
    sigma = activations.get("relu")
    z = np.array([[0.0, -0.0, 1.0]])
    np.testing.assert_array_equal(sigma.vjp(z, sigma(z), np.ones_like(z)), [[0.0, 0.0, 1.0]])


def test_leaky_relu_slope_for_negative_inputs_is_alpha():
    sigma = activations.LeakyReLU(alpha=0.2)
    z = np.array([[-3.0, 2.0]])
    np.testing.assert_allclose(sigma(z), [[-0.6, 2.0]])
    np.testing.assert_allclose(sigma.vjp(z, sigma(z), np.ones_like(z)), [[0.2, 1.0]])


def finite_difference_softmax_jacobian(z_row):
    """J[j, k] = ∂a_j/∂z_k for one example, by central differences of the textbook softmax."""
    n = len(z_row)
    J = np.empty((n, n))
    for k in range(n):
        step = np.zeros(n)
        step[k] = H
        J[:, k] = (textbook("softmax", (z_row + step)[None])[0]
                   - textbook("softmax", (z_row - step)[None])[0]) / (2 * H)
    return J


def test_softmax_jacobian_matches_finite_differences():
    z = batch(seed=7, m=1, n=5)[0]
    softmax = activations.get("softmax")
    a = softmax(z[None])[0]
    np.testing.assert_allclose(softmax.jacobian(a), finite_difference_softmax_jacobian(z),
                               rtol=1e-8, atol=1e-9)


def test_softmax_vjp_matches_the_full_finite_difference_jacobian_row_by_row():
    z = batch(seed=8, m=4, n=5)
    g = np.random.default_rng(9).standard_normal(z.shape)
    softmax = activations.get("softmax")
    result = softmax.vjp(z, softmax(z), g)
    for i in range(len(z)):
        J = finite_difference_softmax_jacobian(z[i])
        # ∂C/∂z_k = Σ_j (∂C/∂a_j)(∂a_j/∂z_k): the row vector g times J.
        np.testing.assert_allclose(result[i], g[i] @ J, rtol=1e-7, atol=1e-10)


def test_softmax_vjp_written_into_the_upstream_gradient_buffer_is_correct():
    z = batch(seed=10, m=3, n=4)
    g = np.random.default_rng(11).standard_normal(z.shape)
    softmax = activations.get("softmax")
    expected = softmax.vjp(z, softmax(z), g.copy())
    np.testing.assert_allclose(softmax.vjp(z, softmax(z), g, out=g), expected, rtol=1e-15)


def test_softmax_rows_sum_to_one():
    z = batch(seed=12, m=5, n=7, scale=20.0)
    np.testing.assert_allclose(activations.get("softmax")(z).sum(axis=1), 1.0, rtol=1e-15)


def test_softmax_has_no_elementwise_derivative():
    with pytest.raises(TypeError, match="vjp"):
        activations.get("softmax").prime(np.zeros((1, 2)), np.full((1, 2), 0.5))


EXTREME = np.array([[-1e4, -800.0, -50.0, -1e-300, 0.0, 1e-300, 50.0, 800.0, 1e4]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ALL)
def test_extreme_inputs_give_finite_outputs_and_gradients_without_warnings(name, dtype):
    z = EXTREME.astype(dtype)
    sigma = activations.get(name)
    # Underflow to 0 is the correct answer (e^-10000) and NumPy ignores it by default;
    # overflow, division by zero and invalid operations must not happen.
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        a = sigma(z)
        grad = sigma.vjp(z, a, np.ones_like(z))
    assert a.dtype == dtype and grad.dtype == dtype
    assert np.isfinite(a).all() and np.isfinite(grad).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_raises_nothing_even_when_every_floating_point_event_is_an_error(dtype):
    # e^(-z) overflows below z = -709 (float32: -88.7) and σ underflows far out: both expected.
    z = np.array([[-1e4, -745.0, -709.5, -100.0, -88.8, 0.0, 88.8, 800.0, 1e4]], dtype)
    with np.errstate(all="raise"):
        a = activations.get("sigmoid")(z)
    assert a[0, 0] == 0.0 and a[0, -1] == 1.0 and np.isfinite(a).all()


def test_saturated_sigmoid_reaches_exactly_zero_and_one_with_zero_slope():
    sigma = activations.get("sigmoid")
    z = np.array([[-1e4, 1e4]])
    a = sigma(z)
    np.testing.assert_array_equal(a, [[0.0, 1.0]])
    np.testing.assert_array_equal(sigma.vjp(z, a, np.ones_like(z)), [[0.0, 0.0]])


def test_sigmoid_keeps_its_relative_precision_far_into_the_lower_tail():
    # σ(z) = e^z / (1 + e^z) for z < 0, in Python's floats: no cancellation there. The
    # form ½ + ½ tanh(z/2) gave 0 from z = -38 on (and lost digits well before).
    z = np.array([[-700.0, -300.0, -40.0, -20.0, -5.0]])
    expected = [math.exp(v) / (1.0 + math.exp(v)) for v in z[0]]
    np.testing.assert_allclose(activations.get("sigmoid")(z)[0], expected, rtol=1e-14)


def test_saturated_softmax_is_one_hot():
    softmax = activations.get("softmax")
    a = softmax(np.array([[1e4, -1e4, 0.0]]))
    np.testing.assert_array_equal(a, [[1.0, 0.0, 0.0]])


@pytest.mark.parametrize("name", ALL)
def test_float32_input_stays_float32(name):
    z = batch(seed=13).astype(np.float32)
    sigma = activations.get(name)
    a = sigma(z)
    assert a.dtype == np.float32
    assert sigma.vjp(z, a, np.ones_like(z)).dtype == np.float32


def test_unknown_activation_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*sigmoid.*softmax"):
        activations.get("swish")
