"""The integer codes compiled kernels use for activations, costs and update rules.

Kept apart from the kernels so choosing them imports no compiler.
"""
SIGMOID, TANH, RELU, LEAKY_RELU, IDENTITY, SOFTMAX = range(6)
ACTIVATION_CODES = {"sigmoid": SIGMOID, "tanh": TANH, "relu": RELU, "leaky_relu": LEAKY_RELU,
                    "identity": IDENTITY, "softmax": SOFTMAX}

QUADRATIC, FUSED_CROSS_ENTROPY = range(2)

PLAIN, MOMENTUM, NESTEROV, ADAM = range(4)
