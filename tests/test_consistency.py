"""Messages that name the real problem, and inputs accepted or refused the same way everywhere."""
import numpy as np
import pytest

from bprop import Network
from bprop.errors import InputError
from cli_helpers import bprop as run_bprop


def test_labels_of_one_class_are_named_as_such(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i * 2},7\n" for i in range(20)))
    result = run_bprop("train", "--dataset", f"csv:{path}", "--out", tmp_path / "run", "--quiet")
    assert result.returncode == 1 and "summing" not in result.stderr
    assert "only one class in the labels ('7'); a classifier needs examples of at least two" in result.stderr


def test_a_softmax_over_one_output_unit_is_refused():
    with pytest.raises(InputError, match="softmax over a single output unit is always 1"):
        Network([3, 4, 1], ["relu", "softmax"], "cross_entropy")


@pytest.mark.parametrize("text", ["100,,100", "100,", ",100"])
def test_an_empty_layer_size_is_a_usage_error(tmp_path, text):
    result = run_bprop("train", "--hidden", text, "--out", tmp_path / "run")
    assert result.returncode == 2 and "expected comma-separated integers" in result.stderr


def test_saving_a_network_into_a_directory_path_is_refused(tmp_path):
    with pytest.raises(InputError, match="is a directory; save to a file in it, like"):
        Network([2, 2]).save(tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_fit_accepts_labels_as_a_column_like_the_loaders_and_estimators():
    rng = np.random.default_rng(0)
    X, y = rng.random((60, 3)), rng.integers(0, 3, 60)
    flat = Network([3, 4, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    column = Network([3, 4, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    flat.fit(X, y, epochs=2)
    column.fit(X, y[:, None], epochs=2)
    for a, b in zip(flat.weights + flat.biases, column.weights + column.biases):
        np.testing.assert_array_equal(a, b)
    assert column.evaluate(X, y[:, None])["accuracy"] == flat.evaluate(X, y)["accuracy"]


def test_a_file_given_as_the_run_to_resume_is_named_as_a_file(tmp_path):
    (tmp_path / "model.npz").write_bytes(b"")
    result = run_bprop("train", "--resume", tmp_path / "model.npz")
    assert result.returncode == 1 and "is a file, not a run folder" in result.stderr


@pytest.mark.parametrize("command", ["sweep", "trace", "evaluate", "predict"])
def test_a_directory_where_a_file_is_expected_is_named_as_a_directory(tmp_path, command):
    model = tmp_path / "m.npz"
    Network([4, 3, 2], ["relu", "softmax"], "cross_entropy").save(model)
    folder = tmp_path / "folder"
    folder.mkdir()
    args = {"sweep": ["sweep", folder, "--out", tmp_path / "out"], "trace": ["trace", folder],
            "evaluate": ["evaluate", folder], "predict": ["predict", model, folder]}[command]
    result = run_bprop(*args)
    assert result.returncode == 1 and f"{folder} is a directory" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1


def test_a_network_too_large_to_trace_is_refused_before_hours_of_finite_differences(tmp_path):
    result = run_bprop("trace", "--sizes", "3000,3000,3000", timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the network has 18,006,000 weights and biases" in result.stderr and "at most 200,000" in result.stderr
