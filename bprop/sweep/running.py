"""Running a sweep: each trial that has not finished, on Dask, one run folder each.

A trial's ``result.json`` is written atomically as its last act; with status
``finished`` it is the finished marker that a resumed sweep (or Dask recomputing the
task of a worker that died) checks before running it again.
"""
import functools
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field

from bprop import io
from bprop.errors import DivergenceError, InputError, TrainingInterrupted
from bprop.locks import FolderLock
from bprop.sweep.report import best_row, plot_results, result_row, write_results
from bprop.sweep.spec import check_spec, expand, resolve_run_config

RESULT = "result.json"
STOP_FILE = ".stop"   # written by a sweep asked to stop (Ctrl-C, SIGTERM); its trials watch for it


@dataclass
class SweepResult:
    """What ``run_sweep`` returns: one row per trial, in the spec's order, and the best."""

    rows: list
    best: dict
    metric: str
    goal: str
    searched: list
    out_dir: str
    results_path: str
    plot_path: str
    counts: dict = field(default_factory=dict)


def train_trial(config, run_dir, plots=True, stop_file=None):
    """The default trial: ``bprop.runs.train_run`` into ``run_dir`` (``plots``: draw its PNGs).

    A run folder left by a killed or stopped attempt (it has ``config.json``) is continued
    from its last checkpoint, which ends bit-identical to an uninterrupted run. The run
    checkpoints and stops when ``stop_file`` appears.
    """
    from bprop.runs import train_run

    resume = os.path.exists(os.path.join(run_dir, "config.json"))
    # Resuming, the folder's own config.json is the trial's configuration.
    return train_run({} if resume else config, run_dir, progress=False, quiet=True, resume=resume,
                     plots=plots, stop_file=stop_file)


def read_result(run_dir):
    """The contents of a trial's result.json, or None when it has none (or it is unreadable)."""
    try:
        with open(os.path.join(run_dir, RESULT), encoding="utf-8") as file:
            result = json.load(file)
    except (OSError, ValueError, RecursionError):
        return None
    return result if isinstance(result, dict) else None


def finished_result(run_dir):
    """The trial's result when it has finished (the marker says so), else None.

    A damaged marker (no summary mapping) counts as unfinished: the trial runs again.
    """
    result = read_result(run_dir)
    if result is None or result.get("status") != "finished" or not isinstance(result.get("summary"), dict):
        return None
    return result


def run_trial(trial_function, trial_id, config, run_dir, stop_file=None):
    """Run one trial unless it has finished; runs on a Dask worker.

    Returns the result dict (what ``result.json`` holds), with ``"reused": True`` when the
    trial had already finished. A bad option (``InputError``) or a diverged run
    (``DivergenceError``) is a result too, with status ``failed`` and the message: an
    outcome of the configuration, listed in results.csv. A trial stopped by the sweep's
    ``stop_file`` (or not started because it exists) has status ``interrupted`` and no
    result.json, so the next sweep continues it. Any other error (a missing data file, a
    full disk, a bug) propagates to the client and leaves no result.
    """
    stored = finished_result(run_dir)
    if stored is not None:
        return {**stored, "reused": True}
    interrupted = {"trial_id": trial_id, "status": "interrupted", "config": config, "summary": {},
                   "error": "stopped before it finished; run the sweep again to continue it",
                   "reused": False}
    if stop_file is not None and os.path.exists(stop_file):
        return interrupted
    os.makedirs(run_dir, exist_ok=True)
    started = time.perf_counter()
    try:
        summary = trial_function(dict(config), run_dir)
        status, error = "finished", None
    except (InputError, DivergenceError) as exception:  # the configuration's own outcome
        summary, status, error = {}, "failed", f"{type(exception).__name__}: {exception}"
    except TrainingInterrupted:
        return interrupted
    result = {"trial_id": trial_id, "status": status, "error": error, "config": config,
              "summary": _json_safe(summary), "wall_seconds": time.perf_counter() - started}
    io.write_text(os.path.join(run_dir, RESULT), json.dumps(result, indent=2) + "\n")  # marker, last
    return {**result, "reused": False}


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value




def plan(spec, trial_function=None, plots=True):
    """Check a sweep before anything is written or any trial runs: the spec, the metric,
    every trial's options and the libraries needed. Returns ``(spec, trials)``, the spec as
    checked and its trials; raises InputError (a bad spec or option value) or MissingDependency."""
    spec = check_spec(spec)
    from bprop import extras

    extras.require("running a sweep")
    extras.require("drawing sweep.png")
    if trial_function is None:
        from bprop import runs

        trials = expand(spec, resolve_run_config)
        if spec["metric"] not in runs.SUMMARY_METRICS:
            raise InputError(f"unknown metric {spec['metric']!r}; expected one of "
                             f"{', '.join(runs.SUMMARY_METRICS)}")
        for trial in trials:  # refuse a bad value now, not after the cluster ran every trial
            runs.check_config(trial.config)
        for dataset in {trial.config["dataset"] for trial in trials}:
            runs.require_extras({"dataset": dataset}, plots=plots)
    else:
        trials = expand(spec)
    return spec, trials


def run_sweep(spec, out_dir, *, scheduler=None, client=None, n_workers=None, trial_function=None,
              plots=True, on_start=None, on_result=None):
    """Run every trial of ``spec`` that has not finished, on Dask; write results.csv and sweep.png.

    Parameters
    ----------
    spec : dict
        A sweep spec (see the module docstring); checked by ``check_spec``.
    out_dir : str
        The sweep folder; running again with the same folder resumes.
    scheduler : str, optional
        Address of a running Dask scheduler, ``tcp://HOST:PORT``. The sweep folder must
        then be on a file system every worker sees at the same path.
    client : distributed.Client, optional
        An existing client to use (and leave open) instead.
    n_workers : int, optional
        Worker processes of the in-process ``LocalCluster`` used when neither
        ``scheduler`` nor ``client`` is given (default: one per core, at most one per trial).
    trial_function : callable, optional
        ``f(config, run_dir) -> dict`` of results, run on the workers. Default
        ``train_trial`` (``bprop.runs.train_run``), whose configurations are resolved
        with ``resolve_run_config``; a custom function gets the spec's values as they are.
    plots : bool
        Let the default trial draw each run folder's plots (about a second per trial);
        results.csv and sweep.png are written either way.
    on_start : callable, optional
        ``f(trials, finished, where)`` once the work is known: all trials, the ids
        already finished, and a description of the cluster (None when nothing is to run).
    on_result : callable, optional
        ``f(row, done, total)`` after each trial finishes (in completion order).

    Returns
    -------
    SweepResult
    """
    default_trial = trial_function is None
    spec, trials = plan(spec, trial_function, plots)
    out_dir = os.path.abspath(os.fspath(out_dir))
    runs_dir = os.path.join(out_dir, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    if default_trial:
        trial_function = functools.partial(train_trial, plots=plots,
                                           stop_file=os.path.join(out_dir, STOP_FILE))
    with FolderLock(out_dir, "sweep"):  # one sweep process per folder, for the sweep's life
        return _run_claimed(spec, trials, out_dir, runs_dir, scheduler, client, n_workers,
                            trial_function, on_start, on_result)


def _run_claimed(spec, trials, out_dir, runs_dir, scheduler, client, n_workers, trial_function,
                 on_start, on_result):
    from bprop.runs import stop_on_signals

    stop_file = os.path.join(out_dir, STOP_FILE)
    if os.path.exists(stop_file):  # left by a stopped sweep; this one continues its trials
        os.unlink(stop_file)
    io.write_text(os.path.join(out_dir, "sweep.json"), json.dumps(spec, indent=2) + "\n")

    results, pending = {}, []
    for trial in trials:
        stored = finished_result(os.path.join(runs_dir, trial.trial_id))
        if stored is not None:
            results[trial.trial_id] = {**stored, "reused": True}
        else:
            pending.append(trial)
    counts = {"trials": len(trials), "reused": len(results), "ran": 0, "errors": 0}
    stop = None
    if pending:
        with _DaskClient(scheduler, client, n_workers, len(pending)) as (dask_client, where):
            if on_start:
                on_start(trials, set(results), where)
            with stop_on_signals(_SweepStop(stop_file)) as stop:
                _submit_and_collect(dask_client, trial_function, pending, runs_dir, results, counts,
                                    on_result, stop_file)
    elif on_start:
        on_start(trials, set(results), None)

    rows = [result_row(trial, results.get(trial.trial_id), runs_dir, out_dir, spec["metric"]) for trial in trials]
    searched = list(spec["search"])
    best = best_row(rows, spec["metric"], spec["goal"])
    results_path = os.path.join(out_dir, "results.csv")
    write_results(results_path, rows, searched, spec["metric"])
    plot_path = os.path.join(out_dir, "sweep.png")
    plot_results(plot_path, rows, spec["search"], spec["metric"], spec["goal"], best)
    if stop is not None and stop.reason is not None:
        stopped = sum(row["status"] == "interrupted" for row in rows)
        raise TrainingInterrupted(
            f"sweep stopped by {stop.reason}: {stopped} unfinished trial{'s' * (stopped != 1)} kept "
            f"their checkpoints; continue with `bprop sweep --out {out_dir}`",
            exit_status=stop.exit_status)
    return SweepResult(rows, best, spec["metric"], spec["goal"], searched, out_dir,
                       results_path, plot_path, counts)


class _DaskClient:
    """The client to submit to, and what to call it; closes only what it opened."""

    def __init__(self, scheduler, client, n_workers, n_pending):
        self.scheduler, self.client, self.n_workers, self.n_pending = scheduler, client, n_workers, n_pending
        self.owned = []

    def __enter__(self):
        import logging

        from bprop import extras

        distributed = extras.load("running a sweep", "distributed")
        Client, LocalCluster = distributed.Client, distributed.LocalCluster

        if self.client is not None:
            return self.client, f"Dask cluster at {self.client.scheduler.address}"
        if self.scheduler:
            try:
                client = Client(self.scheduler, timeout="15s")
            except (OSError, TimeoutError, ValueError) as error:
                raise InputError(f"cannot connect to the Dask scheduler at {self.scheduler}: "
                                 f"{' '.join(str(error).split())}") from None
            self.owned.append(client)
            try:
                n = len(client.scheduler_info(n_workers=-1)["workers"])
            except TypeError:  # distributed before 2025 lists every worker by default
                n = len(client.scheduler_info()["workers"])
            return client, f"Dask scheduler {self.scheduler} ({n} worker{'s' * (n != 1)})"
        n_workers = self.n_workers or max(1, min(os.cpu_count() or 1, self.n_pending))
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        self.owned.append(cluster)
        client = Client(cluster)
        self.owned.insert(0, client)
        return client, f"a local Dask cluster ({n_workers} worker process{'es' * (n_workers != 1)})"

    def __exit__(self, *exc):
        for thing in self.owned:
            try:
                thing.close()
            except Exception:  # closing is best effort; the results are already on disk
                pass
        return False


class _SweepStop:
    """The sweep's stop request: on the first Ctrl-C or SIGTERM, write the stop file that
    every running trial watches (they checkpoint and stop) and wait for them."""

    def __init__(self, stop_file):
        self.stop_file, self.reason, self.exit_status = stop_file, None, 130

    def ask(self, signum):
        import signal

        self.reason = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self.exit_status = 128 + int(signum)
        io.write_text(self.stop_file, f"{self.reason}\n")


def _submit_and_collect(client, trial_function, pending, runs_dir, results, counts, on_result,
                        stop_file=None):
    from distributed import as_completed

    folder_tag = hashlib.sha256(runs_dir.encode()).hexdigest()[:6]
    futures = {}
    for trial in pending:
        future = client.submit(run_trial, trial_function, trial.trial_id, trial.config,
                               os.path.join(runs_dir, trial.trial_id), stop_file,
                               key=f"bprop-trial-{trial.trial_id}-{folder_tag}")
        futures[future] = trial
    total, done = len(futures), 0
    try:
        for future in as_completed(futures):
            trial = futures[future]
            try:
                result = future.result()
            except Exception as error:  # a bug, an OSError, or a worker that kept dying
                result = {"trial_id": trial.trial_id, "status": "error", "config": trial.config,
                          "error": f"{type(error).__name__}: {' '.join(str(error).split())}",
                          "summary": {}, "reused": False}
                counts["errors"] += 1
            else:
                counts["ran" if not result.get("reused") else "reused"] += 1
            future.release()
            results[trial.trial_id] = result
            done += 1
            if on_result:
                on_result(result_row(trial, result, runs_dir, os.path.dirname(runs_dir), None), done, total)
    finally:
        unfinished = [f for f in futures if not f.done()]
        if unfinished:
            client.cancel(unfinished)


