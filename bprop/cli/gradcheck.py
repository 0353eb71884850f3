"""``bprop gradcheck``: backprop's gradient against finite differences, layer by layer."""


# Two forward passes per parameter checked: [784, 100, 10] has 79,510 parameters.
DEFAULT_MAX_PARAMS = 1000


def add_parser(subparsers):
    from bprop.cli.train import int_list

    parser = subparsers.add_parser(
        "gradcheck", help="check backprop against finite differences",
        description="Compare backprop's gradient with central finite differences in float64, "
                    "on a saved model or on a small seeded network, with a random mini-batch.")
    parser.add_argument("model", metavar="MODEL", nargs="?", help="a .npz model (default: build one)")
    parser.add_argument("--sizes", type=int_list, default=[4, 5, 3], help="layer sizes (default 4,5,3)")
    parser.add_argument("--activation", default="sigmoid", help="hidden activation (default sigmoid)")
    parser.add_argument("--output-activation", help="default: the hidden one, or softmax for cross_entropy")
    parser.add_argument("--cost", default="quadratic", choices=["quadratic", "cross_entropy"])
    parser.add_argument("--batch", type=int, default=5, help="examples in the mini-batch (default 5)")
    parser.add_argument("--max-params", type=int, default=DEFAULT_MAX_PARAMS, metavar="N",
                        help=f"check at most N parameters per array, drawn at random with --seed; "
                             f"0 checks them all (default {DEFAULT_MAX_PARAMS:,}: a saved model of "
                             f"MNIST's size would otherwise take minutes)")
    parser.add_argument("--epsilon", type=float, default=1e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def run(args):
    import numpy as np

    import bprop
    from bprop import validation

    if args.model:
        network = bprop.load(args.model)
    else:
        output = args.output_activation or ("softmax" if args.cost == "cross_entropy" else args.activation)
        activations = [args.activation] * (len(args.sizes) - 2) + [output]
        network = bprop.Network(args.sizes, activations, args.cost, dtype="float64", seed=args.seed)
    m = validation.positive_int(args.batch, "--batch")
    max_params = int(validation.non_negative(args.max_params, "--max-params")) or None  # 0: all
    from bprop import memory

    memory.require(8 * m * (network.sizes[0] + 4 * sum(network.sizes[1:])),
                   f"a gradient check on a mini-batch of {m:,}", "choose a smaller --batch")
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((m, network.sizes[0]))
    n_out = network.sizes[-1]
    if network.is_classifier:
        Y = rng.integers(0, n_out, m) if n_out > 1 else rng.integers(0, 2, m)
    else:
        Y = rng.standard_normal((m, n_out))
    result = bprop.gradcheck(network, X, Y, epsilon=args.epsilon, max_params=max_params, seed=args.seed)
    print(f"network {network.sizes} {[s.name for s in network.activations]}, cost {network.cost.name}, "
          f"mini-batch of {m}, ε = {args.epsilon:g}")
    print(f"{'layer':>5}  {'weights rel. error':>18}  {'biases rel. error':>17}")
    for l, errors in enumerate(result["layers"], 1):  # layers 1..L, as the book and `bprop trace` count
        print(f"{l:>5}  {errors['weights']:>18.3e}  {errors['biases']:>17.3e}")
    passes = result["forward_passes"]
    total = memory.parameter_count(network.sizes)
    print(f"parameters checked: {result['checked']:,} of {total:,}; forward passes: backprop {passes['backprop']} "
          f"(+1 backward), finite differences {passes['finite_differences']}")
    ok = result["max_relative_error"] < 1e-6
    print(f"max relative error {result['max_relative_error']:.3e}: {'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1
