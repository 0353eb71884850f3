"""A per-example backpropagation loop in the manner of the book's original ``network.py``.

Written afresh for Python 3 as the benchmark's slow reference: every example is a column
vector, ``backprop`` runs once per example, and a mini-batch's gradient is the sum of
the examples' gradients. Sigmoid neurons and the quadratic cost, as in chapter 1, so it
serves recipe A only.
"""
import random

import numpy as np


def sigmoid(z):
    """σ(z) = 1 / (1 + e^-z)."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """σ'(z) = σ(z) (1 - σ(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


class PerExampleNetwork:
    """``weights[l]`` has shape (n_out, n_in) and ``biases[l]`` shape (n_out, 1)."""

    def __init__(self, weights, biases):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]
        self.biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for b in biases]

    def feedforward(self, a):
        """a^l = σ(w^l a^(l-1) + b^l), one column vector at a time."""
        for w, b in zip(self.weights, self.biases):
            a = sigmoid(w @ a + b)
        return a

    def sgd_epoch(self, training_data, mini_batch_size, eta, rng):
        """One epoch of stochastic gradient descent over a list of (x, y) column pairs."""
        rng.shuffle(training_data)
        for k in range(0, len(training_data), mini_batch_size):
            self.update_mini_batch(training_data[k:k + mini_batch_size], eta)

    def update_mini_batch(self, mini_batch, eta):
        """w -> w - (eta/m) Σ_x ∂C_x/∂w, and likewise for b (equations 20 and 21)."""
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        for x, y in mini_batch:
            delta_nabla_w, delta_nabla_b = self.backprop(x, y)
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
        step = eta / len(mini_batch)
        self.weights = [w - step * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - step * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """The gradient of C_x = ½‖a^L - y‖² for one example, by BP1-BP4."""
        activation = x
        activations = [x]
        zs = []
        for w, b in zip(self.weights, self.biases):
            z = w @ activation + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        nabla_w = [None] * len(self.weights)
        nabla_b = [None] * len(self.biases)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])              # BP1
        nabla_b[-1] = delta                                                # BP3
        nabla_w[-1] = delta @ activations[-2].T                            # BP4
        for l in range(2, len(self.weights) + 1):
            delta = (self.weights[-l + 1].T @ delta) * sigmoid_prime(zs[-l])  # BP2
            nabla_b[-l] = delta                                            # BP3
            nabla_w[-l] = delta @ activations[-l - 1].T                    # BP4
        return nabla_w, nabla_b


def as_column_pairs(X, y, n_classes=10):
    """The book's data layout: a list of (784x1 input, 10x1 one-hot) column vectors."""
    eye = np.eye(n_classes)
    return [(x.reshape(-1, 1).astype(np.float64), eye[label].reshape(-1, 1))
            for x, label in zip(X, y)]


def make_rng(seed):
    return random.Random(seed)
