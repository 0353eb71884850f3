"""Hyper-parameter sweeps: grid or random search over run options, one run folder per trial, on Dask.

A spec names fixed run options and the options to search (the keys of ``bprop train``'s
configuration, see ``bprop.runs.DEFAULTS``)::

    method: grid                  # or random
    metric: validation_accuracy   # a key of each run's summary; goal: max (min for *_cost)
    options: {dataset: digits, epochs: 10}
    search:
      learning_rate: [0.01, 0.1, 1.0]
      hidden: [[30], [100], [100, 30]]

For ``method: random``, ``trials: N`` configurations are drawn (seeded by
``sample_seed``); a search value is then a list to choose from or a range
``{log_uniform: [1e-4, 1e-1]}``, ``{uniform: [0, 0.5]}``, ``{int_uniform: [16, 256]}``.

The sweep folder holds::

    sweep.json          the spec, as checked
    runs/<trial_id>/    one normal run folder per trial, plus result.json
    results.csv         one row per trial
    sweep.png           the metric against each searched option

Each trial is deterministic from its configuration (which includes the training seed)
and is named by a hash of it, the trial id. ``result.json`` is written atomically as the
trial's last act: with status ``finished`` it is the finished marker. A finished trial
is never run again, neither by a resumed sweep nor when Dask recomputes a task whose
worker died after finishing it. A trial killed mid-way (no marker) runs again,
continuing from its run folder's last checkpoint. A trial that failed (a bad option, a
diverged run: status ``failed``) keeps its result.json for the record and is tried
again when the sweep is resumed, in case the cause has been fixed.
"""
import csv
import functools
import hashlib
import io as _stringio
import itertools
import json
import math
import numbers
import os
import re
import time
from dataclasses import dataclass, field

from bprop import io
from bprop.errors import BpropError, DivergenceError, InputError

RESULT = "result.json"
METHODS = ("grid", "random")
GOALS = ("max", "min")
DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform")
SPEC_KEYS = ("method", "trials", "sample_seed", "metric", "goal", "options", "search")
# Summary values written to results.csv when a trial reports them.
SUMMARY_COLUMNS = ("validation_accuracy", "best_validation_accuracy", "test_accuracy",
                   "train_accuracy", "test_cost", "epochs_run", "seconds")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass
class Trial:
    """One configuration of a sweep: its id, the full run configuration and the searched values."""

    trial_id: str
    config: dict
    params: dict


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


# ---- the spec ------------------------------------------------------------------------------
def load_spec(path):
    """Read a sweep spec from a YAML or JSON file."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise InputError(f"sweep spec {path} does not exist") from None
    try:
        if path.endswith(".json"):
            spec = json.loads(text)
        else:
            try:
                import yaml
            except ImportError:
                raise BpropError(f"reading {path} needs PyYAML: run `pip install pyyaml`, "
                                 "or write the spec as JSON (.json)") from None
            spec = yaml.safe_load(text)
    except ValueError as error:  # json.JSONDecodeError
        raise InputError(f"{path} is not valid JSON: {error}") from None
    except Exception as error:  # yaml.YAMLError, without importing yaml at module level
        if type(error).__module__.startswith("yaml"):
            raise InputError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
        raise
    if not isinstance(spec, dict):
        raise InputError(f"{path} must hold a mapping with 'options' and 'search'; got {type(spec).__name__}")
    return spec


def parse_set(text):
    """``"key=v1,v2"`` → ``("key", [v1, v2])``; values are numbers, JSON lists, true/false or strings.

    Commas inside brackets do not split: ``hidden=30,[100,30]`` is two values.
    """
    key, sep, values = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key or not values.strip():
        raise InputError(f"--set takes KEY=VALUE[,VALUE...], like learning_rate=0.01,0.1; got {text!r}")
    parts, depth, current = [], 0, ""
    for char in values:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    if depth != 0 or any(not part.strip() for part in parts):
        raise InputError(f"--set {text!r}: empty value or unbalanced brackets")
    return key, [_parse_value(part.strip()) for part in parts]


def _parse_value(text):
    if _NUMBER.match(text):
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    if text[:1] in "[{" or text in ("true", "false", "null"):
        try:
            return json.loads(text)
        except ValueError:
            raise InputError(f"cannot read the value {text!r}; lists are written like [100,30]") from None
    return text


def spec_with_sets(spec, sets):
    """The spec with ``--set`` flags applied: one value fixes an option, several search it."""
    spec = dict(spec or {})
    options, search = dict(spec.get("options") or {}), dict(spec.get("search") or {})
    for text in sets:
        key, values = parse_set(text)
        options.pop(key, None)
        search.pop(key, None)
        if len(values) == 1:
            options[key] = values[0]
        else:
            search[key] = values
    spec["options"], spec["search"] = options, search
    return spec


def check_spec(spec):
    """The spec with defaults filled in and every field checked; raises InputError."""
    if not isinstance(spec, dict):
        raise InputError("a sweep spec is a mapping with 'options' and 'search'")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise InputError(f"unknown sweep spec key(s) {', '.join(unknown)}; known: {', '.join(SPEC_KEYS)}")
    method = spec.get("method") or "grid"
    if method not in METHODS:
        raise InputError(f"unknown sweep method {method!r}; expected grid or random")
    options = spec.get("options") or {}
    search = spec.get("search") or {}
    if not isinstance(options, dict) or not isinstance(search, dict):
        raise InputError("the spec's 'options' and 'search' must be mappings of option names to values")
    if not search:
        raise InputError("nothing to search: give 'search' in the spec or --set KEY=V1,V2 with several values")
    both = sorted(set(options) & set(search))
    if both:
        raise InputError(f"{', '.join(both)} is both fixed in 'options' and searched in 'search'; keep one")
    options = {key: _clean(value) for key, value in options.items()}
    checked = {}
    for key, values in search.items():
        values = _clean(values)
        if isinstance(values, dict):
            if method == "grid":
                raise InputError(f"search.{key}: a grid needs a list of values; ranges like "
                                 f"{{{next(iter(values), 'uniform')}: ...}} are for method: random")
            checked[key] = _check_distribution(key, values)
        elif isinstance(values, list) and values:
            checked[key] = values
        else:
            raise InputError(f"search.{key} must be a non-empty list of values; got {values!r}")
    trials = spec.get("trials")
    if method == "random":
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise InputError(f"method: random needs trials: N, a positive number of trials; got {trials!r}")
    elif trials is not None:
        raise InputError("trials: applies to method: random; a grid runs every combination")
    sample_seed = spec.get("sample_seed", 0)
    if isinstance(sample_seed, bool) or not isinstance(sample_seed, int) or sample_seed < 0:
        raise InputError(f"sample_seed must be an integer >= 0; got {sample_seed!r}")
    metric = spec.get("metric") or "validation_accuracy"
    if not isinstance(metric, str):
        raise InputError(f"metric must be the name of a run summary value; got {metric!r}")
    goal = spec.get("goal") or ("min" if metric.endswith("cost") else "max")
    if goal not in GOALS:
        raise InputError(f"goal must be max or min; got {goal!r}")
    return {"method": method, "trials": trials, "sample_seed": sample_seed, "metric": metric,
            "goal": goal, "options": options, "search": checked}


def _clean(value):
    """Numbers that YAML left as strings (``1e-3``) become numbers; tuples become lists."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return _parse_value(value.strip())
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _check_distribution(key, distribution):
    if len(distribution) != 1 or next(iter(distribution)) not in DISTRIBUTIONS:
        raise InputError(f"search.{key} must be a list or one of {{uniform|log_uniform|int_uniform: [low, high]}}; "
                         f"got {distribution!r}")
    (kind, bounds), = distribution.items()
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, numbers.Real) and not isinstance(b, bool) and math.isfinite(b) for b in bounds)
            or bounds[0] > bounds[1]):
        raise InputError(f"search.{key}.{kind} needs [low, high] with low <= high; got {bounds!r}")
    if kind == "log_uniform" and bounds[0] <= 0:
        raise InputError(f"search.{key}.log_uniform needs low > 0; got {bounds!r}")
    if kind == "int_uniform" and not all(float(b).is_integer() for b in bounds):
        raise InputError(f"search.{key}.int_uniform needs integer bounds; got {bounds!r}")
    return {kind: bounds}


# ---- trials ----------------------------------------------------------------------------------
def expand(spec, resolve=None):
    """The trials of a checked spec, in order, each with a stable id; duplicates are dropped.

    ``resolve(config)`` turns the fixed options plus one trial's values into the full
    configuration that is hashed and run (default: the identity).
    """
    resolve = resolve or (lambda config: config)
    keys = list(spec["search"])
    if spec["method"] == "grid":
        combinations = (dict(zip(keys, values))
                        for values in itertools.product(*(spec["search"][k] for k in keys)))
        wanted = None
    else:
        combinations = _random_combinations(spec["search"], spec["sample_seed"])
        wanted = spec["trials"]
    trials, seen = [], set()
    for attempt, params in enumerate(combinations):
        if wanted is not None and (len(trials) == wanted or attempt >= 50 * wanted):
            break
        config = resolve({**spec["options"], **params})
        tid = trial_id(config)
        if tid not in seen:
            seen.add(tid)
            trials.append(Trial(tid, config, params))
    return trials


def _random_combinations(search, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    while True:
        params = {}
        for key, values in search.items():
            if isinstance(values, list):
                params[key] = values[int(rng.integers(len(values)))]
                continue
            (kind, (low, high)), = values.items()
            if kind == "int_uniform":
                params[key] = int(rng.integers(int(low), int(high) + 1))
            elif kind == "uniform":
                params[key] = _round(rng.uniform(low, high))
            else:
                params[key] = _round(math.exp(rng.uniform(math.log(low), math.log(high))))
        yield params


def _round(x, digits=4):
    """A sampled float to ``digits`` significant digits: readable, and the same on every machine."""
    return float(f"{x:.{digits - 1}e}")


def trial_id(config):
    """12 hex digits of SHA-256 over the configuration as canonical JSON."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def resolve_run_config(config):
    """A ``bprop train`` configuration in full (defaults filled), in one canonical form.

    Layer lists are lists of ints, float options hold floats (``1`` and ``1.0`` are the
    same trial), and data paths are absolute, since workers may run in another folder.
    """
    from bprop import runs

    config = dict(config)
    for key in ("hidden", "sizes"):
        if isinstance(config.get(key), numbers.Integral) and not isinstance(config[key], bool):
            config[key] = [config[key]]
    config = runs.resolve_config(config)
    for key, default in runs.DEFAULTS.items():
        value = config.get(key)
        if isinstance(default, float) and isinstance(value, numbers.Integral) and not isinstance(value, bool):
            config[key] = float(value)
    dataset = config.get("dataset")
    if isinstance(dataset, str) and dataset.split(":", 1)[0] in ("csv", "npz") and ":" in dataset:
        kind, rest = dataset.split(":", 1)
        path, hash_, column = rest.partition("#")
        config["dataset"] = f"{kind}:{os.path.abspath(os.path.expanduser(path))}{hash_}{column}"
    if config.get("data_dir"):
        config["data_dir"] = os.path.abspath(os.path.expanduser(config["data_dir"]))
    return config


def train_trial(config, run_dir, plots=True):
    """The default trial: ``bprop.runs.train_run`` into ``run_dir`` (``plots``: draw its PNGs).

    A run folder left by a killed attempt (it has ``config.json``) is continued from its
    last checkpoint, which ends bit-identical to an uninterrupted run.
    """
    from bprop.runs import train_run

    resume = os.path.exists(os.path.join(run_dir, "config.json"))
    if resume:
        io.remove_stale_temporaries(run_dir)
    return train_run(config, run_dir, progress=False, quiet=True, resume=resume, plots=plots)


def read_result(run_dir):
    """The contents of a trial's result.json, or None when it has none."""
    try:
        with open(os.path.join(run_dir, RESULT), encoding="utf-8") as file:
            result = json.load(file)
    except (FileNotFoundError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def finished_result(run_dir):
    """The trial's result when it has finished (the marker says so), else None."""
    result = read_result(run_dir)
    return result if result is not None and result.get("status") == "finished" else None


def run_trial(trial_function, trial_id, config, run_dir):
    """Run one trial unless it has finished; runs on a Dask worker.

    Returns the result dict (what ``result.json`` holds), with ``"reused": True`` when the
    trial had already finished. A bad option (``InputError``) or a diverged run
    (``DivergenceError``) is a result too, with status ``failed`` and the message: an
    outcome of the configuration, listed in results.csv. Any other error (a missing data
    file, a full disk, a bug) propagates to the client and leaves no result.
    """
    stored = finished_result(run_dir)
    if stored is not None:
        return {**stored, "reused": True}
    os.makedirs(run_dir, exist_ok=True)
    started = time.perf_counter()
    try:
        summary = trial_function(dict(config), run_dir)
        status, error = "finished", None
    except (InputError, DivergenceError) as exception:  # the configuration's own outcome
        summary, status, error = {}, "failed", f"{type(exception).__name__}: {exception}"
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


# ---- the sweep ---------------------------------------------------------------------------------
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
    spec = check_spec(spec)
    if trial_function is None:
        from bprop import runs

        trials = expand(spec, resolve_run_config)
        if spec["metric"] not in runs.SUMMARY_METRICS:
            raise InputError(f"unknown metric {spec['metric']!r}; expected one of "
                             f"{', '.join(runs.SUMMARY_METRICS)}")
        for trial in trials:  # refuse a bad value now, not after the cluster ran every trial
            runs.check_config(trial.config)
        trial_function = train_trial if plots else functools.partial(train_trial, plots=False)
    else:
        trials = expand(spec)
    out_dir = os.path.abspath(os.fspath(out_dir))
    runs_dir = os.path.join(out_dir, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    io.write_text(os.path.join(out_dir, "sweep.json"), json.dumps(spec, indent=2) + "\n")

    results, pending = {}, []
    for trial in trials:
        stored = finished_result(os.path.join(runs_dir, trial.trial_id))
        if stored is not None:
            results[trial.trial_id] = {**stored, "reused": True}
        else:
            pending.append(trial)
    counts = {"trials": len(trials), "reused": len(results), "ran": 0, "errors": 0}
    if pending:
        with _DaskClient(scheduler, client, n_workers, len(pending)) as (dask_client, where):
            if on_start:
                on_start(trials, set(results), where)
            _submit_and_collect(dask_client, trial_function, pending, runs_dir, results, counts,
                                on_result)
    elif on_start:
        on_start(trials, set(results), None)

    rows = [_row(trial, results.get(trial.trial_id), runs_dir, out_dir, spec["metric"]) for trial in trials]
    searched = list(spec["search"])
    best = best_row(rows, spec["metric"], spec["goal"])
    results_path = os.path.join(out_dir, "results.csv")
    write_results(results_path, rows, searched, spec["metric"])
    plot_path = os.path.join(out_dir, "sweep.png")
    plot_results(plot_path, rows, spec["search"], spec["metric"], spec["goal"], best)
    return SweepResult(rows, best, spec["metric"], spec["goal"], searched, out_dir,
                       results_path, plot_path, counts)


class _DaskClient:
    """The client to submit to, and what to call it; closes only what it opened."""

    def __init__(self, scheduler, client, n_workers, n_pending):
        self.scheduler, self.client, self.n_workers, self.n_pending = scheduler, client, n_workers, n_pending
        self.owned = []

    def __enter__(self):
        import logging

        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise BpropError("sweeps run on Dask, which is not installed; "
                             "run `pip install 'dask[distributed]'` (or bprop[sweep])") from None

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


def _submit_and_collect(client, trial_function, pending, runs_dir, results, counts, on_result):
    from distributed import as_completed

    folder_tag = hashlib.sha256(runs_dir.encode()).hexdigest()[:6]
    futures = {}
    for trial in pending:
        future = client.submit(run_trial, trial_function, trial.trial_id, trial.config,
                               os.path.join(runs_dir, trial.trial_id),
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
                on_result(_row(trial, result, runs_dir, os.path.dirname(runs_dir), None), done, total)
    finally:
        unfinished = [f for f in futures if not f.done()]
        if unfinished:
            client.cancel(unfinished)


# ---- results -----------------------------------------------------------------------------------
def _row(trial, result, runs_dir, out_dir, metric):
    """One results.csv row: id, status, the searched values, then the summary's numbers."""
    run_dir = os.path.join(runs_dir, trial.trial_id)
    row = {"trial_id": trial.trial_id, "status": "missing", **trial.params}
    summary = {}
    if result is not None:
        row["status"] = result.get("status", "missing")
        summary = result.get("summary") or {}
    for key in SUMMARY_COLUMNS:
        if key in summary:
            row[key] = summary[key]
    if metric and metric not in row:
        row[metric] = summary.get(metric)
    for key, value in summary.items():
        if key not in row and isinstance(value, numbers.Real):
            row[key] = value
    if (result or {}).get("wall_seconds") is not None:
        row["wall_seconds"] = result["wall_seconds"]
    row["run_dir"] = os.path.relpath(run_dir, out_dir)
    row["error"] = (result or {}).get("error")
    row["reused"] = bool((result or {}).get("reused"))
    return row


def _score(row, metric):
    value = row.get(metric)
    if row.get("status") != "finished" or not isinstance(value, numbers.Real) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) else None


def best_row(rows, metric, goal="max"):
    """The finished row with the best ``metric`` (first of equals), or None."""
    scored = [(score, i) for i, row in enumerate(rows) if (score := _score(row, metric)) is not None]
    if not scored:
        return None
    sign = 1 if goal == "max" else -1
    return rows[max(scored, key=lambda pair: (sign * pair[0], -pair[1]))[1]]


def format_value(value):
    """A searched value as text: lists as JSON (``[100, 30]``), floats with %g."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def write_results(path, rows, searched, metric):
    """results.csv, atomically: trial_id, status, searched options, metric, the rest."""
    first = ["trial_id", "status", *searched, metric]
    rest = []
    for row in rows:
        for key in row:
            if key not in first and key not in rest and key not in ("run_dir", "error", "reused"):
                rest.append(key)
    columns = first + rest + ["run_dir", "error"]
    buffer = _stringio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else
                         (format_value(row[c]) if c in searched else row[c]) for c in columns])
    io.write_text(path, buffer.getvalue())


def plot_results(path, rows, search, metric, goal, best=None):
    """One panel per searched option: every finished trial's metric against the option's value.

    ``search`` is the spec's search mapping (or just the option names). For a list of
    values (not a random range) a line joins the best score at each value; a star marks
    the best trial. Ranges drawn log-uniformly, and positive values spanning two decades or
    more, get a log axis; lists of non-numbers are shown in the spec's order.
    """
    from bprop.plots import _pyplot, _save

    plt = _pyplot()
    if not isinstance(search, dict):
        search = {key: None for key in search}
    n = len(search)
    columns = min(n, 3)
    n_rows = math.ceil(n / columns)
    figure, axes = plt.subplots(n_rows, columns, figsize=(4.2 * columns, 3.4 * n_rows), squeeze=False)
    pick = max if goal == "max" else min
    legend = {}
    for axis, (key, values) in zip(axes.flat, search.items()):
        points = [(row[key], score) for row in rows if (score := _score(row, metric)) is not None]
        numeric = all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x, _ in points)
        labels = None
        if numeric:
            xs = [float(x) for x, _ in points]
        else:
            labels = [format_value(v) for v in values] if isinstance(values, list) else []
            for row in rows:
                if format_value(row[key]) not in labels:
                    labels.append(format_value(row[key]))
            xs = [labels.index(format_value(x)) for x, _ in points]
        ys = [score for _, score in points]
        legend["trials"] = axis.scatter(xs, ys, s=22, alpha=0.55, color="tab:blue")
        by_value = {}
        for x, y in zip(xs, ys):
            by_value[x] = pick(by_value.get(x, y), y)
        if isinstance(values, list) or (values is None and len(by_value) < len(xs)):  # not a range
            ordered = sorted(by_value)
            legend[f"{goal} over the other options"], = axis.plot(
                ordered, [by_value[x] for x in ordered], "-", color="tab:blue", alpha=0.8)
        if best is not None:
            bx = float(best[key]) if numeric else labels.index(format_value(best[key]))
            legend["best trial"] = axis.scatter([bx], [_score(best, metric)], marker="*", s=180,
                                                color="tab:red", zorder=3)
        log = isinstance(values, dict) and "log_uniform" in values
        if numeric and xs and min(xs) > 0 and (log or max(xs) / min(xs) >= 100):
            axis.set_xscale("log")
        if labels is not None:
            axis.set_xticks(range(len(labels)))
            axis.set_xlim(-0.5, len(labels) - 0.5)
            axis.set_xticklabels(labels, rotation=20 if max(map(len, labels), default=0) > 6 else 0)
        axis.set_xlabel(key)
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[n:]:
        axis.set_visible(False)
    if legend:
        axes.flat[0].legend(list(legend.values()), list(legend), fontsize=8, loc="best")
    finished = sum(_score(row, metric) is not None for row in rows)
    figure.suptitle(f"{metric} of {finished} finished trial{'s' * (finished != 1)}")
    figure.tight_layout()
    _save(figure, path)
