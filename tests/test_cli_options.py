"""Options are never silently ignored: flags beside a preset or a config file apply,
--resume --epochs extends a run bit for bit, options that cannot change on resume are
refused by name, bad values are usage errors (exit 2) and leave no run folder."""
import csv
import json
import os

import numpy as np
import pytest

import bprop
from cli_helpers import bprop as run_bprop

pytest.importorskip("sklearn")
MNIST_DIR = "/work/shared/data/mnist"


def _config(folder):
    return json.loads((folder / "config.json").read_text())


def _metrics_without_times(folder):
    with open(folder / "metrics.csv") as file:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(file)]


def _same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.weights + a.biases, b.weights + b.biases))


def test_flags_beside_a_preset_override_it(tmp_path):
    run_bprop("train", "--preset", "nielsen-ch1", "--dataset", "digits", "--hidden", 50, "--activation", "tanh",
              "--epochs", 1, "--no-plots", "--quiet", "--out", tmp_path / "run", check=0)
    config = _config(tmp_path / "run")
    assert config["sizes"] == [64, 50, 10] and config["hidden"] == [50]      # not [784, 30, 10]
    assert config["activation"] == "tanh" and config["dataset"] == "digits"
    assert config["learning_rate"] == 3.0 and config["cost"] == "quadratic"  # the preset's, not overridden


def test_a_presets_config_json_does_not_contradict_itself(tmp_path):
    run_bprop("train", "--preset", "nielsen-ch1", "--dataset", "digits", "--epochs", 1, "--no-plots",
              "--quiet", "--out", tmp_path / "run", check=0)
    config = _config(tmp_path / "run")
    assert config["sizes"] == [64, 30, 10] and config["hidden"] == [30]


def test_resume_with_more_epochs_ends_bit_identical_to_one_longer_run(tmp_path):
    run_bprop("train", "--epochs", 3, "--no-plots", "--quiet", "--out", tmp_path / "short", check=0)
    result = run_bprop("train", "--resume", tmp_path / "short", "--epochs", 7, "--no-plots", "--quiet", check=0)
    assert "7 epochs" in result.stdout
    run_bprop("train", "--epochs", 7, "--no-plots", "--quiet", "--out", tmp_path / "long", check=0)
    for name in ("model-last.npz", "model-best.npz"):
        assert _same_weights(bprop.load(tmp_path / "short" / name), bprop.load(tmp_path / "long" / name))
    assert _metrics_without_times(tmp_path / "short") == _metrics_without_times(tmp_path / "long")
    assert _config(tmp_path / "short")["epochs"] == 7


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume") / "run"
    run_bprop("train", "--epochs", 2, "--no-plots", "--quiet", "--out", folder, check=0)
    return folder


@pytest.mark.parametrize("flags, named", [
    (["--hidden", "30"], "--hidden"), (["--dataset", "mnist"], "--dataset"),
    (["--batch-size", "10"], "--batch-size"), (["--cost", "quadratic"], "--cost"),
    (["--lr", "0.5"], "--learning-rate"), (["--preset", "nielsen-ch1"], "--preset"),
    (["--out", "elsewhere"], "--out"), (["--epochs", "1"], "--epochs must be at least"),
])
def test_resume_refuses_an_option_it_cannot_change_naming_it(finished_run, flags, named):
    result = run_bprop("train", "--resume", finished_run, *flags, "--no-plots")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and named in result.stderr
    assert "run folder" not in result.stdout           # nothing announced for a refused run


def test_resume_accepts_an_option_given_with_the_runs_own_value(finished_run):
    run_bprop("train", "--resume", finished_run, "--lr", "0.1", "--hidden", "100", "--no-plots", "--quiet",
              check=0)


@pytest.mark.skipif(not os.path.isdir(MNIST_DIR), reason="needs the shared MNIST copy")
def test_resume_reads_the_data_from_the_data_dir_given_then(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        for name in os.listdir(MNIST_DIR):
            if name.endswith(".gz"):
                (folder / name).symlink_to(os.path.join(MNIST_DIR, name))
    common = ["--dataset", "mnist", "--hidden", "5", "--batch-size", "1000", "--no-plots", "--quiet"]
    run_bprop("train", *common, "--epochs", 1, "--data-dir", first, "--out", tmp_path / "run", check=0)
    for name in os.listdir(first):
        (first / name).unlink()                      # the first copy is gone; no download allowed:
    env_blocked = {"BPROP_MNIST_MIRROR": "http://127.0.0.1:9/"}
    result = run_bprop("train", "--resume", tmp_path / "run", "--epochs", 2, "--data-dir", second,
                       "--no-plots", "--quiet", env=env_blocked)
    assert result.returncode == 0, result.stderr
    assert _config(tmp_path / "run")["data_dir"] == str(second)


def test_config_json_of_a_run_starts_a_new_run_that_flags_override(finished_run, tmp_path):
    run_bprop("train", "--config", finished_run / "config.json", "--no-plots", "--quiet",
              "--out", tmp_path / "same", check=0)
    assert _same_weights(bprop.load(finished_run / "model-last.npz"), bprop.load(tmp_path / "same" / "model-last.npz"))
    run_bprop("train", "--config", finished_run / "config.json", "--hidden", 20, "--optimizer", "adam",
              "--no-plots", "--quiet", "--out", tmp_path / "changed", check=0)
    config = _config(tmp_path / "changed")
    assert config["sizes"] == [64, 20, 10] and config["epochs"] == 2
    assert config["optimizer"] == "adam" and config["learning_rate"] == 0.001 and config["momentum"] == 0.0


@pytest.mark.parametrize("args, fragment", [
    (["train", "--lr", "-1"], "learning_rate"),
    (["train", "--epochs", "0"], "epochs"),
    (["train", "--dropout", "1.5"], "dropout"),
    (["train", "--config", "no-such-config.json"], "no-such-config.json"),
    (["sweep", "--set", "learning_rate=-1,0.1"], "learning_rate"),
    (["sweep", "--set", "learning_rate=0.1,1", "--metric", "foo"], "foo"),
])
def test_bad_option_values_are_usage_errors_and_create_nothing(tmp_path, args, fragment):
    result = run_bprop(*args, "--out", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_a_run_whose_data_fails_to_load_leaves_no_empty_folder(tmp_path):
    result = run_bprop("train", "--dataset", "csv:missing.csv", "--out", tmp_path / "run", cwd=tmp_path)
    assert result.returncode == 1 and "missing.csv" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_run_announces_its_folder_first_and_a_resumed_one_too(tmp_path):
    first = run_bprop("train", "--epochs", 1, "--no-plots", "--out", tmp_path / "run", check=0)
    assert first.stdout.splitlines()[0] == f"run folder: {tmp_path / 'run'}"
    again = run_bprop("train", "--resume", tmp_path / "run", "--epochs", 2, "--no-plots", check=0)
    assert again.stdout.splitlines()[0] == f"run folder: {tmp_path / 'run'}"
