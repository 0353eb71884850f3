"""Where bprop's training epoch spends its time: ``python -m benchmarks.profile_bprop B``.

Runs one warm-up epoch, then profiles one epoch of the recipe with pyinstrument (``pip
install pyinstrument``) and prints the call tree. Same data as the benchmark.
"""
import argparse
import sys

from benchmarks import data as bench_data
from benchmarks.implementations import BpropImplementation, BpropNumpyImplementation
from benchmarks.recipes import RECIPES


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_bprop")
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=50_000)
    parser.add_argument("--kernels", choices=["numba", "numpy"], default="numba")
    parser.add_argument("--interval", type=float, default=0.0005, help="sampling interval, seconds")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pip install pyinstrument", file=sys.stderr)
        return 1
    recipe = RECIPES[args.recipe]
    X, y, _, _, description = bench_data.load("auto", args.n_train, 100)
    X = X.astype(recipe["dtype"])
    impl = BpropImplementation() if args.kernels == "numba" else BpropNumpyImplementation()
    model = impl.build(recipe, 0)
    impl.train(model, X, y, 1)  # warm-up: buffers, thread pool
    profiler = Profiler(interval=args.interval)
    profiler.start()
    impl.train(model, X, y, args.epochs)
    profiler.stop()
    print(f"recipe {args.recipe}, kernels={args.kernels}, {description['source']} data, {len(X)} examples, {args.epochs} epoch(s)")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
