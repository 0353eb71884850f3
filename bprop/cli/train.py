"""``bprop train``: train a network into a run folder."""
import argparse

from bprop import options


def int_list(text):
    """argparse type for layer sizes: ``"784,30,10"`` -> [784, 30, 10] (train, trace, gradcheck)."""
    try:  # every part a number: "100,,100" is a typo, not [100, 100]
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 784,30,10; got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive layer sizes like 784,30,10; got {text!r}")
    return values


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a network (default: a small network on the bundled 8x8 digits)",
        description="Train a network and write a run folder with config, metrics, models and plots.",
    )
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", help="digits (default, offline), mnist, fashion-mnist, csv:PATH or npz:PATH")
    data.add_argument("--data-dir", help="where MNIST files are looked for and downloaded "
                                         "(default $BPROP_DATA or ~/.cache/bprop)")
    net = parser.add_argument_group("network")
    net.add_argument("--preset", choices=["nielsen-ch1", "nielsen-ch3"],
                     help="the book's setups: ch1 = [784,30,10] sigmoid, quadratic, η=3.0, batch 10, 30 epochs; "
                          "ch3 = [784,100,10] cross-entropy, λ=5.0, η=0.5, batch 10")
    shape = net.add_mutually_exclusive_group()
    shape.add_argument("--sizes", type=int_list, help="all layer sizes, e.g. 784,30,10")
    shape.add_argument("--hidden", type=int_list, help="hidden layer sizes, e.g. 100,100 (default 100)")
    net.add_argument("--activation", choices=["sigmoid", "tanh", "relu", "leaky_relu", "identity"],
                     help="hidden layers' activation (default relu)")
    net.add_argument("--output-activation", choices=["sigmoid", "softmax", "identity", "tanh", "relu", "leaky_relu"],
                     help="output layer's activation (default softmax for cross-entropy, else sigmoid)")
    net.add_argument("--cost", choices=["quadratic", "cross_entropy"], help="default cross_entropy")
    net.add_argument("--init", choices=["large", "nielsen", "glorot", "he"])
    net.add_argument("--dtype", choices=["float32", "float64"], help="default float32")
    options.add_flags(parser.add_argument_group("training"))  # from the one table of options
    out = parser.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", help="run folder (default runs/<name or timestamp>)")
    out.add_argument("--name", help="name of the run folder under runs/")
    out.add_argument("--resume", metavar="RUN_DIR",
                     help="continue a run from its checkpoint; --epochs N extends it to N epochs "
                          "(as one run of N epochs would end); --checkpoint-every, --data-dir, "
                          "--quiet and --no-plots apply; any other option is the run's own")
    out.add_argument("--config", metavar="CONFIG_JSON",
                     help="start from a run's config.json (flags given here override it)")
    out.add_argument("--checkpoint-every", type=int, metavar="N",
                     help="also checkpoint every N mini-batches (always at each epoch's end)")
    out.add_argument("--no-plots", action="store_true", help="skip drawing the PNG plots")
    out.add_argument("--quiet", action="store_true", help="print only the final summary")
    parser.set_defaults(run=run)


OPTION_KEYS = ["dataset", "data_dir", "sizes", "hidden", "activation", "output_activation", "cost",
               "init", "dtype", *options.names("run"), "checkpoint_every"]


def run(args):
    import os
    import sys
    import time

    from bprop.errors import InputError, UsageError
    from bprop.runs import check_config, free_folder, read_config_file, resolve_config, train_run

    given = {key: getattr(args, key) for key in OPTION_KEYS}
    try:
        if args.resume:
            for flag, value in (("--config", args.config), ("--out", args.out), ("--name", args.name),
                                ("--preset", args.preset)):
                if value is not None:
                    raise InputError(f"{flag} cannot be used with --resume: the run's folder and "
                                     "options are its own (start a new run with --config "
                                     f"{os.path.join(args.resume, 'config.json')} to change them)")
            run_dir, resume, options, made = args.resume, True, given, False
        else:
            base = read_config_file(args.config) if args.config else None
            options = resolve_config(given, preset=args.preset, base=base)
            check_config(options)  # a bad value is a usage error: nothing is created
            name = args.name or time.strftime("%Y%m%d-%H%M%S")
            run_dir = args.out or free_folder(os.path.join("runs", name))
            resume, made = False, not args.out
    except UsageError:
        raise
    except InputError as error:
        raise UsageError(str(error)) from None
    def announce(folder):  # once the folder is held and the options are accepted
        print(f"run folder: {folder}", flush=True)

    summary = train_run(options, run_dir, progress=sys.stderr.isatty() and not args.quiet,
                        quiet=args.quiet, resume=resume, plots=not args.no_plots,
                        announce=None if args.quiet else announce, made=made)
    print(_summary_line(summary))
    return 0


def _summary_line(summary):
    epochs = summary["epochs_run"]
    parts = [f"{summary['dataset']} {summary['sizes']}: {epochs} epoch{'' if epochs == 1 else 's'}"]
    if summary.get("best_validation_accuracy") is not None:
        parts.append(f"best validation {summary['best_validation_accuracy']:.2%} (epoch {summary['best_epoch']})")
    if summary.get("best_test_accuracy") is not None and summary["best_epoch"] == epochs:
        parts.append(f"test accuracy {summary['best_test_accuracy']:.2%} (model-best.npz = "
                     f"model-last.npz, epoch {epochs})")
    elif summary.get("best_test_accuracy") is not None:
        parts.append(f"test accuracy {summary['best_test_accuracy']:.2%} (model-best.npz, epoch "
                     f"{summary['best_epoch']}), {summary['test_accuracy']:.2%} (model-last.npz, "
                     f"epoch {summary['epochs_run']})")
    elif summary.get("test_accuracy") is not None:
        parts.append(f"test accuracy {summary['test_accuracy']:.2%}")
    parts.append(f"{summary['seconds']:.1f}s training")
    parts.append(f"-> {summary['run_dir']}")
    return ", ".join(parts)
