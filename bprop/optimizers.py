"""Update rules: given ∇C for every parameter, move the parameters. State is explicit.

Each optimizer has ``step(params, grads, eta, m=1)``, updating the arrays in ``params``
in place, and ``state()`` / ``load_state(arrays, info)`` so a checkpoint can restore it
exactly. ``params`` and ``grads`` are flat lists of arrays (w^0, b^0, w^1, b^1, ...);
``grads`` are summed over a mini-batch of ``m`` examples, Σ_x ∇C_x, so the mean gradient
is (1/m) Σ_x ∇C_x as in Nielsen's update w → w - (η/m) Σ_x ∇C_x (m=1: already a mean).
``step`` uses the ``grads`` arrays as scratch space.
"""
import math

import numpy as np

from bprop import validation


class SGD:
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Plain:     w → w - η ∇C                                        (Nielsen eq. 20)
    Momentum:  v → μ v - η ∇C,  w → w + v                          (Nielsen ch. 3)
    Nesterov:  v → μ v - η ∇C,  w → w + μ v - η ∇C                 (look-ahead form)
    """

    name = "sgd"

    def __init__(self, momentum=0.0, nesterov=False):
        self.momentum = validation.non_negative(momentum, "momentum", upper=1, upper_open=True)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            from bprop.errors import InputError

            raise InputError("nesterov=True needs a momentum > 0, e.g. momentum=0.9")
        self.velocities = None

    def step(self, params, grads, eta, m=1):
        rate = eta / m
        if self.momentum == 0:
            for w, nabla in zip(params, grads):
                nabla *= rate
                w -= nabla                              # w → w - (η/m) Σ_x ∇C_x
            return
        if self.velocities is None:
            self.velocities = [np.zeros_like(w) for w in params]
        mu = self.momentum
        for w, nabla, v in zip(params, grads, self.velocities):
            v *= mu
            nabla *= rate                               # nabla now holds η ∇C
            v -= nabla                                  # v → μ v - η ∇C
            if self.nesterov:
                w -= nabla
                w += np.multiply(v, mu, out=nabla)      # w → w + μ v - η ∇C
            else:
                w += v                                  # w → w + v

    def state(self):
        arrays = {} if self.velocities is None else {
            f"v{i}": v for i, v in enumerate(self.velocities)}
        return arrays, {"name": self.name, "momentum": self.momentum, "nesterov": self.nesterov}

    def load_state(self, arrays, info):
        n = len([key for key in arrays if key.startswith("v")])
        self.velocities = [arrays[f"v{i}"].copy() for i in range(n)] or None


class Adam:
    """Adam (Kingma & Ba 2015), with the bias correction that needs the step count t.

    m → β1 m + (1 - β1) ∇C,   v → β2 v + (1 - β2) (∇C)²
    m̂ = m / (1 - β1^t),       v̂ = v / (1 - β2^t)
    w → w - η m̂ / (√v̂ + ε)

    ∇C is the mean gradient: ``step`` first divides the summed ``grads`` by m. The bias
    corrections are applied as two scalars, η √c2 / c1 and ε √c2 (c_i = 1 - β_i^t), which
    gives the same update as the formula above with one pass fewer per array.
    """

    name = "adam"

    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.beta1 = validation.non_negative(beta1, "beta1", upper=1, upper_open=True)
        self.beta2 = validation.non_negative(beta2, "beta2", upper=1, upper_open=True)
        self.epsilon = validation.positive(epsilon, "epsilon")
        self.t = 0
        self.m = self.v = self._scratch = None

    def step(self, params, grads, eta, m=1):
        if self.m is None:
            self.m = [np.zeros_like(w) for w in params]
            self.v = [np.zeros_like(w) for w in params]
        if self._scratch is None:  # work space, not state: never saved
            self._scratch = [np.empty_like(w) for w in params]
        self.t += 1
        beta1, beta2, t = self.beta1, self.beta2, self.t
        correction1, correction2 = 1.0 - beta1 ** t, 1.0 - beta2 ** t
        # η m̂ / (√v̂ + ε) = (η √c2 / c1) m / (√v + ε √c2): one scalar per step, not per element.
        # Python floats (math.sqrt), so float32 arrays stay float32 with no casting.
        step_size = eta * math.sqrt(correction2) / correction1
        epsilon_hat = self.epsilon * math.sqrt(correction2)
        for w, nabla, m_, v, scratch in zip(params, grads, self.m, self.v, self._scratch):
            g = nabla
            g *= 1.0 / m                                # ∇C = (1/m) Σ_x ∇C_x, the mean gradient
            m_ *= beta1
            m_ += np.multiply(g, 1.0 - beta1, out=scratch)   # m → β1 m + (1 - β1) ∇C
            g *= g
            g *= 1.0 - beta2
            v *= beta2
            v += g                                      # v → β2 v + (1 - β2) (∇C)²
            denominator = np.sqrt(v, out=g)
            denominator += epsilon_hat                  # √v + ε √c2
            update = np.divide(m_, denominator, out=g)
            update *= step_size
            w -= update                                 # w → w - η m̂ / (√v̂ + ε)

    def state(self):
        arrays = {}
        if self.m is not None:
            arrays.update({f"m{i}": m for i, m in enumerate(self.m)})
            arrays.update({f"v{i}": v for i, v in enumerate(self.v)})
        return arrays, {"name": self.name, "beta1": self.beta1, "beta2": self.beta2,
                        "epsilon": self.epsilon, "t": self.t}

    def load_state(self, arrays, info):
        self.t = int(info["t"])
        n = len([key for key in arrays if key.startswith("m")])
        self.m = [arrays[f"m{i}"].copy() for i in range(n)] or None
        self.v = [arrays[f"v{i}"].copy() for i in range(n)] or None


OPTIMIZERS = ("sgd", "adam")


def get(name, momentum=0.0, nesterov=False):
    """The optimizer called ``name`` (``sgd`` takes momentum and nesterov)."""
    if isinstance(name, (SGD, Adam)):
        return name
    validation.choice(name, "optimizer", OPTIMIZERS)
    if name == "adam":
        if momentum or nesterov:
            from bprop.errors import InputError

            raise InputError("momentum and nesterov apply to optimizer='sgd'; Adam keeps its own moments")
        return Adam()
    return SGD(momentum, nesterov)
