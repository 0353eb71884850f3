"""A quick smoke run of the benchmark suite (issue 7): structure and sane numbers, no timing thresholds."""
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPETITORS = [name for name, module in (("torch", "torch"), ("sklearn", "sklearn"))
               if importlib.util.find_spec(module) is not None]


def _positive_finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    json_path = tmp_path_factory.mktemp("bench") / "quick.json"
    implementations = ",".join(["bprop", "per_example", "matmul_floor", "matmul_floor_numpy"]
                               + COMPETITORS)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--data", "random", "--recipes", "A,B,D",
         "--implementations", implementations, "--json", str(json_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(json_path.read_text()), done.stdout


def test_quick_run_prints_a_table_naming_the_data_and_isolation(report):
    _, stdout = report
    assert "data: random" in stdout
    assert "own subprocess" in stdout
    assert "time/bprop" in stdout


def test_quick_run_records_machine_data_and_environment(report):
    data, _ = report
    assert data["quick"] is True
    assert data["data"]["source"] == "random"
    assert set(data["environment"]) >= {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "unset_for_workers"}
    assert data["machine"]["logical_cpus"] >= 1


@pytest.mark.parametrize("recipe", ["A", "B"])
def test_every_implementation_reports_positive_finite_figures(report, recipe):
    data, _ = report
    results = data["recipes"][recipe]["results"]
    expected = ({"bprop", "matmul_floor", "matmul_floor_numpy", *COMPETITORS}
                | ({"per_example"} if recipe == "A" else set()))
    assert set(results) == expected
    for name, entry in results.items():
        assert entry["status"] == "ok", (name, entry)
        for key in ("seconds_per_epoch", "examples_per_second", "gflops_exact",
                    "fraction_of_matmul_rate", "peak_rss_mb"):
            assert _positive_finite(entry[key]), (name, key, entry[key])
        assert entry["train_extra_rss_mb"] >= 0
        if name != "bprop":
            assert _positive_finite(entry["time_ratio_vs_bprop"]), name


def test_the_faster_matmul_floor_defines_the_machine_rate(report):
    data, _ = report
    recipe = data["recipes"]["B"]
    floors = {name: recipe["results"][name] for name in ("matmul_floor", "matmul_floor_numpy")}
    fastest = recipe["fastest_floor"]["variant"]
    assert fastest == min(floors, key=lambda name: floors[name]["seconds_per_epoch"])
    floor = floors[fastest]
    assert floor["fraction_of_matmul_rate"] == pytest.approx(1.0)
    assert recipe["fastest_floor"]["time_ratio_vs_bprop"] == pytest.approx(floor["time_ratio_vs_bprop"])
    assert recipe["machine_matmul_gflops"] == pytest.approx(floor["gflops_exact"])
    # 784*100 + 100*10 weights: forward and nabla_w for both layers, delta for the second only.
    assert recipe["flops_per_example"]["exact_matmul"] == 2 * (2 * 78_400 + 2 * 1_000 + 1_000)


def test_per_example_loop_is_timed_on_a_subset_and_says_so(report):
    data, _ = report
    entry = data["recipes"]["A"]["results"]["per_example"]
    assert entry["timed_on"] < data["recipes"]["A"]["n_train"]
    assert any("scaled" in note for note in entry["notes"])


def test_every_run_records_the_other_processes_load(report):
    data, _ = report
    for entry in data["recipes"]["B"]["results"].values():
        assert all(load is None or load >= 0 for load in entry["other_load_cpus_runs"])
        assert all(attempts >= 1 for attempts in entry["attempts_runs"])


def test_time_to_accuracy_records_a_curve_per_run(report):
    data, _ = report
    d = data["recipes"]["D"]
    assert d["target_accuracy"] == 0.85
    for name in ["bprop", *(["torch"] if "torch" in COMPETITORS else [])]:
        entry = d["results"][name]
        assert entry["status"] == "ok", entry
        assert entry["curves"] and all(_positive_finite(point["seconds"]) for point in entry["curves"][0])


def test_import_times_are_measured_in_fresh_interpreters(report):
    data, _ = report
    times = data["import_time"]
    for name in ["python", "bprop", "bprop.Network", *(["torch"] if "torch" in COMPETITORS else [])]:
        assert _positive_finite(times[name]["median_seconds"])


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="no CPU affinity here")
def test_threads_option_pins_each_worker_to_that_many_cpus():
    """XLA keeps threads no flag limits: --threads N holds a worker to N CPUs by affinity."""
    import os

    from benchmarks.run import _pin_to_cpus

    assert _pin_to_cpus(None) is None
    count = "import os; print(len(os.sched_getaffinity(0)))"
    done = subprocess.run([sys.executable, "-c", count], capture_output=True, text=True,
                          preexec_fn=_pin_to_cpus(1), check=True)
    assert done.stdout.strip() == "1"
    everything = subprocess.run([sys.executable, "-c", count], capture_output=True, text=True, check=True)
    assert everything.stdout.strip() == str(len(os.sched_getaffinity(0)))


def test_ratios_are_also_paired_repeat_by_repeat():
    """Each repeat's ratio divides times measured back to back; a faster variant group
    (the fastest JAX, the floor) takes its fastest member of that repeat."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.run import _paired_ratios

    bprop = {"seconds_per_epoch_runs": [1.0, 2.0, 4.0]}
    slow = {"seconds_per_epoch_runs": [3.0, 3.0, 3.0]}
    fast = {"seconds_per_epoch_runs": [2.0, 5.0, 2.0]}
    assert _paired_ratios([slow], bprop) == [3.0, 1.5, 0.75]
    assert _paired_ratios([slow, fast], bprop) == [2.0, 1.5, 0.5]
    assert _paired_ratios([{"seconds_per_epoch_runs": [1.0]}], bprop) is None   # a failed repeat
    assert _paired_ratios([], bprop) is None


def test_quick_run_states_each_targets_repeat_range(report):
    data, stdout = report
    ranged = [c for c in data["summary"] if "time /" in c["what"] and "memory" not in c["what"]]
    assert ranged and all(len(c["repeats_range"]) == 2 for c in ranged)
    assert "repeat by repeat" in stdout


def test_help_states_the_full_runs_defaults():
    sys.path.insert(0, str(ROOT))
    from benchmarks.run import FULL

    done = subprocess.run([sys.executable, "-m", "bprop", "bench", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    text = " ".join(done.stdout.split())
    assert f"reported (default {FULL['repeats']};" in text
    assert f"(default {FULL['d_repeats']};" in text


@pytest.mark.parametrize("seed", [0, 5])
def test_competitors_start_from_bprops_parameters_and_train_on_its_orders(seed):
    """The recipe D comparison rests on this: a competitor built from ``initial_parameters``
    and trained on ``shuffles``' permutations (as the PyTorch and JAX workers are) ends
    where bprop's ``fit`` with the same seed ends. Here the competitor is plain NumPy."""
    sys.path.insert(0, str(ROOT))
    import bprop
    from benchmarks.recipes import initial_parameters, shuffles

    recipe = {"sizes": [5, 4, 3], "init": "he", "dtype": "float64"}
    eta, mu, m, n, epochs = 0.3, 0.9, 4, 10, 2
    X = np.random.default_rng(99).standard_normal((n, 5))
    y = np.arange(n) % 3
    net = bprop.Network(recipe["sizes"], activation=["relu", "softmax"], cost="cross_entropy",
                        init="he", dtype="float64", seed=seed)
    net.fit(X, y, epochs=epochs, batch_size=m, learning_rate=eta, momentum=mu, seed=seed,
            kernels="numpy", verbose=0)

    def numpy_competitor(orders):
        (w1, w2), (b1, b2) = initial_parameters(recipe, seed)
        params = [w1, b1, w2, b2]
        velocities = [np.zeros_like(p) for p in params]
        for _ in range(epochs):
            order = orders.permutation(n)
            for k in range(0, n, m):
                rows = order[k:k + m]
                x, t = X[rows], np.eye(3)[y[rows]]
                z1 = x @ w1.T + b1
                a1 = np.maximum(z1, 0)
                z2 = a1 @ w2.T + b2
                a2 = np.exp(z2 - z2.max(axis=1, keepdims=True))
                a2 /= a2.sum(axis=1, keepdims=True)
                d2 = (a2 - t) / len(rows)
                d1 = (d2 @ w2) * (z1 > 0)
                grads = [d1.T @ x, d1.sum(axis=0), d2.T @ a1, d2.sum(axis=0)]
                for p, v, g in zip(params, velocities, grads):
                    v *= mu
                    v -= eta * g
                    p += v
        return [w1, w2, b1, b2]

    ours = net.weights + net.biases
    for mine, theirs in zip(ours, numpy_competitor(shuffles(seed))):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)
    # the order matters: another seed's orders end elsewhere
    other = numpy_competitor(shuffles(seed + 1))
    assert not all(np.allclose(mine, theirs) for mine, theirs in zip(ours, other))


def test_time_to_accuracy_is_also_compared_seed_by_seed():
    sys.path.insert(0, str(ROOT))
    from benchmarks.run import _seed_by_seed

    def run(seconds):
        if seconds is None:
            return {"status": "ok", "reached": False, "seconds_to_target": None}
        return {"status": "ok", "reached": True, "seconds_to_target": seconds}

    runs = {"bprop": [run(1.0), run(2.0), run(None), {"status": "failed"}],
            "torch": [run(1.5), run(1.0), run(3.0), run(2.0)]}
    assert _seed_by_seed(runs) == {"torch": [1.5, 0.5]}   # seeds bprop missed are left out
    assert _seed_by_seed({"torch": runs["torch"]}) == {}


def _competitor_weights(name, model):
    if name == "torch":
        linears = [layer for layer in model["net"] if hasattr(layer, "weight")]
        return ([layer.weight.detach().numpy() for layer in linears]
                + [layer.bias.detach().numpy() for layer in linears])
    params = model["params"]
    return [np.asarray(w) for w, _ in params] + [np.asarray(b) for _, b in params]


@pytest.mark.parametrize("name", ["torch", "jax_step", "jax_scan", "jax_scan_gather"])
def test_pytorch_and_jax_train_on_bprops_orders(name):
    """The benchmark's own PyTorch and JAX workers (when installed, as ``.[bench]``
    installs them), trained in float64 for two epochs, end where bprop's ``fit`` ends."""
    pytest.importorskip("torch" if name == "torch" else "jax")
    sys.path.insert(0, str(ROOT))
    import bprop
    from benchmarks.implementations import IMPLEMENTATIONS

    recipe = {"sizes": [6, 5, 3], "activations": ["relu", "softmax"], "cost": "cross_entropy",
              "init": "he", "optimizer": "sgd", "learning_rate": 0.2, "momentum": 0.9,
              "batch_size": 4, "dtype": "float64"}
    X = np.random.default_rng(7).standard_normal((14, 6))   # 3 full mini-batches and a short one
    y = np.arange(14) % 3
    seed = 3
    impl = IMPLEMENTATIONS[name]()
    model = impl.build(recipe, seed)
    impl.train(model, X, y, 2)
    net = bprop.Network(recipe["sizes"], activation=recipe["activations"], cost=recipe["cost"],
                        init="he", dtype="float64", seed=seed)
    net.fit(X, y, epochs=2, batch_size=4, learning_rate=0.2, momentum=0.9, seed=seed,
            kernels="numpy", verbose=0)
    for ours, theirs in zip(net.weights + net.biases, _competitor_weights(name, model)):
        np.testing.assert_allclose(theirs, ours, rtol=1e-10, atol=1e-12)
