"""Sweeps on an in-process Dask LocalCluster of two worker processes; the command; joblib's Dask backend."""
import csv
import os

import pytest

from bprop.errors import InputError

distributed = pytest.importorskip("distributed")
pytest.importorskip("sklearn")

from cli_helpers import bprop  # noqa: E402
from test_sweep import attempts, digits_trial  # noqa: E402

from bprop import sweep  # noqa: E402


@pytest.fixture(scope="module")
def client():
    import logging

    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None, silence_logs=logging.ERROR)
    client = distributed.Client(cluster)
    try:
        client.wait_for_workers(2, timeout=60)
        yield client
    finally:
        client.close()
        cluster.close()


SPEC = {"options": {"dataset": "digits", "epochs": 2, "batch_size": 64},
        "search": {"learning_rate": [0.05, 0.2], "hidden": [[16], [8, 8]]}}


def test_sweep_trains_a_run_folder_per_trial_and_resumes_without_rerunning(client, tmp_path):
    out = tmp_path / "sweep"
    result = sweep.run_sweep(SPEC, out, client=client, plots=False)
    assert result.counts == {"trials": 4, "reused": 0, "ran": 4, "errors": 0}
    assert [row["status"] for row in result.rows] == ["finished"] * 4
    for row in result.rows:
        run_dir = out / row["run_dir"]
        for name in ("config.json", "metrics.csv", "model-last.npz", "summary.json", sweep.RESULT):
            assert (run_dir / name).exists(), name
        assert 0 < row["validation_accuracy"] <= 1 and 0 < row["test_accuracy"] <= 1
    best = max(result.rows, key=lambda row: row["validation_accuracy"])
    assert result.best["validation_accuracy"] == best["validation_accuracy"]
    with open(result.results_path, newline="") as file:
        assert len(list(csv.DictReader(file))) == 4
    assert open(result.plot_path, "rb").read(4) == b"\x89PNG"

    markers = {row["trial_id"]: os.stat(out / row["run_dir"] / sweep.RESULT).st_mtime_ns
               for row in result.rows}
    again = sweep.run_sweep(SPEC, out, client=client)
    assert again.counts == {"trials": 4, "reused": 4, "ran": 0, "errors": 0}
    assert [row["validation_accuracy"] for row in again.rows] == [row["validation_accuracy"] for row in result.rows]
    assert markers == {row["trial_id"]: os.stat(out / row["run_dir"] / sweep.RESULT).st_mtime_ns
                       for row in again.rows}


def test_a_trial_is_deterministic_from_its_configuration(client, tmp_path):
    spec = {"options": {"epochs": 2, "batch_size": 64, "hidden": [16], "dropout": 0.2},
            "search": {"learning_rate": [0.1]}}
    first = sweep.run_sweep(spec, tmp_path / "a", client=client, plots=False)
    second = sweep.run_sweep(spec, tmp_path / "b", client=client, plots=False)
    assert first.rows[0]["trial_id"] == second.rows[0]["trial_id"]
    for key in ("validation_accuracy", "test_accuracy", "test_cost"):
        assert first.rows[0][key] == second.rows[0][key]


def test_a_run_folder_left_by_a_killed_trial_is_continued(client, tmp_path):
    from bprop.runs import train_run

    spec = {"options": {"epochs": 3, "batch_size": 64, "hidden": [16]}, "search": {"learning_rate": [0.1]}}
    trial = sweep.expand(sweep.check_spec(spec), sweep.resolve_run_config)[0]
    run_dir = tmp_path / "sweep" / "runs" / trial.trial_id
    # What a kill after the first epoch's checkpoint leaves: config.json and checkpoint.npz, no marker.
    train_run({**trial.config, "epochs": 1}, str(run_dir), plots=False)
    config = (run_dir / "config.json").read_text().replace('"epochs": 1', '"epochs": 3')
    (run_dir / "config.json").write_text(config)
    (run_dir / "summary.json").unlink()

    resumed = sweep.run_sweep(spec, tmp_path / "sweep", client=client, plots=False)
    fresh = sweep.run_sweep(spec, tmp_path / "fresh", client=client, plots=False)
    assert resumed.rows[0]["epochs_run"] == 3
    assert resumed.rows[0]["test_cost"] == fresh.rows[0]["test_cost"]


def test_failed_trials_are_recorded_and_do_not_stop_the_sweep(client, tmp_path):
    # η = 1e6 with an identity output diverges: a trial that fails while training.
    spec = {"options": {"epochs": 1, "hidden": [8], "output_activation": "identity", "cost": "quadratic"},
            "search": {"learning_rate": [0.05, 1e6]}}
    result = sweep.run_sweep(spec, tmp_path, client=client, plots=False)
    assert [row["status"] for row in result.rows] == ["finished", "failed"]
    assert "NaN or infinite" in result.rows[1]["error"]
    assert result.best["learning_rate"] == 0.05
    again = sweep.run_sweep(spec, tmp_path, client=client, plots=False)
    assert again.counts == {"trials": 2, "reused": 1, "ran": 1, "errors": 0}  # the failure is retried


def test_invalid_option_values_are_refused_before_any_trial_runs(client, tmp_path):
    spec = {"options": {"epochs": 1, "hidden": [8]}, "search": {"momentum": [0.5, 1.5]}}
    with pytest.raises(InputError, match="momentum"):
        sweep.run_sweep(spec, tmp_path / "s", client=client, plots=False)
    assert not (tmp_path / "s").exists()


def test_an_unexpected_error_leaves_the_trial_unfinished_and_the_rest_run(client, tmp_path):
    spec = {"options": {"epochs": 1, "hidden": [8]},
            "search": {"dataset": ["digits", f"csv:{tmp_path / 'missing.csv'}"]}}
    result = sweep.run_sweep(spec, tmp_path / "s", client=client, plots=False)
    assert [row["status"] for row in result.rows] == ["finished", "error"]
    assert "DataError" in result.rows[1]["error"] and result.counts["errors"] == 1
    assert sweep.read_result(tmp_path / "s" / result.rows[1]["run_dir"]) is None


def test_custom_trial_function_runs_on_the_workers(client, tmp_path):
    spec = {"search": {"learning_rate": [0.1, 0.5, 1.0]}}
    seen = []
    result = sweep.run_sweep(spec, tmp_path, client=client, trial_function=digits_trial,
                             on_result=lambda row, done, total: seen.append((row["trial_id"], done, total)))
    assert sorted(done for _, done, _ in seen) == [1, 2, 3] and {total for *_, total in seen} == {3}
    for row in result.rows:
        starts, ends = attempts(tmp_path / row["run_dir"])
        assert len(starts) == len(ends) == 1
    assert len({line.split()[1] for row in result.rows
                for line in attempts(tmp_path / row["run_dir"])[0]} - {str(os.getpid())}) >= 1


def test_grid_search_cv_runs_on_dask_through_joblib(client):
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from bprop.sklearn import BPClassifier

    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(BPClassifier(hidden=(16,), epochs=5, random_state=0),
                          {"learning_rate": [1e-3, 1e-2]}, cv=2)
    with joblib.parallel_backend("dask"):
        search.fit(X[:600] / 16, y[:600])
    assert search.best_params_["learning_rate"] in (1e-3, 1e-2)
    assert search.best_score_ > 0.5


def test_sweep_command_prints_progress_and_the_best_configuration(tmp_path):
    out = tmp_path / "s"
    args = ["sweep", "--set", "learning_rate=0.05,0.2", "--set", "hidden=[12]", "--set", "epochs=2",
            "--workers", "1", "--no-plots", "--out", out]
    result = bprop(*args, check=0, timeout=120)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2 trials over learning_rate: 0 already finished, 2 to run on a local Dask cluster")
    assert sum(line.startswith("[") and "validation_accuracy" in line for line in lines) == 2
    assert any(line.startswith("best: validation_accuracy") for line in lines)
    assert (out / "results.csv").exists() and (out / "sweep.png").exists()
    rerun = bprop(*args, check=0, timeout=120)
    assert rerun.stdout.splitlines()[0] == "2 trials over learning_rate: 2 already finished"


def test_sweep_command_reports_a_bad_spec_in_one_line(tmp_path):
    result = bprop("sweep", "--set", "learning_rat=0.1,0.2", "--out", tmp_path / "s", check=2)
    assert result.stderr.count("\n") == 1 and "unknown run option(s) learning_rat" in result.stderr
    result = bprop("sweep", "--out", tmp_path / "t", check=2)
    assert "give a sweep spec" in result.stderr


def test_sigterm_stops_a_sweep_with_checkpoints_and_the_resumed_sweep_ends_identically(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import numpy as np

    from bprop import load
    from bprop.runs import train_run

    out = tmp_path / "s"
    args = ["sweep", "--set", "hidden=[64,64]", "--set", "seed=0,1", "--set", "epochs=80", "--set", "batch_size=8",
            "--set", "checkpoint_every=20", "--workers", "1", "--no-plots", "--out", out]
    process = subprocess.Popen([sys.executable, "-m", "bprop", *map(str, args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("runs/*/checkpoint.npz")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "sweep stopped by SIGTERM" in stderr and f"--out {out}" in stderr and "Traceback" not in stderr
    (trial,) = [folder.parent for folder in out.glob("runs/*/checkpoint.npz")]  # one worker: one trial ran
    assert not list(out.glob("runs/*/model-last.npz")) and not list(out.glob("runs/*/result.json"))

    bprop(*args, check=0, timeout=600)
    import json

    config = json.loads((trial / "config.json").read_text())
    train_run({k: v for k, v in config.items() if k != "preset"}, tmp_path / "alone", plots=False)
    resumed, alone = load(trial / "model-last.npz"), load(tmp_path / "alone" / "model-last.npz")
    for a, b in zip(resumed.weights + resumed.biases, alone.weights + alone.biases):
        np.testing.assert_array_equal(a, b)
