"""Issue 7's benchmark: ``python -m benchmarks`` (or ``bprop bench``), ``--help`` for options.

For every recipe, every implementation trains in its own subprocess (``worker.py``),
with a pause between subprocesses, and the repeats are interleaved (each repeat runs
every implementation once, in a rotated order). Reported per implementation: the
median seconds per epoch over the repeats, examples per second, training's extra peak
RSS, the fraction of the machine's matrix-multiply rate it reaches, and each
competitor's time divided by bprop's. The machine's rate is the matmul-only floor's,
measured in the same run for the same layer shapes.
"""
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata, util
from pathlib import Path

from benchmarks import data as bench_data
from benchmarks import recipes as R

ROOT = Path(__file__).resolve().parents[1]
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
QUICK = {"epochs": 1, "repeats": 1, "n_train": 300, "n_test": 100, "per_example_subset": 100,
         "d_max_epochs": 1, "import_repeats": 1, "pause": 0.0, "wait_idle": 0.0,
         "retry_disturbed": 0, "d_repeats": 1}
FULL = {"epochs": 2, "repeats": 5, "n_train": 50_000, "n_test": 10_000, "per_example_subset": 10_000,
        "d_max_epochs": 30, "import_repeats": 7, "pause": 1.0, "wait_idle": 60.0,
        "retry_disturbed": 2, "d_repeats": 11}
BUSY_THRESHOLD = 0.15  # CPUs' worth of other processes' work that marks a run as disturbed
LIBRARY_OF = {"torch": "torch", "sklearn": "sklearn", "jax_step": "jax", "jax_scan": "jax",
              "jax_scan_gather": "jax"}  # implementations needing a competitor


def settings_from(args):
    defaults = QUICK if args.quick else FULL
    settings = {key: getattr(args, key, None) for key in defaults}
    settings = {key: defaults[key] if value is None else value for key, value in settings.items()}
    settings["recipes"] = _names(args.recipes, R.ALL_RECIPES, "recipe")
    settings["implementations"] = _names(args.implementations, R.IMPLEMENTATIONS, "implementation")
    settings.update(quick=args.quick, data=args.data, seed=args.seed,
                    unset_openblas_env=args.unset_openblas_env, threads=getattr(args, "threads", None))
    return settings


def _names(text, allowed, what):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        from bprop.errors import InputError

        raise InputError(f"unknown {what} {', '.join(unknown) or '(none given)'}; "
                         f"choose among {', '.join(allowed)}")
    return names


def run_benchmark(args):
    """Run everything ``args`` asks for; print the table, write the JSON, return the report."""
    settings = settings_from(args)
    json_path = Path(args.json) if args.json else ROOT / "benchmarks" / "results" / "latest.json"
    env = _worker_environment(settings["unset_openblas_env"], settings["threads"])
    available = {name: _available(name) for name in settings["implementations"]}
    report = {
        "schema": 1,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "quick": settings["quick"],
        "settings": {k: v for k, v in settings.items() if k not in ("recipes", "implementations")},
        "machine": _machine(),
        "environment": {
            **{name: os.environ.get(name) for name in OPENBLAS_VARIABLES},
            "unset_for_workers": settings["unset_openblas_env"],
            "threads": settings["threads"] or "each library's default (PyTorch: 2)",
        },
        "isolation": (f"each implementation runs in its own subprocess, {settings['pause']:g} s pause "
                      "between subprocesses; repeats interleaved, order rotated each repeat; "
                      "a few warm-up mini-batches on a throwaway model before each timed run"),
        "recipes": {},
    }
    with tempfile.TemporaryDirectory(prefix="bprop-bench-") as scratch:
        X_train, y_train, X_test, y_test, description = bench_data.load(
            settings["data"], settings["n_train"], settings["n_test"], settings["seed"])
        bench_data.save(scratch, X_train, y_train, X_test, y_test)
        report["data"] = description
        n_train = len(X_train)
        del X_train, X_test
        runner = _Runner(scratch, env, settings, available)
        for name in settings["recipes"]:
            if name == "D":
                report["recipes"]["D"] = runner.time_to_accuracy(description)
            else:
                report["recipes"][name] = runner.epochs(name, n_train)
        if "bprop" in settings["implementations"]:
            report["import_time"] = _import_times(env, settings["import_repeats"], available)
    report["summary"] = _summary(report)
    print(format_table(report))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {json_path}")
    return report


# ---- running workers -----------------------------------------------------------------
class _Runner:
    def __init__(self, scratch, env, settings, available):
        self.scratch, self.env, self.settings, self.available = scratch, env, settings, available
        self.count = 0

    def spawn(self, spec, timeout=3600):
        """Run one worker; its result dict, or ``{"status": "failed", "error": ...}``."""
        self.count += 1
        spec = dict(spec, data_dir=self.scratch,
                    result_path=os.path.join(self.scratch, f"result-{self.count}.json"))
        spec_path = os.path.join(self.scratch, f"spec-{self.count}.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        if self.count > 1 and self.settings["pause"]:
            time.sleep(self.settings["pause"])  # let the last library's threads stop spinning
        waited = _wait_until_idle(self.settings["wait_idle"]) if self.settings["wait_idle"] else None
        busy0, children0, t0 = _machine_busy_seconds(), _children_cpu_seconds(), time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-m", "benchmarks.worker", spec_path], cwd=ROOT,
                                  env=self.env, capture_output=True, text=True, timeout=timeout,
                                  preexec_fn=_pin_to_cpus(self.settings["threads"]))
        except subprocess.TimeoutExpired:
            return {"status": "failed", "error": f"timed out after {timeout} s"}
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            return {"status": "failed", "error": lines[-1] if lines else f"exit code {done.returncode}"}
        with open(spec["result_path"]) as f:
            result = dict(json.load(f), status="ok")
        busy1, children1 = _machine_busy_seconds(), _children_cpu_seconds()
        if busy0 is not None and busy1 is not None:
            # CPU time the whole machine spent, less the worker's own: other processes' load.
            result["other_load_cpus"] = max(0.0, (busy1 - busy0) - (children1 - children0)) / wall
        result["waited_for_idle_seconds"] = waited
        return result

    def spawn_undisturbed(self, spec):
        """``spawn``, run again (up to ``retry_disturbed`` times) while other processes'
        load during the run was above BUSY_THRESHOLD; the last attempt counts."""
        for attempt in range(self.settings["retry_disturbed"] + 1):
            result = self.spawn(spec)
            load = result.get("other_load_cpus")
            if result["status"] != "ok" or load is None or load <= BUSY_THRESHOLD:
                break
            again = attempt < self.settings["retry_disturbed"]
            print(f"  (disturbed: other processes used {load:.2f} CPUs; "
                  + ("running it again)" if again else "kept as it is: no retries left)"),
                  file=sys.stderr, flush=True)
        result["attempts"] = attempt + 1
        return result

    def epochs(self, name, n_train):
        """Recipe A, B, C or C-sgd: every implementation, ``repeats`` times, interleaved."""
        settings, recipe = self.settings, R.RECIPES[name]
        impls = [i for i in settings["implementations"] if i != "per_example" or name == "A"]
        runs = {impl: [] for impl in impls}
        skipped = {impl: self.available[impl] for impl in impls if self.available[impl] is not True}
        active = [impl for impl in impls if impl not in skipped]
        for repeat in range(settings["repeats"]):
            shift = repeat % len(active) if active else 0
            for impl in active[shift:] + active[:shift]:
                spec = {"implementation": impl, "recipe_name": name, "recipe": recipe,
                        "mode": "epochs", "epochs": settings["epochs"], "seed": settings["seed"] + repeat}
                if impl == "per_example":
                    spec["train_subset"] = min(settings["per_example_subset"], n_train)
                result = self.spawn_undisturbed(spec)
                runs[impl].append(result)
                _progress(name, impl, repeat, settings["repeats"], result)
        return _summarise_recipe(name, recipe, n_train, runs, skipped)

    def time_to_accuracy(self, description):
        """Recipe D: recipe B until the target test accuracy, bprop and torch."""
        settings, spec_d = self.settings, R.TIME_TO_ACCURACY
        recipe = R.RECIPES[spec_d["recipe"]]
        impls = [i for i in R.D_IMPLEMENTATIONS if i in settings["implementations"]]
        out = {"recipe": spec_d["recipe"], "target_accuracy": spec_d["target_accuracy"],
               "max_epochs": settings["d_max_epochs"], "results": {}}
        if description["source"] != "fashion-mnist":
            out["note"] = "random data: no accuracy to reach; timings of the capped run only"
        runs = {impl: [] for impl in impls if self.available[impl] is True}
        for repeat in range(settings["d_repeats"]):
            order = list(runs)
            if repeat % 2:
                order.reverse()
            for impl in order:
                result = self.spawn_undisturbed({"implementation": impl, "recipe_name": "D", "recipe": recipe,
                                     "mode": "to_accuracy", "seed": settings["seed"] + repeat,
                                     "target_accuracy": spec_d["target_accuracy"],
                                     "max_epochs": settings["d_max_epochs"]})
                runs[impl].append(result)
                _progress("D", impl, repeat, settings["d_repeats"], result)
        for impl in impls:
            if impl not in runs:
                out["results"][impl] = {"status": f"skipped: {self.available[impl]}"}
                continue
            ok = [r for r in runs[impl] if r["status"] == "ok"]
            if not ok:
                out["results"][impl] = {"status": "failed", "error": runs[impl][0].get("error")}
                continue
            reached = [r for r in ok if r["reached"]]
            out["results"][impl] = {
                "status": "ok",
                "runs_reached": len(reached),
                "runs": len(ok),
                "seconds_to_target": _median([r["seconds_to_target"] for r in reached]),
                "epochs_to_target": _median([r["epochs"] for r in reached]),
                "seconds_per_run": [r["curve"][-1]["seconds"] if r["curve"] else None for r in ok],
                "other_load_cpus_runs": [r.get("other_load_cpus") for r in ok],
                "attempts_runs": [r.get("attempts") for r in ok],
                "curves": [r["curve"] for r in ok],
            }
        b = out["results"].get("bprop", {})
        out["ratios_over_bprop"] = {
            impl: x["seconds_to_target"] / b["seconds_to_target"]
            for impl, x in out["results"].items()
            if impl != "bprop" and x.get("seconds_to_target") and b.get("seconds_to_target")}
        out["ratios_over_bprop_runs"] = _seed_by_seed(runs)
        if "torch" in out["ratios_over_bprop"]:
            out["ratio_torch_over_bprop"] = out["ratios_over_bprop"]["torch"]
        return out


def _seed_by_seed(runs):
    """Recipe D: each implementation's time to the target over bprop's, seed by seed, for
    the seeds both reached. The libraries train on the same orders from the same start
    (``recipes.shuffles``), so a seed's runs differ only by float32 rounding and by the
    host's state."""
    def seconds(rs):
        return [r["seconds_to_target"] if r["status"] == "ok" and r.get("reached") else None for r in rs]

    if "bprop" not in runs:
        return {}
    bprop = seconds(runs["bprop"])
    return {impl: [t / b for t, b in zip(seconds(rs), bprop) if t and b]
            for impl, rs in runs.items() if impl != "bprop"}


def _progress(recipe, impl, repeat, repeats, result):
    if result["status"] != "ok":
        what = f"failed: {result['error']}"
    elif "seconds_per_epoch" in result:
        what = f"{result['seconds_per_epoch']:.3f} s/epoch"
    else:
        what = f"{result['epochs']} epochs, reached={result['reached']}"
    print(f"  [{recipe}] {impl} {repeat + 1}/{repeats}: {what}", file=sys.stderr, flush=True)


def _available(impl):
    """True, or why the implementation cannot run here."""
    module = LIBRARY_OF.get(impl)
    if module and util.find_spec(module) is None:
        return f"{module} not installed (pip install 'bprop[bench]')"
    return True


def _machine_busy_seconds():
    """CPU-seconds all processes have spent busy since boot (from /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle                               # guest time is inside user time
    return busy / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wait_until_idle(max_wait, window=0.5):
    """Sleep until other processes use under BUSY_THRESHOLD CPUs for ``window`` s (at most
    ``max_wait`` s): other users of a shared machine would otherwise slow one library's
    run and not another's. Returns the seconds waited."""
    start = time.perf_counter()
    while True:
        before = _machine_busy_seconds()
        time.sleep(window)
        after = _machine_busy_seconds()
        if before is None or after is None or (after - before) / window < BUSY_THRESHOLD:
            break
        if time.perf_counter() - start > max_wait:
            break
    return time.perf_counter() - start


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "BENCH_THREADS")


def _pin_to_cpus(threads):
    """With ``--threads N``, a function that keeps the worker on N CPUs (None otherwise).

    The thread variables and flags hold BLAS, OpenMP, numba and PyTorch to N threads, but
    XLA:CPU keeps a runtime thread pool that no flag limits (at one thread, JAX's workers
    used ~1.7 CPUs); CPU affinity holds every library to N cores whatever it starts."""
    if not threads or not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    return lambda: os.sched_setaffinity(0, cpus)


def _worker_environment(unset_openblas, threads=None):
    """The workers' environment: the OpenBLAS variables kept or unset, and with ``threads``
    every library held to that many threads (BLAS, OpenMP, numba, PyTorch, XLA)."""
    env = dict(os.environ)
    if threads:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
        if threads == 1:
            env["XLA_FLAGS"] = " ".join(filter(None, [env.get("XLA_FLAGS"),
                                                      "--xla_cpu_multi_thread_eigen=false",
                                                      "intra_op_parallelism_threads=1"]))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    if unset_openblas:
        for name in OPENBLAS_VARIABLES:
            env.pop(name, None)
    return env


# ---- summaries -------------------------------------------------------------------------
def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _summarise_recipe(name, recipe, n_train, runs, skipped):
    exact = R.matmul_flops_per_example(recipe["sizes"])
    out = {
        "recipe": recipe,
        "n_train": n_train,
        "n_weights": R.n_weights(recipe["sizes"]),
        "flops_per_example": {"six_n_weights": 6 * R.n_weights(recipe["sizes"]), "exact_matmul": exact},
        "memory_budget_bytes": R.memory_budget_bytes(recipe, n_train),
        "results": {},
    }
    for impl, reason in skipped.items():
        out["results"][impl] = {"status": f"skipped: {reason}"}
    for impl, results in runs.items():
        ok = [r for r in results if r["status"] == "ok"]
        if not ok:
            out["results"][impl] = {"status": "failed", "error": results[0].get("error") if results else None}
            continue
        timed = ok[0]["n_train_timed"]
        scale = n_train / timed  # the per-example loop is timed on a subset
        per_epoch = [r["seconds_per_epoch"] * scale for r in ok]
        seconds = statistics.median(per_epoch)
        cpu = _median([r.get("cpu_seconds_per_epoch", 0) * scale for r in ok])
        extra = _median([r["train_extra_rss_bytes"] for r in ok])
        entry = {
            "status": "ok",
            "seconds_per_epoch": seconds,
            "seconds_per_epoch_runs": per_epoch,
            # CPU time of the worker's threads: with --threads 1 the work done, which other
            # processes' load on a shared machine inflates far less than the wall time
            "cpu_seconds_per_epoch": cpu,
            "examples_per_second": n_train / seconds,
            "gflops_exact": exact * n_train / seconds / 1e9,
            "gflops_six_n_weights": 6 * out["n_weights"] * n_train / seconds / 1e9,
            "peak_rss_mb": _median([r["peak_rss_bytes"] for r in ok]) / 2**20,
            "train_extra_rss_mb": extra / 2**20,
            "test_accuracy": _median([r["test_accuracy"] for r in ok]),
            "import_seconds": _median([r["import_seconds"] for r in ok]),
            "other_load_cpus_runs": [r.get("other_load_cpus") for r in ok],
            "attempts_runs": [r.get("attempts") for r in ok],
            "notes": ok[0]["notes"],
            "blas_threads": ok[0].get("blas_threads"),
            "blas": ok[0].get("blas"),
            "memory_method": ok[0].get("memory_method"),
        }
        if timed != n_train:
            entry["timed_on"] = timed
            entry["notes"] = entry["notes"] + [
                f"timed on {timed} examples and scaled to {n_train}; memory and accuracy are the subset's"]
        else:
            budget = out["memory_budget_bytes"]
            entry["memory_ratio"] = (budget["data"] + extra) / budget["total"]
        out["results"][impl] = entry
    floors = {impl: x for impl, x in out["results"].items()
              if impl in R.FLOOR_VARIANTS and x.get("status") == "ok"}
    floor = {}
    if floors:  # the floor: the faster of the products-only runs (bprop's gemm, NumPy's)
        fastest = min(floors, key=lambda impl: floors[impl]["seconds_per_epoch"])
        floor = floors[fastest]
        out["fastest_floor"] = {"variant": fastest, "seconds_per_epoch": floor["seconds_per_epoch"]}
    bprop = out["results"].get("bprop", {})
    jax = {impl: x for impl, x in out["results"].items()
           if impl in R.JAX_VARIANTS and x.get("status") == "ok"}
    if jax:  # "the faster JAX": the fastest of its variants counts
        fastest = min(jax, key=lambda impl: jax[impl]["seconds_per_epoch"])
        out["fastest_jax"] = {"variant": fastest, "seconds_per_epoch": jax[fastest]["seconds_per_epoch"]}
    if floor.get("status") == "ok":
        out["machine_matmul_gflops"] = floor["gflops_exact"]
        for entry in out["results"].values():
            if entry.get("status") == "ok":
                entry["fraction_of_matmul_rate"] = floor["seconds_per_epoch"] / entry["seconds_per_epoch"]
    if bprop.get("status") == "ok":
        for impl, entry in out["results"].items():
            if entry.get("status") == "ok" and impl != "bprop":
                entry["time_ratio_vs_bprop"] = entry["seconds_per_epoch"] / bprop["seconds_per_epoch"]
            if entry.get("status") == "ok" and impl != "bprop" and bprop.get("cpu_seconds_per_epoch"):
                entry["cpu_ratio_vs_bprop"] = entry["cpu_seconds_per_epoch"] / bprop["cpu_seconds_per_epoch"]
        if "fastest_floor" in out:
            out["fastest_floor"]["time_ratio_vs_bprop"] = floor["time_ratio_vs_bprop"]
            if floor.get("cpu_ratio_vs_bprop"):
                out["fastest_floor"]["cpu_ratio_vs_bprop"] = floor["cpu_ratio_vs_bprop"]
        if "fastest_jax" in out:
            out["fastest_jax"]["time_ratio_vs_bprop"] = (out["fastest_jax"]["seconds_per_epoch"]
                                                         / bprop["seconds_per_epoch"])
            cpus = {impl: x["cpu_seconds_per_epoch"] for impl, x in jax.items() if x.get("cpu_seconds_per_epoch")}
            if cpus and bprop.get("cpu_seconds_per_epoch"):
                out["fastest_jax"]["cpu_ratio_vs_bprop"] = min(cpus.values()) / bprop["cpu_seconds_per_epoch"]
        # The same ratios repeat by repeat: a repeat runs every implementation back to back,
        # so its ratios share one state of a drifting host (the medians above may not)
        groups = {**{impl: [impl] for impl in out["results"] if impl != "bprop"},
                  "fastest_jax": list(jax), "fastest_floor": list(floors)}
        for key, impls in groups.items():
            ratios = _paired_ratios([out["results"][impl] for impl in impls], bprop)
            target = out.get(key) if key.startswith("fastest") else out["results"][key]
            if ratios and target is not None:
                target["time_ratio_vs_bprop_runs"] = ratios
    return out


def _paired_ratios(entries, bprop):
    """Per repeat: the fastest of ``entries``' times / bprop's time in the same repeat;
    None unless every entry and bprop have a time for every repeat."""
    runs = [e.get("seconds_per_epoch_runs") for e in entries]
    mine = bprop.get("seconds_per_epoch_runs")
    if not runs or not mine or any(r is None or len(r) != len(mine) for r in runs):
        return None
    return [min(r[i] for r in runs) / mine[i] for i in range(len(mine))]


def _summary(report):
    """Each issue-7 target next to what this run measured (None where not measured)."""
    checks = []

    def check(what, measured, target, at_least=True, runs=None):
        if measured is None:
            return
        met = measured >= target if at_least else measured <= target
        checks.append({"what": what, "measured": measured, "target": target,
                       "sense": "at least" if at_least else "at most", "met": met})
        if runs:  # the per-repeat ratios' range (see _summarise_recipe)
            checks[-1]["repeats_range"] = [min(runs), max(runs)]

    for name, rec in report["recipes"].items():
        if name == "D":
            for impl, ratio in rec.get("ratios_over_bprop", {}).items():
                if impl != "bprop_numpy":
                    check(f"D: {impl} time to 85% / bprop's", ratio, R.D_TARGET,
                          runs=rec.get("ratios_over_bprop_runs", {}).get(impl))
            continue
        results = rec["results"]
        for impl, target in R.SPEED_TARGETS.get(name, {}).items():
            if impl == "jax":
                fastest = rec.get("fastest_jax", {})
                check(f"{name}: fastest JAX ({fastest.get('variant')}) time / bprop time",
                      fastest.get("time_ratio_vs_bprop"), target,
                      runs=fastest.get("time_ratio_vs_bprop_runs"))
                continue
            check(f"{name}: {impl} time / bprop time", results.get(impl, {}).get("time_ratio_vs_bprop"),
                  target, runs=results.get(impl, {}).get("time_ratio_vs_bprop_runs"))
        if report["settings"].get("threads") == 1:  # the same targets in CPU time (see --threads)
            for impl, target in R.SPEED_TARGETS.get(name, {}).items():
                ratio = (rec.get("fastest_jax", {}) if impl == "jax" else results.get(impl, {})).get("cpu_ratio_vs_bprop")
                check(f"{name}: {impl} CPU time / bprop CPU time (1 thread each)", ratio, target)
            floor = rec.get("fastest_floor", {}).get("cpu_ratio_vs_bprop")
            if name in R.FLOOR_TARGET and floor:
                check(f"{name}: bprop CPU time / matmul-floor CPU time", 1 / floor, R.FLOOR_TARGET[name], at_least=False)
        floor = rec.get("fastest_floor", {})
        if name in R.FLOOR_TARGET and floor.get("time_ratio_vs_bprop"):
            check(f"{name}: bprop time / matmul-floor time ({floor['variant']})",
                  1 / floor["time_ratio_vs_bprop"], R.FLOOR_TARGET[name], at_least=False,
                  runs=[1 / r for r in floor.get("time_ratio_vs_bprop_runs") or []])
        check(f"{name}: bprop memory / (data + parameters + batch activations)",
              results.get("bprop", {}).get("memory_ratio"), R.MEMORY_TARGET, at_least=False)
    imports = report.get("import_time", {})
    check("import bprop / import torch", imports.get("ratio_bprop_over_torch"), R.IMPORT_TARGET, at_least=False)
    return checks


def _import_times(env, repeats, available):
    """Wall time of ``python -c "import X"`` in fresh interpreters, interleaved; medians."""
    statements = {"python": "pass", "numpy": "import numpy", "bprop": "import bprop",
                  "bprop.Network": "from bprop import Network"}
    if available.get("torch", _available("torch")) is True:
        statements["torch"] = "import torch"
    times = {name: [] for name in statements}
    for _ in range(repeats):
        for name, statement in statements.items():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", statement], cwd=ROOT, env=env, check=True,
                           capture_output=True)
            times[name].append(time.perf_counter() - t0)
    out = {name: {"median_seconds": statistics.median(runs), "runs": runs} for name, runs in times.items()}
    out["note"] = ("wall time of a fresh `python -c \"import X\"`, interpreter start-up included "
                   "(see 'python'); bprop loads its public names lazily, so 'bprop.Network' is "
                   "the cost of a first use")
    if "torch" in out:
        out["ratio_bprop_over_torch"] = out["bprop"]["median_seconds"] / out["torch"]["median_seconds"]
    return out


def _machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for package in ("numpy", "numba", "scipy", "torch", "jax", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    import numpy as np

    blas = None
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        blas = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "versions": versions, "numpy_blas": blas}


# ---- the printed table -------------------------------------------------------------
def format_table(report):
    lines = []
    m = report["machine"]
    v = m["versions"]
    lines.append(f"bprop benchmark: {m['cpu']}, {m['logical_cpus']} CPUs, Python {m['python']}, "
                 f"numpy {v['numpy']} ({m['numpy_blas']}), numba {v.get('numba')}, "
                 f"torch {v['torch']}, jax {v.get('jax')}, scikit-learn {v['scikit-learn']}")
    d = report["data"]
    lines.append(f"data: {d['source']} ({d['n_train']} train / {d['n_test']} test). {d['note']}")
    e = report["environment"]
    lines.append(f"OPENBLAS_CORETYPE={e['OPENBLAS_CORETYPE']} OPENBLAS_L2_SIZE={e['OPENBLAS_L2_SIZE']} "
                 f"({'unset' if e['unset_for_workers'] else 'kept'} for the workers); threads: "
                 f"{e.get('threads')}")
    lines.append(f"isolation: {report['isolation']}")
    s = report["settings"]
    lines.append(f"median of {s['repeats']} repeat(s), {s['epochs']} timed epoch(s) each"
                 + ("  [--quick: a smoke run, not a measurement]" if report["quick"] else ""))
    loads = [v for rec in report["recipes"].values() for x in rec["results"].values()
             for v in x.get("other_load_cpus_runs", []) if v is not None]
    if loads:
        disturbed = sum(v > BUSY_THRESHOLD for v in loads)
        lines.append(f"other processes' load during the {len(loads)} worker runs: median "
                     f"{statistics.median(loads):.2f} CPUs, max {max(loads):.2f}; {disturbed} run(s) "
                     f"above {BUSY_THRESHOLD} CPUs" + (" (timings of those runs are suspect)" if disturbed else ""))
    header = (f"{'recipe':<6} {'implementation':<16} {'s/epoch':>9} {'examples/s':>11} {'extra MB':>9} "
              f"{'mem x':>6} {'GFLOP/s':>8} {'% matmul':>9} {'time/bprop':>11} {'test acc':>9} "
              f"{'cpu s/ep':>9} {'cpu/bprop':>9}")
    notes = []
    for name, rec in report["recipes"].items():
        if name == "D":
            continue
        r = rec["recipe"]
        lines.append("")
        lines.append(f"{name} ({r['title']}): {r['sizes']} {'/'.join(r['activations'])} {r['cost']} "
                     f"{r['optimizer']} eta={r['learning_rate']:g} mu={r['momentum']:g} m={r['batch_size']} "
                     f"{r['dtype']}; machine matmul rate for these shapes: "
                     f"{_fmt(rec.get('machine_matmul_gflops'), '.1f')} GFLOP/s")
        lines.append(header)
        for impl, x in rec["results"].items():
            if x["status"] != "ok":
                lines.append(f"{name:<6} {impl:<16} {x['status']}" + (f": {x['error']}" if x.get("error") else ""))
                continue
            lines.append(
                f"{name:<6} {impl:<16} {x['seconds_per_epoch']:>9.3f} {x['examples_per_second']:>11,.0f} "
                f"{x['train_extra_rss_mb']:>9.1f} {_fmt(x.get('memory_ratio'), '.2f'):>6} "
                f"{x['gflops_exact']:>8.1f} {_fmt(_pct(x.get('fraction_of_matmul_rate')), '.0f'):>9} "
                f"{_fmt(x.get('time_ratio_vs_bprop'), '.2f'):>11} {_fmt(x.get('test_accuracy'), '.4f'):>9} "
                f"{_fmt(x.get('cpu_seconds_per_epoch'), '.3f'):>9} {_fmt(x.get('cpu_ratio_vs_bprop'), '.2f'):>9}")
            for note in x["notes"]:
                notes.append(f"{name} {impl}: {note}")
            if x.get("blas"):
                notes.append(f"{impl}: matrix products by {x['blas']}")
        for key, label in (("fastest_jax", "fastest JAX"), ("fastest_floor", "matmul floor")):
            if rec.get(key):
                f = rec[key]
                lines.append(f"{name:<6} {label:<16} {f['seconds_per_epoch']:>9.3f}  ({f['variant']}; "
                             f"time/bprop {_fmt(f.get('time_ratio_vs_bprop'), '.2f')})")
    if "D" in report["recipes"]:
        rec = report["recipes"]["D"]
        lines.append("")
        lines.append(f"D (time to {rec['target_accuracy']:.0%} test accuracy with recipe {rec['recipe']}, "
                     f"at most {rec['max_epochs']} epochs, evaluated after each epoch; median of "
                     f"{report['settings']['d_repeats']} runs, each its own seed)"
                     + (f": {rec['note']}" if rec.get("note") else ""))
        for impl, x in rec["results"].items():
            if x["status"] != "ok":
                lines.append(f"  {impl:<16} {x['status']}" + (f": {x['error']}" if x.get("error") else ""))
                continue
            lines.append(f"  {impl:<16} {_fmt(x['seconds_to_target'], '.2f')} s "
                         f"({_fmt(x['epochs_to_target'], 'g')} epochs; reached in {x['runs_reached']}/{x['runs']} runs)")
        if rec.get("ratios_over_bprop"):
            lines.append("  time / bprop's: " + ", ".join(
                f"{impl} {ratio:.2f}" for impl, ratio in rec["ratios_over_bprop"].items()))
    if "import_time" in report:
        it = report["import_time"]
        lines.append("")
        lines.append("import time (fresh interpreter, median): "
                     + ", ".join(f"{k} {v['median_seconds'] * 1000:.0f} ms" for k, v in it.items()
                                 if isinstance(v, dict))
                     + (f"; bprop / torch = {it['ratio_bprop_over_torch']:.3f}" if "ratio_bprop_over_torch" in it else ""))
    if report["summary"]:
        lines.append("")
        lines.append("targets (issue 14):")
        for c in report["summary"]:
            spread = c.get("repeats_range")
            lines.append(f"  {'met ' if c['met'] else 'MISS'}  {c['what']}: {c['measured']:.2f} "
                         f"({c['sense']} {c['target']:g})"
                         + (f"; repeat by repeat {spread[0]:.2f}-{spread[1]:.2f}" if spread else ""))
    lines.append("")
    lines.append("columns: extra MB = peak RSS during training minus RSS after imports and data; "
                 "mem x = (data + extra) / (data + parameters + one batch's activations); "
                 "GFLOP/s and % matmul count the exact matrix products of an epoch (6 x n_weights "
                 "less the first layer's input gradient); time/bprop > 1 means bprop is faster.")
    lines.extend(f"note, {n}" for n in dict.fromkeys(notes))
    return "\n".join(lines)


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def _pct(fraction):
    return None if fraction is None else 100 * fraction

