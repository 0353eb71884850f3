"""``bprop bench``: bprop (compiled kernels and the NumPy path), PyTorch, JAX, scikit-learn,
the book's per-example loop and the matmul-only floor, trained side by side on the recipes.

The suite itself lives in the source tree's ``benchmarks/`` folder (it is not installed
with the library); this module only declares its options and hands over.
"""
import argparse
from pathlib import Path

DEFAULT_JSON = "benchmarks/results/latest.json"  # relative to the source tree's root


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "bench",
        help="benchmark bprop against PyTorch, JAX, scikit-learn and the book's loop",
        description="Train recipes A-D with every implementation, each in its "
                    "own subprocess; print a table and write it as JSON.",
    )
    add_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def add_arguments(parser):
    """The benchmark's options; shared by ``bprop bench`` and ``python -m benchmarks``."""
    parser.add_argument("--recipes", default="A,B,C,C-sgd,D",
                        help="comma-separated recipes among A, B, C (Adam), C-sgd, D (default: all)")
    parser.add_argument("--implementations",
                        default="bprop,bprop_numpy,torch,jax_step,jax_scan,jax_scan_gather,sklearn,"
                                "per_example,matmul_floor,matmul_floor_numpy",
                        help="comma-separated implementations (default: all but bprop_whole, the "
                             "compiled path with the split loop off; missing ones are skipped)")
    parser.add_argument("--epochs", type=_positive_int, default=None,
                        help="timed epochs per run (default 2; 1 with --quick)")
    parser.add_argument("--repeats", type=_positive_int, default=None,
                        help="runs per implementation and recipe, the median is reported (default 5; 1 with --quick)")
    parser.add_argument("--n-train", type=_positive_int, default=None,
                        help="training examples (default 50000; 300 with --quick)")
    parser.add_argument("--per-example-subset", type=_positive_int, default=None,
                        help="examples the per-example loop is timed on, scaled to the full epoch "
                             "(default 10000; 100 with --quick)")
    parser.add_argument("--d-max-epochs", type=_positive_int, default=None,
                        help="recipe D gives up after this many epochs (default 30; 1 with --quick)")
    parser.add_argument("--d-repeats", type=_positive_int, default=None,
                        help="runs of recipe D per implementation; epochs-to-target varies with the "
                             "seed, so it needs more than the others (default 11; 1 with --quick)")
    parser.add_argument("--import-repeats", type=_positive_int, default=None,
                        help="fresh interpreters per import-time measurement (default 7; 1 with --quick)")
    parser.add_argument("--data", choices=["auto", "fashion-mnist", "random"], default="auto",
                        help="Fashion-MNIST if installed (auto), or random data of the same shape")
    parser.add_argument("--pause", type=float, default=None,
                        help="seconds to sleep between subprocesses (default 1.0; 0 with --quick)")
    parser.add_argument("--wait-idle", type=float, default=None, metavar="SECONDS",
                        help="before each subprocess, wait up to this long for other processes to "
                             "go quiet (default 60; 0 with --quick; 0 turns it off)")
    parser.add_argument("--retry-disturbed", type=int, default=None, metavar="N",
                        help="run a measurement again, up to N times, when other processes were busy "
                             "during it (default 2; 0 with --quick)")
    parser.add_argument("--unset-openblas-env", action="store_true",
                        help="remove OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE from the workers' environment")
    parser.add_argument("--threads", type=_positive_int, default=None,
                        help="hold every library to this many threads (BLAS, OpenMP, numba, PyTorch, "
                             "XLA) and each worker to this many CPUs; default: each library's own "
                             "(PyTorch: 2)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one epoch, one repeat: a smoke run, not a measurement")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first repeat")
    parser.add_argument("--json", default=None, metavar="PATH",
                        help=f"where to write the results (default {DEFAULT_JSON} in the source tree)")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def run(args):
    import sys

    from bprop.errors import InputError

    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "run.py").exists():
        raise InputError("the benchmark suite ships with the source tree, not the installed "
                         "package: run `bprop bench` from a checkout of bprop")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from benchmarks.run import run_benchmark

    run_benchmark(args)
    return 0
