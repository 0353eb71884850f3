"""One implementation, one recipe, one process: ``python -m benchmarks.worker SPEC.json``.

Running each implementation in its own process keeps one library's BLAS/OpenMP threads,
which spin for a while after their work, from slowing the next library, and gives each
its own peak-RSS figure. The worker writes its result as JSON to the spec's
``result_path``.

Memory: after the library import and the data load, the kernel's peak-RSS mark (VmHWM) is
reset to the current RSS (``/proc/self/clear_refs``); the training's extra memory is the
peak afterwards minus that baseline. Where the reset is not allowed, the baseline is the
peak so far, which can hide memory the data load had freed.
"""
import gc
import json
import resource
import sys
import time


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def _reset_peak_rss():
    """Set the peak-RSS mark to the current RSS; return the baseline in bytes and how."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kb("VmRSS") * 1024, "clear_refs reset; baseline = current RSS"
    except OSError:
        return _peak_rss(), "no reset allowed; baseline = peak RSS so far"


def _peak_rss():
    """VmHWM, this address space's peak. Not ru_maxrss: after fork + exec that also holds
    the parent's peak (the kernel carries it over at exec), which clear_refs cannot reset."""
    peak_kb = _status_kb("VmHWM")
    if peak_kb is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return peak_kb * 1024


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: info.get(k) for k in ("internal_api", "num_threads", "version", "architecture")}
            for info in threadpool_info()]


def _describe(pools):
    """'openblas 0.3.31 SkylakeX, 2 threads' for each BLAS threadpoolctl found loaded."""
    if not pools:
        return None
    blas = [p for p in pools if p.get("internal_api") in ("openblas", "mkl", "blis")]
    return "; ".join(f"{p['internal_api']} {p.get('version')} {p.get('architecture') or ''}, "
                     f"{p['num_threads']} threads" for p in blas) or None


def main(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    t_start = time.perf_counter()
    from benchmarks import data
    from benchmarks.implementations import IMPLEMENTATIONS

    impl = IMPLEMENTATIONS[spec["implementation"]]()
    t_import = time.perf_counter() - t_start
    recipe = spec["recipe"]
    X_train, y_train, X_test, y_test = data.load_saved(spec["data_dir"], recipe["dtype"])
    subset = spec.get("train_subset")
    if subset:
        X_train, y_train = X_train[:subset], y_train[:subset]
    result = {"implementation": impl.name, "recipe_name": spec["recipe_name"], "notes": impl.notes(recipe),
              "import_seconds": t_import, "n_train_timed": len(X_train)}

    if spec["mode"] == "epochs":
        # Warm-up on a throwaway model: first-call costs (thread pools, lazy kernels) are
        # not an epoch's cost. A few mini-batches only.
        warm = impl.build(recipe, spec["seed"] + 1000)
        n_warm = min(len(X_train), 8 * recipe["batch_size"])
        if hasattr(impl, "prepare"):
            impl.prepare(warm, X_train[:n_warm], y_train[:n_warm])
        impl.train(warm, X_train[:n_warm], y_train[:n_warm], 1)
        del warm
        model = impl.build(recipe, spec["seed"])
        if hasattr(impl, "prepare"):
            impl.prepare(model, X_train, y_train)
        baseline, how = _reset_peak_rss()
        cpu0, t0 = time.process_time(), time.perf_counter()
        impl.train(model, X_train, y_train, spec["epochs"])
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0  # every thread of this process
        peak = _peak_rss()
        result.update(
            seconds=elapsed,
            seconds_per_epoch=elapsed / spec["epochs"],
            cpu_seconds_per_epoch=cpu / spec["epochs"],
            epochs=spec["epochs"],
            baseline_rss_bytes=baseline,
            peak_rss_bytes=peak,
            train_extra_rss_bytes=max(peak - baseline, 0),
            memory_method=how,
            test_accuracy=impl.accuracy(model, X_test, y_test),
        )
    elif spec["mode"] == "to_accuracy":
        model = impl.build(recipe, spec["seed"])
        target, max_epochs = spec["target_accuracy"], spec["max_epochs"]
        t0 = time.perf_counter()
        clock = lambda: time.perf_counter() - t0  # noqa: E731
        if hasattr(impl, "train_until"):
            curve = impl.train_until(model, X_train, y_train, X_test, y_test, target, max_epochs, clock)
        else:
            curve = []
            for epoch in range(1, max_epochs + 1):
                impl.train(model, X_train, y_train, 1)
                accuracy = impl.accuracy(model, X_test, y_test)
                curve.append({"epoch": epoch, "seconds": clock(), "test_accuracy": accuracy})
                if accuracy >= target:
                    break
        reached = bool(curve) and curve[-1]["test_accuracy"] >= target
        result.update(reached=reached, seconds_to_target=curve[-1]["seconds"] if reached else None,
                      epochs=len(curve), curve=curve)
    else:
        raise ValueError(f"unknown mode {spec['mode']!r}")

    result["blas_threads"] = _blas_threads()
    result["blas"] = impl.blas() if hasattr(impl, "blas") else _describe(result["blas_threads"])
    with open(spec["result_path"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
