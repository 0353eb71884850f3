"""bprop.trace: every number of one step against a hand calculation written here in scalar
Python (math.exp and loops, no NumPy, no library backprop), against finite differences of
that hand-written forward pass, and the sum over paths against BP4."""
import math

import numpy as np
import pytest

import bprop
from bprop.tracing import sources
from bprop.tracing import MAX_PATHS, trace

# The built-in sigmoid-2321 example, as plain lists.
W = [[[0.1, -0.2], [0.4, 0.3], [-0.5, 0.6]],
     [[0.7, -0.3, 0.2], [-0.4, 0.5, 0.6]],
     [[0.8, -0.6]]]
B = [[0.1, -0.1, 0.2], [0.0, 0.1], [0.05]]
X = [0.5, 1.0]
Y = [1.0]
ETA = 0.5


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def hand_forward(weights, biases, x, hidden, output):
    """z^l_j = Σ_k w^l_jk a^(l-1)_k + b^l_j and a^l = σ(z^l), neuron by neuron."""
    a, zs, activations = list(x), [], []
    for l, (w, b) in enumerate(zip(weights, biases)):
        z = [sum(w[j][k] * a[k] for k in range(len(a))) + b[j] for j in range(len(b))]
        a = output(z) if l == len(weights) - 1 else [hidden(v) for v in z]
        zs.append(z)
        activations.append(a)
    return zs, activations


def sigmoid_layer(z):
    return [sigmoid(v) for v in z]


def softmax_layer(z):
    exps = [math.exp(v) for v in z]
    total = sum(exps)
    return [e / total for e in exps]


def quadratic(a, y):
    return 0.5 * sum((aj - yj) ** 2 for aj, yj in zip(a, y))


def log_likelihood(a, y):
    return -sum(yj * math.log(aj) for aj, yj in zip(a, y) if yj)


def hand_sigmoid_step(weights, biases, x, y, eta):
    """BP1-BP4 for sigmoid layers and the quadratic cost, one scalar at a time."""
    zs, acts = hand_forward(weights, biases, x, sigmoid, sigmoid_layer)
    below = [list(x)] + acts[:-1]
    L = len(weights)
    deltas = [None] * L
    grad_a = [acts[-1][j] - y[j] for j in range(len(y))]                       # ∇_a C = a - y
    deltas[-1] = [grad_a[j] * acts[-1][j] * (1 - acts[-1][j]) for j in range(len(y))]  # BP1
    for l in range(L - 2, -1, -1):                                               # BP2
        deltas[l] = [sum(weights[l + 1][p][j] * deltas[l + 1][p] for p in range(len(deltas[l + 1])))
                     * acts[l][j] * (1 - acts[l][j]) for j in range(len(biases[l]))]
    nabla_w = [[[below[l][k] * deltas[l][j] for k in range(len(below[l]))] for j in range(len(deltas[l]))]
               for l in range(L)]                                                # BP4
    new_w = [[[weights[l][j][k] - eta * nabla_w[l][j][k] for k in range(len(below[l]))]
              for j in range(len(deltas[l]))] for l in range(L)]
    new_b = [[biases[l][j] - eta * deltas[l][j] for j in range(len(deltas[l]))] for l in range(L)]
    return dict(zs=zs, acts=acts, cost=quadratic(acts[-1], y), grad_a=grad_a, deltas=deltas,
                nabla_w=nabla_w, nabla_b=deltas, new_w=new_w, new_b=new_b)


def hand_finite_differences(weights, biases, x, y, cost_of, epsilon=1e-6):
    """(C(p + ε) - C(p - ε)) / 2ε for every weight, by the hand-written forward pass."""
    grads = []
    for l, w in enumerate(weights):
        grads.append([])
        for j, row in enumerate(w):
            grads[l].append([])
            for k in range(len(row)):
                costs = []
                for step in (epsilon, -epsilon):
                    shifted = [[list(r) for r in m] for m in weights]
                    shifted[l][j][k] += step
                    costs.append(cost_of(shifted, biases, x, y))
                grads[l][j].append((costs[0] - costs[1]) / (2 * epsilon))
    return grads


def sigmoid_cost(weights, biases, x, y):
    return quadratic(hand_forward(weights, biases, x, sigmoid, sigmoid_layer)[1][-1], y)


def network_of(weights, biases, activations, cost):
    net = bprop.Network([len(weights[0][0])] + [len(b) for b in biases], activations, cost)
    net.set_parameters([np.array(w) for w in weights], [np.array(b) for b in biases])
    return net


@pytest.fixture(scope="module")
def sigmoid_trace():
    return trace(network_of(W, B, "sigmoid", "quadratic"), X, Y, ETA)


@pytest.fixture(scope="module")
def softmax_trace():
    problem = sources.example("relu-softmax")
    return problem, trace(problem.network, problem.x, problem.y, problem.learning_rate)


# ---- the sigmoid 2-3-2-1 example against the hand calculation ------------------------------
def test_forward_pass_matches_the_hand_calculation(sigmoid_trace):
    hand = hand_sigmoid_step(W, B, X, Y, ETA)
    for l, layer in enumerate(sigmoid_trace.layers):
        np.testing.assert_allclose(layer.z[0], hand["zs"][l], rtol=0, atol=1e-15)
        np.testing.assert_allclose(layer.a[0], hand["acts"][l], rtol=0, atol=1e-15)
    assert sigmoid_trace.cost_value == pytest.approx(hand["cost"], abs=1e-15)
    np.testing.assert_allclose(sigmoid_trace.x, [X])


def test_bp1_shows_the_cost_gradient_and_sigma_prime_of_the_hand_calculation(sigmoid_trace):
    hand = hand_sigmoid_step(W, B, X, Y, ETA)
    out = sigmoid_trace.layers[-1]
    np.testing.assert_allclose(out.upstream[0], hand["grad_a"], atol=1e-15)
    a = hand["acts"][-1][0]
    np.testing.assert_allclose(out.sigma_prime[0], [a * (1 - a)], atol=1e-15)
    np.testing.assert_allclose(out.delta[0], hand["deltas"][-1], atol=1e-15)


def test_bp2_shows_the_weighted_error_and_sigma_prime_of_each_hidden_layer(sigmoid_trace):
    hand = hand_sigmoid_step(W, B, X, Y, ETA)
    for l in (0, 1):
        layer = sigmoid_trace.layers[l]
        above = hand["deltas"][l + 1]
        weighted = [sum(W[l + 1][p][j] * above[p] for p in range(len(above))) for j in range(len(B[l]))]
        np.testing.assert_allclose(layer.upstream[0], weighted, atol=1e-15)
        np.testing.assert_allclose(layer.sigma_prime[0], [a * (1 - a) for a in hand["acts"][l]], atol=1e-15)
        np.testing.assert_allclose(layer.delta[0], hand["deltas"][l], atol=1e-15)


def test_bp3_bp4_and_the_updated_parameters_match_the_hand_calculation(sigmoid_trace):
    hand = hand_sigmoid_step(W, B, X, Y, ETA)
    for l, layer in enumerate(sigmoid_trace.layers):
        np.testing.assert_allclose(layer.nabla_b, hand["nabla_b"][l], atol=1e-15)
        np.testing.assert_allclose(layer.nabla_w, hand["nabla_w"][l], atol=1e-15)
        np.testing.assert_allclose(layer.w_new, hand["new_w"][l], atol=1e-15)
        np.testing.assert_allclose(layer.b_new, hand["new_b"][l], atol=1e-15)
        np.testing.assert_array_equal(layer.w, W[l])


def test_cost_after_the_step_is_the_hand_forward_pass_with_the_new_parameters(sigmoid_trace):
    hand = hand_sigmoid_step(W, B, X, Y, ETA)
    after = sigmoid_cost(hand["new_w"], hand["new_b"], X, Y)
    assert sigmoid_trace.cost_after == pytest.approx(after, abs=1e-15)
    assert sigmoid_trace.cost_after < sigmoid_trace.cost_value


def test_gradients_match_finite_differences_of_the_hand_written_forward_pass(sigmoid_trace):
    expected = hand_finite_differences(W, B, X, Y, sigmoid_cost)
    for l, layer in enumerate(sigmoid_trace.layers):
        np.testing.assert_allclose(layer.nabla_w, expected[l], rtol=1e-6, atol=1e-9)


def test_the_traces_own_finite_differences_agree_with_backprop(sigmoid_trace, softmax_trace):
    for t in (sigmoid_trace, softmax_trace[1]):
        for layer in t.layers:
            np.testing.assert_allclose(layer.fd_w, layer.nabla_w, rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(layer.fd_b, layer.nabla_b, rtol=1e-6, atol=1e-9)


def test_work_counts_one_forward_and_one_backward_against_two_forward_passes_per_parameter(sigmoid_trace):
    assert sigmoid_trace.n_parameters == 6 + 3 + 6 + 2 + 2 + 1
    assert sigmoid_trace.forward_passes == {"backprop": 1, "backward_passes": 1, "finite_differences": 40}


# ---- ReLU + softmax + cross-entropy ----------------------------------------------------------
def test_relu_softmax_cross_entropy_matches_the_hand_calculation(softmax_trace):
    problem, t = softmax_trace
    weights = [w.tolist() for w in problem.network.weights]
    biases = [b.tolist() for b in problem.network.biases]
    x = problem.x.tolist()
    y = [0.0, 1.0, 0.0]   # the example's class 1
    zs, acts = hand_forward(weights, biases, x, lambda z: max(0.0, z), softmax_layer)
    a = acts[-1]
    grad_a = [-yj / aj for aj, yj in zip(a, y)]                                   # ∇_a C = -y / a
    jacobian = [[a[j] * ((j == k) - a[k]) for k in range(3)] for j in range(3)]  # ∂a_j/∂z_k
    delta_out = [sum(jacobian[j][k] * grad_a[j] for j in range(3)) for k in range(3)]  # BP1 by the Jacobian
    relu_prime = [1.0 if z > 0 else 0.0 for z in zs[0]]
    delta_hidden = [sum(weights[1][p][j] * delta_out[p] for p in range(3)) * relu_prime[j] for j in range(3)]

    assert t.cost_value == pytest.approx(log_likelihood(a, y), abs=1e-15)
    out, hidden = t.layers[1], t.layers[0]
    np.testing.assert_allclose(hidden.z[0], zs[0], atol=1e-15)
    np.testing.assert_allclose(out.a[0], a, atol=1e-15)
    np.testing.assert_allclose(out.upstream[0], grad_a, atol=1e-15)
    np.testing.assert_allclose(out.jacobian[0], jacobian, atol=1e-15)
    assert out.sigma_prime is None
    np.testing.assert_allclose(t.delta_general[0], delta_out, atol=1e-14)   # the unfused product
    np.testing.assert_allclose(out.delta[0], [aj - yj for aj, yj in zip(a, y)], atol=1e-15)  # fused a - y
    np.testing.assert_allclose(out.delta[0], delta_out, atol=1e-14)
    np.testing.assert_allclose(hidden.sigma_prime[0], relu_prime)
    np.testing.assert_allclose(hidden.delta[0], delta_hidden, atol=1e-15)
    np.testing.assert_allclose(hidden.nabla_w, [[x[k] * d for k in range(2)] for d in delta_hidden], atol=1e-15)
    assert t.fused


def test_relu_softmax_gradients_match_finite_differences_of_the_hand_written_forward_pass(softmax_trace):
    problem, t = softmax_trace
    weights = [w.tolist() for w in problem.network.weights]
    biases = [b.tolist() for b in problem.network.biases]

    def cost(ws, bs, x, y):
        return log_likelihood(hand_forward(ws, bs, x, lambda z: max(0.0, z), softmax_layer)[1][-1], y)

    expected = hand_finite_differences(weights, biases, problem.x.tolist(), [0.0, 1.0, 0.0], cost)
    for l, layer in enumerate(t.layers):
        np.testing.assert_allclose(layer.nabla_w, expected[l], rtol=1e-6, atol=1e-9)


# ---- a mini-batch ----------------------------------------------------------------------------
def test_minibatch_keeps_one_delta_row_per_example_and_takes_the_mean_in_bp3_and_bp4():
    xs, ys = [[0.5, 1.0], [-1.0, 0.5], [0.25, -0.75]], [[1.0], [0.0], [1.0]]
    t = trace(network_of(W, B, "sigmoid", "quadratic"), xs, ys, ETA)
    hands = [hand_sigmoid_step(W, B, x, y, ETA) for x, y in zip(xs, ys)]
    assert t.m == 3 and not t.single
    for l, layer in enumerate(t.layers):
        np.testing.assert_allclose(layer.delta, [h["deltas"][l] for h in hands], atol=1e-15)
        mean_b = [sum(h["nabla_b"][l][j] for h in hands) / 3 for j in range(len(B[l]))]
        mean_w = [[sum(h["nabla_w"][l][j][k] for h in hands) / 3 for k in range(len(W[l][0]))]
                  for j in range(len(B[l]))]
        np.testing.assert_allclose(layer.nabla_b, mean_b, atol=1e-15)
        np.testing.assert_allclose(layer.nabla_w, mean_w, atol=1e-15)
    assert t.cost_value == pytest.approx(sum(h["cost"] for h in hands) / 3, abs=1e-15)
    np.testing.assert_allclose(t.costs, [h["cost"] for h in hands], atol=1e-15)


def test_trace_agrees_with_network_backprop():
    net = bprop.Network([3, 4, 3, 2], ["tanh", "relu", "softmax"], "cross_entropy", seed=4)
    X_batch = np.random.default_rng(0).standard_normal((3, 3))
    t = trace(net, X_batch, [0, 1, 1], 0.1)
    nabla_w, nabla_b = net.backprop(X_batch, [0, 1, 1])
    for layer, gw, gb in zip(t.layers, nabla_w, nabla_b):
        np.testing.assert_allclose(layer.nabla_w, gw, atol=1e-15)
        np.testing.assert_allclose(layer.nabla_b, gb, atol=1e-15)


def test_the_trace_shows_what_the_cores_one_backward_pass_computed(monkeypatch):
    # So the hand calculations above check the core: z, a, δ and the gradients are the
    # numbers Network.backward left in its workspace, not a second implementation's.
    backward_calls, forward_calls = [], []
    backward, forward = bprop.Network.backward, bprop.Network.forward

    def recording_backward(self, X, Y, workspace, masks=None, mean=True):
        result = backward(self, X, Y, workspace, masks, mean)
        backward_calls.append({name: [a.copy() for a in getattr(result, name)]
                               for name in ("zs", "deltas", "nabla_w", "nabla_b")})
        return result

    def counting_forward(self, X, workspace, masks=None):
        forward_calls.append(len(X))
        return forward(self, X, workspace, masks)

    monkeypatch.setattr(bprop.Network, "backward", recording_backward)
    monkeypatch.setattr(bprop.Network, "forward", counting_forward)
    t = trace(network_of(W, B, "sigmoid", "quadratic"), [[0.5, 1.0], [-1.0, 0.5]], [[1.0], [0.0]], ETA)
    assert len(backward_calls) == 1
    core = backward_calls[0]
    for l, layer in enumerate(t.layers):
        np.testing.assert_array_equal(layer.z, core["zs"][l])
        np.testing.assert_array_equal(layer.delta, core["deltas"][l])
        np.testing.assert_array_equal(layer.nabla_w, core["nabla_w"][l])
        np.testing.assert_array_equal(layer.nabla_b, core["nabla_b"][l])
    # One pass for backprop, two per parameter for the differences, one for the cost after the step.
    assert len(forward_calls) == 1 + t.forward_passes["finite_differences"] + 1 == 1 + 2 * 20 + 1


# ---- the sum over paths ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sigmoid-2321", "relu-softmax", "sigmoid-2321-batch"])
def test_path_sum_equals_bp4_for_every_weight(name):
    problem = sources.example(name)
    t = trace(problem.network, problem.x, problem.y, problem.learning_rate)
    for l in range(1, len(t.sizes)):
        for j in range(t.sizes[l]):
            for k in range(t.sizes[l - 1]):
                view = t.paths_for((l, j, k))
                assert view.bp4 == t.layers[l - 1].nabla_w[j, k]
                assert view.total == pytest.approx(view.bp4, rel=1e-12, abs=1e-17)


def test_path_sum_equals_bp4_for_a_tanh_network_with_a_binary_cross_entropy_output():
    net = bprop.Network([2, 3, 3, 2], ["tanh", "tanh", "sigmoid"], "cross_entropy", seed=2)
    t = trace(net, [[0.3, -0.7], [1.2, 0.4]], [[1, 0], [0, 1]], 0.1)
    for j in range(3):
        for k in range(2):
            view = t.paths_for((1, j, k))
            assert view.total == pytest.approx(view.bp4, rel=1e-12, abs=1e-17)


def test_each_path_lists_its_rate_factors_and_their_product(sigmoid_trace):
    view = sigmoid_trace.paths
    assert view.weight == (1, 0, 0)   # the default: the first layer's w_00
    assert view.count == 2 == len(view.paths[0])
    hand = hand_sigmoid_step(W, B, X, Y, ETA)
    acts = hand["acts"]
    for path in view.paths[0]:
        p = path.neurons[1]
        kinds = [f["factor"] for f in path.factors]
        assert kinds == ["a", "sigma_prime", "w", "sigma_prime", "w", "sigma_prime", "cost_gradient"]
        expected = [X[0], acts[0][0] * (1 - acts[0][0]), W[1][p][0], acts[1][p] * (1 - acts[1][p]),
                    W[2][0][p], acts[2][0] * (1 - acts[2][0]), acts[2][0] - Y[0]]
        np.testing.assert_allclose([f["value"] for f in path.factors], expected, atol=1e-15)
        assert path.product == pytest.approx(math.prod(expected), rel=1e-14)


def test_softmax_paths_split_at_the_output_through_the_jacobian(softmax_trace):
    _, t = softmax_trace
    view = t.paths
    assert view.count == 3 * 3
    assert {(tuple(p.neurons), p.output) for p in view.paths[0]} == {((0, q), m) for q in range(3) for m in range(3)}
    assert all(p.factors[-2]["factor"] == "jacobian" for p in view.paths[0])


def test_a_weight_with_too_many_paths_keeps_only_their_number():
    t = trace(bprop.Network([1, 11, 11, 11, 11], seed=0), [0.5], [0.0] * 11, 0.1)
    assert t.paths.count == 11 ** 3 > MAX_PATHS
    assert t.paths.paths is None and t.paths.total is None
    assert t.paths.bp4 == t.layers[0].nabla_w[0, 0]
    nearer = t.paths_for((3, 0, 0))   # two layers above it: 11 paths
    assert nearer.count == 11 and nearer.total == pytest.approx(nearer.bp4, rel=1e-12, abs=1e-17)


# ---- what trace accepts and leaves alone -----------------------------------------------------
def test_trace_leaves_the_network_unchanged_and_works_in_float64():
    net = network_of(W, B, "sigmoid", "quadratic")
    net32 = bprop.Network([2, 3, 2, 1], dtype="float32")
    net32.set_parameters(net.weights, net.biases)
    before = [w.copy() for w in net32.weights]
    t = trace(net32, X, Y, ETA)
    for w, w0 in zip(net32.weights, before):
        np.testing.assert_array_equal(w, w0)
    assert t.layers[0].z.dtype == np.float64
    assert t.cost_value == pytest.approx(hand_sigmoid_step(W, B, X, Y, ETA)["cost"], rel=1e-6)


@pytest.mark.parametrize("x, y, message", [
    ([0.5, 1.0, 2.0], [1.0], r"x has 3 values but the network's input layer expects 2"),
    ([0.5, 1.0], [1.0, 0.0], r"y must be a class index, a 0/1 label or a target row of 1 values"),
    ([[0.5, 1.0]], [[1.0], [0.0]], r"X has 1 examples but y has 2"),
    ([0.5, float("nan")], [1.0], r"NaN"),
])
def test_bad_examples_are_refused_with_a_message(x, y, message):
    with pytest.raises(bprop.InputError, match=message):
        trace(network_of(W, B, "sigmoid", "quadratic"), x, y, ETA)


@pytest.mark.parametrize("weight, message", [
    ((0, 0, 0), r"outside 1\.\.3"), ((1, 3, 0), r"0 <= j < 3"), ((2, 0, 3), r"0 <= k < 3"), ("1,0", r"three integers"),
])
def test_a_weight_outside_the_network_is_refused(weight, message):
    with pytest.raises(bprop.InputError, match=message):
        trace(network_of(W, B, "sigmoid", "quadratic"), X, Y, ETA, weight=weight)


def test_learning_rate_must_be_positive():
    with pytest.raises(bprop.InputError, match="learning_rate"):
        trace(network_of(W, B, "sigmoid", "quadratic"), X, Y, 0)


def test_bprop_trace_is_the_public_name():
    assert bprop.trace is trace
