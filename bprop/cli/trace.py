"""``bprop trace``: one backpropagation step of a small network, every number labelled by its equation."""
import argparse

FORMATS = ["text", "markdown", "latex", "json"]
DEFAULT_EXAMPLE = "sigmoid-2321"


def _weight(text):
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected l,j,k for the weight w^l_jk, like 1,0,0; got {text!r}")
    return tuple(values)


def add_parser(subparsers):
    from bprop.cli.train import int_list

    parser = subparsers.add_parser(
        "trace", help="one backprop step with every number, for learners",
        description="Run one step of gradient descent on a small network and show every number: the "
                    "forward pass z and a, the cost and its gradient, BP1-BP4, the updated weights, "
                    "finite differences beside each gradient, and the sum over paths for one weight. "
                    "The network comes from a JSON FILE, a built-in --example (default "
                    f"{DEFAULT_EXAMPLE}) or --sizes with a --seed.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("spec", metavar="FILE", nargs="?",
                        help="a JSON file with sizes, activations, cost, weights, biases, input, target, eta")
    source.add_argument("--example", help=f"a built-in example (default {DEFAULT_EXAMPLE}; see --list-examples)")
    source.add_argument("--sizes", type=int_list,
                        help="build the network from a seed instead: layer sizes like 2,3,2,1")
    source.add_argument("--list-examples", action="store_true", help="list the built-in examples and exit")
    built = parser.add_argument_group("a network built from --sizes (weights and inputs rounded to 2 decimals)")
    built.add_argument("--activation", help="every layer's activation (default sigmoid)")
    built.add_argument("--output-activation", help="the output layer's (default: softmax for cross_entropy, "
                                                   "sigmoid for one cross_entropy output, else --activation)")
    built.add_argument("--cost", choices=["quadratic", "cross_entropy"], help="default quadratic")
    built.add_argument("--init", choices=["large", "nielsen", "glorot", "he"])
    built.add_argument("--seed", type=int, help="seeds the weights and the example (default 0)")
    built.add_argument("--batch", type=int, help="examples in the mini-batch (default 1)")
    step = parser.add_argument_group("the step and its output")
    step.add_argument("--eta", "--learning-rate", dest="learning_rate", type=float,
                      help="η (default: the file's or example's, else 0.5)")
    step.add_argument("--weight", type=_weight, help="l,j,k: list the paths of w^l_jk (default 1,0,0; layers "
                                                     "count from 1, neurons from 0)")
    step.add_argument("--epsilon", type=float, default=1e-5, help="ε of the finite differences (default 1e-5)")
    step.add_argument("--format", choices=FORMATS, default="text", help="default text")
    step.add_argument("--precision", type=int, default=4,
                      help="decimals shown (default 4; JSON always keeps every digit)")
    step.add_argument("--picture", metavar="PATH", help="also draw the network to PATH (.png or .svg)")
    parser.set_defaults(run=run)


def run(args):
    import sys

    from bprop.tracing import sources
    from bprop.errors import InputError
    from bprop.tracing import trace

    if args.list_examples:
        for name in sources.example_names():
            print(f"{name:<20}  {sources.example(name).description}")
        return 0
    if args.picture:  # before the step is computed, not after
        from bprop import extras

        extras.require("drawing the network")
    flags = [name for name in ("activation", "output_activation", "cost", "init", "seed", "batch")
             if getattr(args, name) is not None]
    if flags and args.sizes is None:
        raise InputError(f"--{flags[0].replace('_', '-')} shapes a network built with --sizes; "
                         f"it cannot change a file or an example")
    if args.spec:
        problem = sources.read_spec(args.spec)
    elif args.sizes:
        batch = 1 if args.batch is None else args.batch
        if batch < 1:
            raise InputError(f"--batch must be at least 1; got {batch}")
        problem = sources.seeded(args.sizes, args.activation or "sigmoid", args.output_activation,
                                 args.cost or "quadratic", args.init, 0 if args.seed is None else args.seed, batch)
    else:
        problem = sources.example(args.example or DEFAULT_EXAMPLE)
    learning_rate = problem.learning_rate if args.learning_rate is None else args.learning_rate
    result = trace(problem.network, problem.x, problem.y, learning_rate,
                   weight=args.weight or problem.weight, epsilon=args.epsilon)
    text = result.render(args.format, args.precision)
    if args.picture:
        result.save_picture(args.picture, precision=min(args.precision, 3))
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
