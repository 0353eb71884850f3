"""``bprop sweep``: grid or random search over training options, one run folder per trial, on Dask."""
import os

EXAMPLE = """\
examples:
  bprop sweep --set learning_rate=0.01,0.1,1.0 --set hidden=30,100,[100,30] --set epochs=10
  bprop sweep sweep.yaml --out sweeps/lr            # run again with the same --out to resume
  bprop sweep sweep.yaml --scheduler tcp://10.0.0.5:8786

a spec (YAML or JSON):
  method: grid                    # or random, with trials: N (and sample_seed: S)
  metric: validation_accuracy     # any number in a run's summary.json; goal: max or min
  options: {dataset: digits, epochs: 10}
  search:
    learning_rate: [0.01, 0.1, 1.0]       # random also takes {log_uniform: [1e-3, 1]},
    hidden: [[30], [100], [100, 30]]      # {uniform: [lo, hi]}, {int_uniform: [lo, hi]}
"""


def add_parser(subparsers):
    import argparse

    parser = subparsers.add_parser(
        "sweep", help="grid or random search over training options, on Dask",
        description="Train one run folder per configuration of a grid or random search, on an "
                    "in-process Dask cluster or an existing one; write results.csv and sweep.png "
                    "and print the best configuration. Trials already finished are skipped, so "
                    "running the same sweep again resumes it.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", nargs="?", help="a YAML or JSON sweep spec (optional with --set)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=V1[,V2...]",
                        help="one value fixes a training option, several search over it; "
                             "lists in brackets: hidden=30,[100,30]. Repeatable; overrides the spec")
    parser.add_argument("--method", choices=["grid", "random"], help="default: the spec's, else grid")
    parser.add_argument("--trials", type=int, metavar="N", help="number of random-search trials")
    parser.add_argument("--sample-seed", type=int, metavar="S", help="seeds random search's sampling (default 0)")
    parser.add_argument("--metric", help="summary value to rank trials by (default validation_accuracy)")
    parser.add_argument("--goal", choices=["max", "min"], help="default max (min for a *_cost metric)")
    parser.add_argument("--out", metavar="DIR",
                        help="sweep folder (default sweeps/<timestamp>); an existing one is resumed")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="use a running Dask scheduler (the sweep folder must be visible to its "
                             "workers at the same path); default: a local cluster")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes of the local cluster (default: one per core)")
    parser.add_argument("--no-plots", action="store_true",
                        help="skip each trial's run-folder plots (sweep.png is still drawn)")
    parser.add_argument("--quiet", action="store_true", help="print only the best configuration")
    parser.set_defaults(run=run)


def run(args):
    import sys
    import time

    from bprop import sweep
    from bprop.runs import free_folder
    from bprop.errors import BpropError, InputError, UsageError

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1; got {args.workers}")
    out_dir = args.out or free_folder(os.path.join("sweeps", time.strftime("%Y%m%d-%H%M%S")))
    stored = os.path.join(out_dir, "sweep.json")
    if args.spec:
        spec = sweep.load_spec(args.spec)
    elif os.path.exists(stored):
        spec = sweep.load_spec(stored)  # resuming a sweep folder with no spec given
    elif args.sets:
        spec = {}
    else:
        raise UsageError("give a sweep spec file or --set KEY=V1,V2 (see bprop sweep --help)")
    spec = sweep.spec_with_sets(spec, args.sets)
    for key in ("method", "trials", "sample_seed", "metric", "goal"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    if spec.get("method", "grid") == "grid" and args.trials is None:
        spec.pop("trials", None)  # a spec's random-search size, not wanted by --method grid
    try:  # a bad spec, metric or option value is a usage error: refused before anything runs
        sweep.plan(spec, plots=not args.no_plots)
    except InputError as error:
        raise UsageError(str(error)) from None

    if not args.quiet and sys.stderr.isatty():  # the trials' progress bar, checked up front
        from bprop import extras

        extras.require("a progress bar")
    report = _Report(quiet=args.quiet)
    try:
        result = sweep.run_sweep(spec, out_dir, scheduler=args.scheduler, n_workers=args.workers,
                                 plots=not args.no_plots,
                                 on_start=report.start, on_result=report.result)
    except KeyboardInterrupt:
        from bprop.errors import TrainingInterrupted

        raise TrainingInterrupted(
            f"sweep stopped by Ctrl-C; finished trials are kept: resume with the same command "
            f"and --out {_shown(out_dir)}") from None
    finally:
        report.close()

    print(_best_line(result))
    print(f"results: {_shown(result.results_path)}  plot: {_shown(result.plot_path)}")
    unfinished = [row for row in result.rows if row["status"] not in ("finished", "failed")]
    failed = [row for row in result.rows if row["status"] == "failed"]
    if failed and not args.quiet:
        print(f"{len(failed)} trial(s) failed (see the error column of results.csv), e.g. "
              f"{failed[0]['trial_id']}: {failed[0]['error']}")
    if unfinished:
        raise BpropError(
            f"{len(unfinished)} of {len(result.rows)} trials did not finish (e.g. {unfinished[0]['trial_id']}: "
            f"{unfinished[0]['error']}); run the same command with --out {_shown(result.out_dir)} to retry them"
        )
    if result.best is None:
        raise BpropError(f"no trial produced a {result.metric}; see {_shown(result.results_path)}")
    return 0


class _Report:
    """Prints the plan, one line per finished trial (under a tqdm bar on a terminal)."""

    def __init__(self, quiet):
        self.quiet = quiet
        self.bar = None

    def start(self, trials, finished, where):
        import sys

        self.trials = {trial.trial_id: trial for trial in trials}
        if self.quiet:
            return
        searched = list(trials[0].params) if trials else []
        to_run = len(trials) - len(finished)
        line = f"{len(trials)} trials over {', '.join(searched)}: {len(finished)} already finished"
        print(line + (f", {to_run} to run on {where}" if to_run else ""), flush=True)
        if to_run and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=to_run, unit="trial", file=sys.stderr, leave=False)

    def result(self, row, done, total):
        if self.quiet:
            return
        trial = self.trials[row["trial_id"]]
        values = "  ".join(f"{key}={_value(value)}" for key, value in trial.params.items())
        if row["status"] == "finished":
            scores = [f"{key} {row[key]:.4f}" for key in ("validation_accuracy", "test_accuracy")
                      if isinstance(row.get(key), float)]
            outcome = "  ".join(scores) or "finished"
            if isinstance(row.get("wall_seconds"), float):
                outcome += f"  ({row['wall_seconds']:.1f}s)"
        else:
            outcome = f"{row['status']}: {row['error']}"
        line = f"[{done:>{len(str(total))}}/{total}] {row['trial_id']}  {values}  {outcome}"
        if self.bar is not None:
            self.bar.write(line)
            self.bar.update(1)
        else:
            print(line, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _value(value):
    from bprop.sweep import format_value

    return format_value(value)


def _best_line(result):
    best = result.best
    if best is None:
        return f"best: none (no finished trial has a {result.metric})"
    values = "  ".join(f"{key}={_value(best[key])}" for key in result.searched)
    return (f"best: {result.metric} {best[result.metric]:.4f}  {values}  "
            f"-> {_shown(os.path.join(result.out_dir, best['run_dir']))}")


def _shown(path):
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else path



