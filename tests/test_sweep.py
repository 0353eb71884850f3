"""Sweep specs, trials and results, without Dask; and the stand-in trial the Dask tests run.

``digits_trial`` trains a small ``bprop.Network`` on scikit-learn's digits directly, and
appends a line to its run folder's ``attempts.log`` when it starts and when it ends, so
the Dask tests can count how often each trial ran.
"""
import json
import os
import time

import pytest

from bprop import sweep
from bprop.errors import DivergenceError, InputError


# ---- the stand-in trial (imported by the Dask tests' workers) ------------------------------------
def digits_trial(config, run_dir):
    """A small network on digits, deterministic from ``config``; sleeps ``sleep`` seconds mid-way."""
    import numpy as np
    from sklearn.datasets import load_digits

    import bprop

    _append(os.path.join(run_dir, "attempts.log"),
            f"start {os.getpid()} marker={os.path.exists(os.path.join(run_dir, sweep.RESULT))}")
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order] / 16.0, y[order]
    hidden = list(config.get("hidden", [16]))
    net = bprop.Network([64, *hidden, 10], ["relu"] * len(hidden) + ["softmax"], "cross_entropy",
                        seed=config.get("seed", 0))
    history = net.fit(X[:1000], y[:1000], epochs=config.get("epochs", 2), batch_size=32,
                      learning_rate=config["learning_rate"], validation_data=(X[1000:1400], y[1000:1400]))
    time.sleep(config.get("sleep", 0))
    test = net.evaluate(X[1400:], y[1400:])
    _append(os.path.join(run_dir, "attempts.log"), f"end {os.getpid()}")
    return {"validation_accuracy": history[-1]["validation_accuracy"], "test_accuracy": test["accuracy"],
            "epochs_run": len(history), "run_dir": run_dir}


def _append(path, line):
    with open(path, "a", encoding="utf-8") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


def attempts(run_dir):
    """(starts, ends) lines of a trial's attempts.log."""
    try:
        with open(os.path.join(run_dir, "attempts.log"), encoding="utf-8") as file:
            lines = file.read().split("\n")
    except FileNotFoundError:
        return [], []
    return [l for l in lines if l.startswith("start")], [l for l in lines if l.startswith("end")]


# ---- specs ---------------------------------------------------------------------------------------------
def test_set_flag_splits_values_on_commas_outside_brackets():
    assert sweep.parse_set("hidden=30,[100,30]") == ("hidden", [30, [100, 30]])
    assert sweep.parse_set("learning-rate=1e-3,0.1,1") == ("learning_rate", [0.001, 0.1, 1])
    assert sweep.parse_set("optimizer=sgd,adam") == ("optimizer", ["sgd", "adam"])
    assert sweep.parse_set("nesterov=true") == ("nesterov", [True])


@pytest.mark.parametrize("text", ["learning_rate", "=1,2", "hidden=[30", "l2=1,,2"])
def test_set_flag_refuses_malformed_text(text):
    with pytest.raises(InputError, match="set"):
        sweep.parse_set(text)


def test_one_set_value_fixes_an_option_and_several_search_it():
    spec = sweep.spec_with_sets({"search": {"l2": [0, 1]}}, ["epochs=3", "learning_rate=0.1,1", "l2=5"])
    assert spec["options"] == {"epochs": 3, "l2": 5}
    assert spec["search"] == {"learning_rate": [0.1, 1]}


def test_yaml_spec_numbers_written_like_1e_3_are_numbers(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("options: {epochs: 2}\nsearch:\n  learning_rate: [1e-3, 0.1]\n")
    spec = sweep.check_spec(sweep.load_spec(path))
    assert spec["search"]["learning_rate"] == [0.001, 0.1]
    assert spec["method"] == "grid" and spec["metric"] == "validation_accuracy" and spec["goal"] == "max"


def test_json_spec_is_read_and_broken_files_are_one_line_errors(tmp_path):
    good = tmp_path / "s.json"
    good.write_text(json.dumps({"search": {"l2": [0.0, 1.0]}}))
    assert sweep.load_spec(good)["search"] == {"l2": [0.0, 1.0]}
    bad = tmp_path / "s.yaml"
    bad.write_text("search: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        sweep.load_spec(bad)
    with pytest.raises(InputError, match="does not exist"):
        sweep.load_spec(tmp_path / "missing.yaml")


@pytest.mark.parametrize("spec, message", [
    ({"search": {}}, "nothing to search"),
    ({"search": {"l2": 3}}, "non-empty list"),
    ({"search": {"l2": [0]}, "colour": 1}, "unknown sweep spec key"),
    ({"search": {"l2": [0]}, "options": {"l2": 1}}, "both fixed"),
    ({"search": {"l2": {"uniform": [0, 1]}}}, "grid needs a list"),
    ({"method": "random", "search": {"l2": [0, 1]}}, "trials"),
    ({"method": "random", "trials": 2, "search": {"l2": {"log_uniform": [0, 1]}}}, "low > 0"),
    ({"method": "random", "trials": 2, "search": {"l2": {"normal": [0, 1]}}}, "uniform"),
    ({"method": "anneal", "search": {"l2": [0]}}, "unknown sweep method"),
    ({"search": {"l2": [0]}, "goal": "up"}, "goal"),
])
def test_check_spec_names_what_is_wrong(spec, message):
    with pytest.raises(InputError, match=message):
        sweep.check_spec(spec)


def test_cost_metrics_are_minimised_by_default():
    assert sweep.check_spec({"search": {"l2": [0]}, "metric": "test_cost"})["goal"] == "min"


# ---- trials ----------------------------------------------------------------------------------------
def test_grid_runs_every_combination_in_order():
    spec = sweep.check_spec({"options": {"epochs": 2},
                             "search": {"learning_rate": [0.1, 1.0], "hidden": [[8], [16], [8, 8]]}})
    trials = sweep.expand(spec)
    assert [t.params for t in trials][:3] == [{"learning_rate": 0.1, "hidden": [8]},
                                              {"learning_rate": 0.1, "hidden": [16]},
                                              {"learning_rate": 0.1, "hidden": [8, 8]}]
    assert len(trials) == 6 and len({t.trial_id for t in trials}) == 6
    assert all(t.config["epochs"] == 2 for t in trials)


def test_random_search_is_reproducible_from_its_sample_seed_and_in_range():
    spec = {"method": "random", "trials": 8, "sample_seed": 3,
            "search": {"learning_rate": {"log_uniform": [1e-4, 1e-1]}, "batch_size": {"int_uniform": [8, 64]},
                       "dropout": {"uniform": [0, 0.5]}, "optimizer": ["sgd", "adam"]}}
    first, again = sweep.expand(sweep.check_spec(spec)), sweep.expand(sweep.check_spec(spec))
    assert [t.config for t in first] == [t.config for t in again]
    assert len(first) == 8
    for trial in first:
        assert 1e-4 <= trial.params["learning_rate"] <= 1e-1
        assert 8 <= trial.params["batch_size"] <= 64 and isinstance(trial.params["batch_size"], int)
        assert 0 <= trial.params["dropout"] <= 0.5
    other = sweep.expand(sweep.check_spec({**spec, "sample_seed": 4}))
    assert [t.config for t in other] != [t.config for t in first]


def test_random_search_over_few_choices_drops_duplicates():
    spec = sweep.check_spec({"method": "random", "trials": 10, "search": {"l2": [0.0, 1.0]}})
    assert sorted(t.params["l2"] for t in sweep.expand(spec)) == [0.0, 1.0]


def test_trial_id_depends_on_the_configuration_not_its_key_order():
    a = sweep.trial_id({"learning_rate": 0.1, "hidden": [30]})
    assert a == sweep.trial_id({"hidden": [30], "learning_rate": 0.1})
    assert a != sweep.trial_id({"hidden": [30], "learning_rate": 0.2})
    assert len(a) == 12 and int(a, 16) >= 0
    # pinned: a sweep folder written today must be found again by later versions
    assert sweep.trial_id({"learning_rate": 0.1}) == "4cd86ac2712f"


def test_run_configurations_are_resolved_to_one_canonical_form(tmp_path):
    one = sweep.resolve_run_config({"hidden": 30, "learning_rate": 1, "dataset": "csv:data.csv#label"})
    other = sweep.resolve_run_config({"hidden": [30], "learning_rate": 1.0,
                                      "dataset": f"csv:{os.path.abspath('data.csv')}#label"})
    assert one == other and sweep.trial_id(one) == sweep.trial_id(other)
    assert one["epochs"] == 30 and one["seed"] == 0  # bprop train's defaults, filled in
    with pytest.raises(InputError, match="unknown run option"):
        sweep.resolve_run_config({"learning_rat": 0.1})


# ---- one trial -------------------------------------------------------------------------------------
def test_a_trial_writes_its_result_marker_last(tmp_path):
    result = sweep.run_trial(digits_trial, "t1", {"learning_rate": 0.5}, str(tmp_path / "t1"))
    assert result["status"] == "finished" and result["reused"] is False
    stored = sweep.read_result(tmp_path / "t1")
    assert stored["summary"]["validation_accuracy"] == result["summary"]["validation_accuracy"] > 0.5
    assert "reused" not in stored


def test_a_finished_trial_is_never_run_again(tmp_path):
    run_dir = str(tmp_path / "t1")
    first = sweep.run_trial(digits_trial, "t1", {"learning_rate": 0.5}, run_dir)
    again = sweep.run_trial(digits_trial, "t1", {"learning_rate": 0.5}, run_dir)
    assert again["reused"] is True and again["summary"] == first["summary"]
    starts, ends = attempts(run_dir)
    assert len(starts) == len(ends) == 1


@pytest.mark.parametrize("damage", ["deep", "summary", "directory"])
def test_a_damaged_result_marker_makes_the_trial_run_again(tmp_path, damage):
    run_dir = tmp_path / "t1"
    sweep.run_trial(digits_trial, "t1", {"learning_rate": 0.5}, str(run_dir))
    marker = run_dir / sweep.RESULT
    if damage == "deep":
        marker.write_text("[" * 100000 + "]" * 100000)
    elif damage == "summary":
        marker.write_text(json.dumps({"status": "finished", "summary": [1, 2]}))
    else:
        marker.unlink()
        marker.mkdir()
    assert sweep.finished_result(str(run_dir)) is None
    if damage == "directory":
        marker.rmdir()
    again = sweep.run_trial(digits_trial, "t1", {"learning_rate": 0.5}, str(run_dir))
    assert again["reused"] is False and again["status"] == "finished"
    assert len(attempts(str(run_dir))[0]) == 2


def _diverges(config, run_dir):
    raise DivergenceError("the cost became NaN")


def _crashes(config, run_dir):
    raise OSError("disk on fire")


def test_a_diverged_trial_is_recorded_as_failed_and_tried_again_later(tmp_path):
    result = sweep.run_trial(_diverges, "t", {}, str(tmp_path / "t"))
    assert result["status"] == "failed" and "DivergenceError" in result["error"]
    assert sweep.read_result(tmp_path / "t")["status"] == "failed"
    assert sweep.finished_result(tmp_path / "t") is None
    again = sweep.run_trial(digits_trial, "t", {"learning_rate": 0.5}, str(tmp_path / "t"))
    assert again["status"] == "finished" and again["reused"] is False


def test_any_other_error_leaves_the_trial_unfinished(tmp_path):
    with pytest.raises(OSError):
        sweep.run_trial(_crashes, "t", {}, str(tmp_path / "t"))
    assert sweep.read_result(tmp_path / "t") is None


# ---- results --------------------------------------------------------------------------------------
ROWS = [
    {"trial_id": "a", "status": "finished", "learning_rate": 0.01, "hidden": [30], "validation_accuracy": 0.9},
    {"trial_id": "b", "status": "finished", "learning_rate": 0.1, "hidden": [30], "validation_accuracy": 0.97},
    {"trial_id": "c", "status": "failed", "learning_rate": 1.0, "hidden": [30], "validation_accuracy": None,
     "error": "DivergenceError: NaN"},
    {"trial_id": "d", "status": "finished", "learning_rate": 0.1, "hidden": [100, 30], "validation_accuracy": 0.97},
]


def test_best_row_takes_the_first_of_equal_scores_and_skips_failures():
    assert sweep.best_row(ROWS, "validation_accuracy")["trial_id"] == "b"
    assert sweep.best_row(ROWS, "validation_accuracy", "min")["trial_id"] == "a"
    assert sweep.best_row(ROWS[2:3], "validation_accuracy") is None


def test_results_csv_has_a_row_per_trial_with_lists_as_json(tmp_path):
    import csv

    sweep.write_results(tmp_path / "r.csv", ROWS, ["learning_rate", "hidden"], "validation_accuracy")
    with open(tmp_path / "r.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0])[:5] == ["trial_id", "status", "learning_rate", "hidden", "validation_accuracy"]
    assert [r["hidden"] for r in rows] == ["[30]", "[30]", "[30]", "[100, 30]"]
    assert rows[2]["validation_accuracy"] == "" and rows[2]["error"] == "DivergenceError: NaN"


def test_plot_draws_a_png_with_numeric_and_list_valued_options(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.png"
    sweep.plot_results(path, ROWS, ["learning_rate", "hidden"], "validation_accuracy", "max", ROWS[1])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("spec, count", [
    ({"method": "random", "trials": 10 ** 9, "search": {"learning_rate": {"log_uniform": [1e-4, 1e-1]}}},
     "1,000,000,000"),
    ({"search": {"seed": list(range(2000)), "epochs": list(range(1, 2000))}}, "3,998,000"),
])
def test_a_sweep_of_millions_of_trials_is_refused_before_listing_them(spec, count):
    with pytest.raises(InputError, match=f"names {count} trials, more than the 10,000 one sweep runs"):
        sweep.check_spec(spec)
