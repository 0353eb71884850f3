"""`bprop train`, `evaluate`, `predict` and `gradcheck` end to end, as subprocesses."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import bprop
from cli_helpers import bprop as run_bprop

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train") / "run"
    result = run_bprop("train", "--epochs", 8, "--out", folder, check=0)
    return folder, result


def test_train_writes_a_complete_run_folder(digits_run):
    folder, _ = digits_run
    for name in ["config.json", "metrics.csv", "checkpoint.npz", "model-best.npz", "model-last.npz",
                 "summary.json", "learning_curves.png", "confusion_matrix.png",
                 "first_layer_weights.png", "misclassified.png"]:
        assert (folder / name).is_file(), name
    assert not [p for p in folder.iterdir() if p.name.startswith(".") and p.name != ".lock"], "temporary files left behind"


def test_train_prints_a_line_per_epoch_and_a_summary(digits_run):
    _, result = digits_run
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert len(epoch_lines) == 8
    assert "test accuracy" in result.stdout.splitlines()[-1]


def test_metrics_improve_over_training(digits_run):
    folder, _ = digits_run
    with open(folder / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 9))
    assert float(rows[-1]["cost"]) < float(rows[0]["cost"]) / 2
    assert float(rows[-1]["validation_accuracy"]) > float(rows[0]["validation_accuracy"])


def test_config_json_reruns_the_same_training(digits_run, tmp_path):
    folder, _ = digits_run
    config = json.loads((folder / "config.json").read_text())
    assert config["dataset"] == "digits" and config["sizes"] == [64, 100, 10] and config["epochs"] == 8
    from bprop.runs import train_run

    train_run({k: v for k, v in config.items() if k != "preset"}, tmp_path / "again", plots=False)
    first, second = bprop.load(folder / "model-last.npz"), bprop.load(tmp_path / "again" / "model-last.npz")
    for a, b in zip(first.weights + first.biases, second.weights + second.biases):
        np.testing.assert_array_equal(a, b)


def test_saved_models_load_and_score_like_the_summary(digits_run):
    folder, _ = digits_run
    summary = json.loads((folder / "summary.json").read_text())
    from bprop.data import load_dataset

    data = load_dataset("digits")
    net = bprop.load(folder / "model-last.npz")
    assert net.evaluate(*data.test)["accuracy"] == pytest.approx(summary["test_accuracy"])
    assert summary["test_accuracy"] > 0.9


def test_plots_are_valid_png_images(digits_run):
    folder, _ = digits_run
    for name in ["learning_curves.png", "confusion_matrix.png", "first_layer_weights.png", "misclassified.png"]:
        with Image.open(folder / name) as image:
            image.verify()
            assert image.format == "PNG"
        with Image.open(folder / name) as image:
            assert image.size[0] > 200 and image.size[1] > 150
            assert len(np.unique(np.asarray(image.convert("L")))) > 2, f"{name} is blank"


def test_evaluate_reports_accuracy_and_confusion_matrix(digits_run):
    folder, _ = digits_run
    result = run_bprop("evaluate", folder / "model-best.npz", "--dataset", "digits", "--json", check=0)
    report = json.loads(result.stdout)
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == report["n"]
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert len(report["precision"]) == len(report["recall"]) == 10


def test_predict_reads_npy_rows_and_images(digits_run, tmp_path):
    folder, _ = digits_run
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.save(tmp_path / "rows.npy", digits.data[:5] / 16)
    dark_on_light = (255 - digits.images[0] * 16).astype(np.uint8)
    Image.fromarray(dark_on_light).resize((32, 32), Image.NEAREST).save(tmp_path / "zero.png")
    result = run_bprop("predict", folder / "model-best.npz", tmp_path / "rows.npy", tmp_path / "zero.png",
                       "--json", check=0)
    items = json.loads(result.stdout)
    assert [item["prediction"] for item in items[:5]] == digits.target[:5].tolist()
    assert items[5]["input"].endswith("zero.png") and items[5]["prediction"] == 0


def test_gradcheck_command_reports_small_errors():
    result = run_bprop("gradcheck", "--sizes", "3,4,2", "--activation", "tanh", "--cost", "cross_entropy",
                       check=0)
    assert "OK" in result.stdout and "finite differences 52" in result.stdout
    assert "parameters checked: 26 of 26" in result.stdout


def test_gradcheck_on_a_saved_model_checks_a_sample_unless_told_to_check_all(tmp_path):
    """A model of MNIST's size has 79,510 parameters: by default 1,000 per array are checked."""
    import bprop

    bprop.Network([784, 100, 10], "sigmoid", seed=1).save(tmp_path / "big.npz")
    result = run_bprop("gradcheck", tmp_path / "big.npz", "--batch", 2, check=0)
    assert "parameters checked: 2,110 of 79,510" in result.stdout     # 1,000 + 100 + 1,000 + 10
    assert "OK" in result.stdout
    bprop.Network([6, 5, 3], "sigmoid", seed=1).save(tmp_path / "small.npz")
    every = run_bprop("gradcheck", tmp_path / "small.npz", "--max-params", 0, check=0)
    assert "parameters checked: 53 of 53" in every.stdout
    refused = run_bprop("gradcheck", tmp_path / "small.npz", "--max-params", -1)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "--max-params" in refused.stderr


@pytest.mark.parametrize("args, fragment", [
    (["train", "--dataset", "nosuch", "--no-plots"], "nosuch"),
    (["train", "--sizes", "10,5,10", "--no-plots"], "sizes"),
    (["evaluate", "missing.npz"], "missing.npz"),
    (["predict", "missing.npz", "x.npy"], "missing.npz"),
])
def test_bad_input_is_one_line_on_stderr_with_exit_1(tmp_path, args, fragment):
    if args[0] == "train":
        args = args + ["--out", tmp_path / "run"]
    result = run_bprop(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr


def test_usage_error_exits_2():
    assert run_bprop("train", "--activation", "nope").returncode == 2


def test_a_run_folder_is_never_overwritten(digits_run):
    folder, _ = digits_run
    result = run_bprop("train", "--out", folder)
    assert result.returncode == 1 and "--resume" in result.stderr


def test_help_imports_nothing_heavy():
    code = ("import sys; from bprop.cli import build_parser; build_parser().format_help(); "
            "print(sorted(m for m in ('numpy', 'matplotlib', 'sklearn', 'tqdm', 'torch', 'dask', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_adam_trains_from_the_command_line_without_a_momentum_flag(tmp_path):
    result = run_bprop("train", "--optimizer", "adam", "--epochs", "3", "--no-plots", "--quiet",
                       "--out", tmp_path / "run", check=0)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["momentum"] == 0.0 and config["learning_rate"] == 0.001
    assert "test accuracy" in result.stdout


def test_run_files_get_the_usual_permissions_not_private_temporary_ones(digits_run):
    import os
    import stat

    folder, _ = digits_run
    mask = os.umask(0)
    os.umask(mask)
    for name in ["config.json", "model-last.npz", "learning_curves.png"]:
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o666 & ~mask


def test_evaluate_uses_the_training_split_whatever_the_runs_seed(tmp_path):
    folder = tmp_path / "seven"
    run_bprop("train", "--seed", 7, "--epochs", 5, "--no-plots", "--quiet", "--out", folder, check=0)
    summary = json.loads((folder / "summary.json").read_text())
    result = run_bprop("evaluate", folder / "model-last.npz", "--json", check=0)
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(summary["test_accuracy"])


def test_checkpoint_every_lands_on_its_mini_batches_when_the_whole_loop_trains(tmp_path, monkeypatch):
    # Compiled whole loops run many mini-batches per call (here 2); --checkpoint-every N must
    # still write a checkpoint after mini-batches N, 2N, ... of each epoch.
    pytest.importorskip("numba")
    from bprop import runs
    from bprop.cli import main
    from bprop.kernels import step

    rng = np.random.default_rng(0)
    X = rng.random((400, 12)).astype(np.float32)
    np.savez(tmp_path / "d.npz", X=X, y=(X[:, 0] * 3).astype(int))
    written, sizes = [], set()
    original = runs.RunRecorder.write_checkpoint

    def spy(self, trainer):
        written.append((trainer.epoch, trainer.batch))
        sizes.add(-(-len(trainer._order) // trainer.batch_size))   # mini-batches an epoch
        return original(self, trainer)

    monkeypatch.setattr(runs.RunRecorder, "write_checkpoint", spy)
    monkeypatch.setattr(step, "WHOLE_LOOP_MAX_WORK", 10**12)
    used = []
    monkeypatch.setattr(step.CompiledTraining, "step", lambda *a, **k: used.append("step"))
    main(["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--hidden", "8", "--epochs", "2",
          "--batch-size", "2", "--checkpoint-every", "25", "--kernels", "numba", "--no-plots",
          "--quiet", "--out", str(tmp_path / "run")])
    (n_batches,) = sizes
    assert n_batches > 90
    expected = []
    for epoch in (0, 1):
        expected += [(epoch, b) for b in range(25, n_batches, 25)] + [(epoch + 1, 0)]  # + epoch end
    assert written == expected
    assert used == []                                 # every mini-batch ran in the whole loop
