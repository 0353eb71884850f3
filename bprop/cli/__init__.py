"""The ``bprop`` command: argument parsing and printing only.

Each subcommand lives in its own module with two functions: ``add_parser(subparsers)``
declares its options (argparse only, so ``bprop --help`` stays quick) and ``run(args)``
does the work, importing anything heavy inside. Exit codes: 0 success, 2 usage error,
1 any other error, always with one line on stderr.
"""
import argparse
import importlib
import sys

COMMANDS = ["train", "evaluate", "predict", "gradcheck", "trace", "sweep", "bench", "playground"]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="bprop",
        description="Train, evaluate, trace and gradient-check fully connected networks.",
    )
    parser.add_argument("--version", action="version", version=_version())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"bprop.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"bprop.cli.{name}":
                continue  # a command not built yet
            raise
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    import warnings

    # A warning is one line too: "bprop train: warning: ...", not a file name and source line
    # (for this command only: a caller of main() in its own process gets its own back).
    formatwarning = warnings.formatwarning
    warnings.formatwarning = lambda message, *rest, **kw: f"bprop {args.command}: warning: {message}\n"
    try:
        return _run(args)
    finally:
        warnings.formatwarning = formatwarning


def _run(args):
    """The command, with its errors as one line and an exit status."""
    from bprop.errors import BpropError, TrainingInterrupted, UsageError

    try:
        return args.run(args) or 0
    except TrainingInterrupted as error:
        print(f"bprop {args.command}: {error}", file=sys.stderr)
        return error.exit_status
    except UsageError as error:
        print(f"bprop {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bprop evaluate ... | head -1`: the reader left; not an error
        _silence_stdout()
        return 0
    except BpropError as error:
        print(f"bprop {args.command}: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"bprop {args.command}: error: {_os_error_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"bprop {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError as error:  # the checks before allocating missed a case: still one line
        print(f"bprop {args.command}: error: out of memory ({error or 'an allocation failed'}); "
              "ask for less: smaller layers, mini-batches or input files", file=sys.stderr)
        return 1


def _silence_stdout():
    """Point stdout at /dev/null so Python's exit flush does not fail on the closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _os_error_line(error):
    where = f": {error.filename}" if getattr(error, "filename", None) else ""
    return f"{error.strerror or error}{where}"


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"bprop {version('bprop')}"
    except PackageNotFoundError:
        return "bprop (not installed)"
