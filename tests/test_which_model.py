"""Which model is which: model-last.npz is the last epoch, model-best.npz the best by the
documented rule, the summary and the plots say which one they show; early stopping's
monitor and restore_best; fit's verbose."""
import csv
import json
import subprocess
import sys

import numpy as np
import pytest

import bprop
from cli_helpers import bprop as run_bprop

pytest.importorskip("sklearn")


def _metrics(folder):
    with open(folder / "metrics.csv") as file:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(file)]


def _best_by_rule(rows, monitor):
    """The rule in the README, written out here: higher validation accuracy, ties broken by
    the lower validation cost (or just the lower cost), ties of both keep the earlier epoch."""
    best = None
    for row in rows:
        key = ((row["validation_accuracy"], -row["validation_cost"]) if monitor == "validation_accuracy"
               else (-row["validation_cost"],))
        if best is None or key > best[0]:
            best = (key, int(row["epoch"]))
    return best[1]


def _same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.weights + a.biases, b.weights + b.biases))


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("which") / "run"
    result = run_bprop("train", "--epochs", 40, "--early-stopping", 3, "--lr", 0.5, "--out", folder, check=0)
    return folder, result


def test_model_last_is_the_last_epoch_even_when_early_stopping_stopped_the_run(stopped_run):
    folder, _ = stopped_run
    rows = _metrics(folder)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["epochs_run"] == len(rows)
    last, best = bprop.load(folder / "model-last.npz"), bprop.load(folder / "model-best.npz")
    assert _same_weights(last, bprop.load(folder / "checkpoint.npz"))  # the checkpoint holds the last epoch
    assert summary["best_epoch"] < len(rows) and not _same_weights(last, best)


def test_model_best_is_the_best_epoch_by_the_documented_rule(stopped_run):
    folder, _ = stopped_run
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["monitor"] == "validation_accuracy"
    assert summary["best_epoch"] == _best_by_rule(_metrics(folder), "validation_accuracy")


def test_summary_and_plots_lead_with_the_best_model_and_say_so(stopped_run):
    folder, result = stopped_run
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["plots_show"] == f"model-best.npz (epoch {summary['best_epoch']})"
    from bprop.data import load_dataset

    test = load_dataset("digits").test
    assert summary["best_test_accuracy"] == bprop.load(folder / "model-best.npz").evaluate(*test)["accuracy"]
    assert summary["test_accuracy"] == bprop.load(folder / "model-last.npz").evaluate(*test)["accuracy"]
    line = result.stdout.splitlines()[-1]
    assert f"(model-best.npz, epoch {summary['best_epoch']})" in line
    assert f"(model-last.npz, epoch {summary['epochs_run']})" in line


def test_monitor_validation_cost_picks_the_epoch_of_the_lowest_validation_cost(tmp_path):
    folder = tmp_path / "run"
    run_bprop("train", "--epochs", 8, "--monitor", "validation_cost", "--lr", 0.5, "--no-plots", "--quiet",
              "--out", folder, check=0)
    summary = json.loads((folder / "summary.json").read_text())
    rows = _metrics(folder)
    assert summary["best_epoch"] == _best_by_rule(rows, "validation_cost")
    assert json.loads((folder / "config.json").read_text())["monitor"] == "validation_cost"


# ---- fit's early stopping, in Python ------------------------------------------------------------------
def _data():
    from bprop.data import load_dataset

    return load_dataset("digits")


class _Snapshots(bprop.Callback):
    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, trainer, record):
        self.weights[record["epoch"]] = [w.copy() for w in trainer.network.weights]


@pytest.mark.parametrize("monitor", ["validation_accuracy", "validation_cost"])
@pytest.mark.parametrize("restore_best", [True, False])
def test_fit_restores_the_best_epoch_by_its_monitor_or_keeps_the_last(monitor, restore_best):
    data = _data()
    net = bprop.Network([64, 30, 10], ["relu", "softmax"], "cross_entropy", seed=0)
    snapshots = _Snapshots()
    history = net.fit(*data.train, epochs=25, batch_size=32, learning_rate=0.5, momentum=0.9,
                      validation_data=data.validation, early_stopping=3, monitor=monitor,
                      restore_best=restore_best, callbacks=[snapshots], verbose=0)
    rows = [{k: v for k, v in r.items() if v is not None} for r in history]
    best = _best_by_rule(rows, monitor)
    expected = snapshots.weights[best if restore_best else len(history)]
    assert all(np.array_equal(w, e) for w, e in zip(net.weights, expected))
    assert len(history) - best == 3 or len(history) == 25


def test_equal_validation_accuracy_is_decided_by_the_lower_validation_cost():
    from bprop.training import best_epoch

    history = [{"epoch": 1, "validation_accuracy": 0.9, "validation_cost": 0.5},
               {"epoch": 2, "validation_accuracy": 0.9, "validation_cost": 0.3},
               {"epoch": 3, "validation_accuracy": 0.9, "validation_cost": 0.3}]
    assert best_epoch(history)["epoch"] == 2
    assert best_epoch(history, "validation_cost")["epoch"] == 2


# ---- verbose -----------------------------------------------------------------------------------------
def _python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)


def test_fit_prints_a_line_per_epoch_by_default_and_nothing_with_verbose_0():
    setup = ("import bprop; from bprop.data import load_dataset; d = load_dataset('digits'); "
             "net = bprop.Network([64, 20, 10], ['relu', 'softmax'], 'cross_entropy', seed=0); ")
    out = _python(setup + "net.fit(*d.train, epochs=3, validation_data=d.validation)").stdout
    lines = out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1/3  cost ") and "val " in lines[0]
    assert _python(setup + "net.fit(*d.train, epochs=3, verbose=0)").stdout == ""


def test_estimators_are_silent_by_default_and_print_with_verbose():
    setup = ("from sklearn.datasets import load_iris; from bprop.sklearn import BPClassifier; "
             "X, y = load_iris(return_X_y=True); ")
    assert _python(setup + "BPClassifier(epochs=3, random_state=0).fit(X, y)").stdout == ""
    out = _python(setup + "BPClassifier(epochs=3, random_state=0, verbose=2).fit(X, y)").stdout
    assert len(out.splitlines()) == 3 and out.startswith("epoch 1/3")


@pytest.mark.parametrize("value", [3, -1, 1.5, "yes"])
def test_bad_verbose_is_refused(value):
    net = bprop.Network([2, 2], ["softmax"], "cross_entropy", seed=0)
    with pytest.raises(ValueError, match="verbose must be 0"):
        net.fit(np.zeros((2, 2)), [0, 1], verbose=value)
