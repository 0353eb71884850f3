"""Update rules against their paper formulas, computed here step by step.

Note: ``step`` works in place on ``params`` and uses ``grads`` as scratch space, so
each call below gets fresh copies of the gradients.
"""
import json

import numpy as np
import pytest

from bprop import optimizers


def problem(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal(3).astype(dtype)]
    grads = [[rng.standard_normal(p.shape).astype(dtype) for p in params] for _ in range(4)]
    # Entries of very different sizes, so Adam's ε and its bias correction both matter.
    grads[0][1][:] = np.array([1e-9, 1e-3, 10.0], dtype)
    return params, grads


def copies(arrays):
    return [a.copy() for a in arrays]


# ---- plain SGD -------------------------------------------------------------------------------------
def test_sgd_step_is_w_minus_eta_nabla():
    params, grads = problem()
    w0 = copies(params)
    optimizers.SGD().step(params, copies(grads[0]), 0.3)
    for w, start, g in zip(params, w0, grads[0]):
        np.testing.assert_allclose(w, start - 0.3 * g, rtol=1e-15)


# ---- momentum ------------------------------------------------------------------------------------------
def test_momentum_steps_follow_v_to_mu_v_minus_eta_nabla_then_w_plus_v():
    params, grads = problem()
    mu, eta = 0.9, 0.1
    optimizer = optimizers.SGD(momentum=mu)
    w = copies(params)
    v = [np.zeros_like(p) for p in params]
    for g in grads:
        optimizer.step(params, copies(g), eta)
        v = [mu * v_ - eta * g_ for v_, g_ in zip(v, g)]
        w = [w_ + v_ for w_, v_ in zip(w, v)]
        for actual, expected in zip(params, w):
            np.testing.assert_allclose(actual, expected, rtol=1e-13)


def test_nesterov_steps_follow_w_plus_mu_v_minus_eta_nabla():
    params, grads = problem()
    mu, eta = 0.8, 0.05
    optimizer = optimizers.SGD(momentum=mu, nesterov=True)
    w = copies(params)
    v = [np.zeros_like(p) for p in params]
    for g in grads:
        optimizer.step(params, copies(g), eta)
        v = [mu * v_ - eta * g_ for v_, g_ in zip(v, g)]
        w = [w_ + mu * v_ - eta * g_ for w_, v_, g_ in zip(w, v, g)]
        for actual, expected in zip(params, w):
            np.testing.assert_allclose(actual, expected, rtol=1e-13)


def test_nesterov_differs_from_classical_momentum():
    params_a, grads = problem()
    params_b = copies(params_a)
    classical, nesterov = optimizers.SGD(momentum=0.9), optimizers.SGD(momentum=0.9, nesterov=True)
    for g in grads[:2]:
        classical.step(params_a, copies(g), 0.1)
        nesterov.step(params_b, copies(g), 0.1)
    assert not np.allclose(params_a[0], params_b[0])


def test_nesterov_without_momentum_is_refused():
    with pytest.raises(ValueError, match="nesterov=True needs a momentum > 0"):
        optimizers.SGD(momentum=0.0, nesterov=True)


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5, float("nan")])
def test_momentum_outside_zero_to_one_is_refused(momentum):
    with pytest.raises(ValueError, match="momentum must be a finite number >= 0 and < 1"):
        optimizers.SGD(momentum=momentum)


# ---- Adam -----------------------------------------------------------------------------------------------
def adam_reference(params, grads, eta, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Kingma & Ba (2015), Algorithm 1, written out with the step count t."""
    w = copies(params)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    trajectory = []
    for t, g in enumerate(grads, start=1):
        m = [beta1 * m_ + (1 - beta1) * g_ for m_, g_ in zip(m, g)]
        v = [beta2 * v_ + (1 - beta2) * g_ ** 2 for v_, g_ in zip(v, g)]
        m_hat = [m_ / (1 - beta1 ** t) for m_ in m]
        v_hat = [v_ / (1 - beta2 ** t) for v_ in v]
        w = [w_ - eta * mh / (np.sqrt(vh) + epsilon) for w_, mh, vh in zip(w, m_hat, v_hat)]
        trajectory.append(w)
    return trajectory


def test_first_adam_step_matches_the_paper_with_bias_correction():
    params, grads = problem()
    expected = adam_reference(params, grads[:1], eta=0.01)[0]
    optimizer = optimizers.Adam()
    optimizer.step(params, copies(grads[0]), 0.01)
    assert optimizer.t == 1
    for actual, want in zip(params, expected):
        np.testing.assert_allclose(actual, want, rtol=1e-12)


def test_second_adam_step_uses_t_equal_two():
    params, grads = problem()
    expected = adam_reference(params, grads[:2], eta=0.01)[1]
    optimizer = optimizers.Adam()
    for g in grads[:2]:
        optimizer.step(params, copies(g), 0.01)
    assert optimizer.t == 2
    for actual, want in zip(params, expected):
        np.testing.assert_allclose(actual, want, rtol=1e-12)


def test_first_adam_step_moves_each_weight_by_about_eta():
    # With bias correction, m̂ = g and v̂ = g² at t = 1, so each step is η g / (|g| + ε) ≈ η sign(g).
    params, grads = problem()
    start = copies(params)
    optimizers.Adam().step(params, copies(grads[0]), 0.01)
    np.testing.assert_allclose(start[0] - params[0], 0.01 * np.sign(grads[0][0]), rtol=1e-6)


@pytest.mark.parametrize("beta1, beta2, epsilon", [(0.5, 0.9, 1e-3), (0.0, 0.99, 1e-6)])
def test_adam_with_other_hyperparameters_matches_the_paper(beta1, beta2, epsilon):
    params, grads = problem(seed=1)
    expected = adam_reference(params, grads, 0.02, beta1, beta2, epsilon)
    optimizer = optimizers.Adam(beta1, beta2, epsilon)
    for step, g in enumerate(grads):
        optimizer.step(params, copies(g), 0.02)
        for actual, want in zip(params, expected[step]):
            np.testing.assert_allclose(actual, want, rtol=1e-12)


def test_adam_keeps_float32_state_and_parameters():
    params, grads = problem(dtype=np.float32)
    optimizer = optimizers.Adam()
    optimizer.step(params, copies(grads[0]), 0.01)
    assert all(a.dtype == np.float32 for a in params + optimizer.m + optimizer.v)


# ---- state round trip ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: optimizers.SGD(),
    lambda: optimizers.SGD(momentum=0.9),
    lambda: optimizers.SGD(momentum=0.9, nesterov=True),
    lambda: optimizers.Adam(),
], ids=["sgd", "momentum", "nesterov", "adam"])
def test_state_round_trip_continues_identically(make):
    params, grads = problem()
    original = make()
    for g in grads[:2]:
        original.step(params, copies(g), 0.05)
    arrays, info = original.state()
    arrays = {key: value.copy() for key, value in arrays.items()}   # as if read from a file
    info = json.loads(json.dumps(info))                              # the info is JSON
    restored = make()
    restored.load_state(arrays, info)
    resumed = copies(params)
    for g in grads[2:]:
        original.step(params, copies(g), 0.05)
        restored.step(resumed, copies(g), 0.05)
    for a, b in zip(params, resumed):
        np.testing.assert_array_equal(a, b)


def test_loading_state_copies_the_arrays():
    params, grads = problem()
    optimizer = optimizers.Adam()
    optimizer.step(params, copies(grads[0]), 0.01)
    arrays, info = optimizer.state()
    saved = {key: value.copy() for key, value in arrays.items()}
    restored = optimizers.Adam()
    restored.load_state(saved, info)
    restored.step(copies(params), copies(grads[1]), 0.01)
    for key, value in saved.items():
        np.testing.assert_array_equal(value, arrays[key])  # the loaded-from arrays untouched


def test_fresh_optimizer_state_is_empty_and_loads_back_empty():
    for optimizer in (optimizers.SGD(momentum=0.5), optimizers.Adam()):
        arrays, info = optimizer.state()
        assert arrays == {}
        optimizer.load_state(arrays, info)


# ---- choosing an optimizer -----------------------------------------------------------------------------------
def test_get_by_name_builds_the_right_optimizer():
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    sgd = optimizers.get("sgd", momentum=0.9, nesterov=True)
    assert isinstance(sgd, optimizers.SGD) and sgd.momentum == 0.9 and sgd.nesterov


def test_unknown_optimizer_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown optimizer 'rmsprop'; expected one of sgd, adam"):
        optimizers.get("rmsprop")


def test_adam_with_momentum_is_refused():
    with pytest.raises(ValueError, match="momentum and nesterov apply to optimizer='sgd'"):
        optimizers.get("adam", momentum=0.9)
