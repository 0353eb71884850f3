"""Data is never lost without a word: CSV headers by a stated rule, rows numbered as the file does,
unscaled features warned about, labels that cannot be classes refused."""
import json

import numpy as np
import pytest

from bprop import Network
from bprop.data import load_dataset
from bprop.errors import DataError
from cli_helpers import bprop as run_bprop


def _iris_like(rows=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((rows, 3)).round(3)
    y = rng.integers(0, 3, rows)
    return [f"{a},{b},{c},{label}" for (a, b, c), label in zip(X, y)]


@pytest.mark.parametrize("first_row", ["5.1,x,1.4,0", "5.1,,1.4,0", "5.l,3.0,1.4,0"])
def test_a_typo_or_empty_cell_in_a_headerless_first_row_is_an_error_naming_line_1(tmp_path, first_row):
    path = tmp_path / "d.csv"
    path.write_text("\n".join([first_row, *_iris_like()]) + "\n")
    with pytest.raises(DataError, match="row 1, column index [012]: .* is not a number"):
        load_dataset(f"csv:{path}")


def test_a_first_row_of_names_is_the_header(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("\n".join(["a,b,c,label", *_iris_like()]) + "\n")
    data = load_dataset(f"csv:{path}")
    assert sum(len(split[1]) for split in (data.train, data.validation, data.test)) == 30


def test_labels_that_are_an_identifier_are_refused(tmp_path):
    path = tmp_path / "ids.csv"
    rng = np.random.default_rng(0)
    path.write_text("x1,x2,id\n" + "".join(f"{a:.3f},{b:.3f},{i}\n" for i, (a, b) in enumerate(rng.random((3000, 2)))))
    assert load_dataset(f"csv:{path}").n_classes == 3000  # loading is not training: allowed
    result = run_bprop("train", "--dataset", f"csv:{path}", "--out", tmp_path / "run", "--quiet")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the labels take 3,000 different values (0, 1, 2, ...) among 3,000 examples, 1.0 per class: " \
           "that looks like an identifier or a measurement, not a class; name the label column with " \
           "csv:PATH#COLUMN" in result.stderr
    assert not (tmp_path / "run" / "model-last.npz").exists()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.npz"
    Network([3, 5, 2], ["relu", "softmax"], "cross_entropy", seed=0).save(path)
    return path


def test_predict_reports_a_skipped_header_and_numbers_rows_as_the_file_does(tmp_path, model_file):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n0.1,0.2,0.3\n\n0.4,0.5,0.6\n")
    result = run_bprop("predict", model_file, path, check=0)
    assert f"{path}: line 1 read as a header and skipped: a,b,c" in result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [f"{path} line 2", f"{path} line 4"]
    rows = json.loads(run_bprop("predict", model_file, path, "--json", check=0).stdout)
    assert [row["line"] for row in rows] == [2, 4]


def test_predict_refuses_a_typo_in_the_first_row_instead_of_dropping_it(tmp_path, model_file):
    path = tmp_path / "x.csv"
    path.write_text("0.1,O.2,0.3\n0.4,0.5,0.6\n")
    result = run_bprop("predict", model_file, path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "line 1: cell 2 is 'O.2', not a number (a header line must hold only names)" in result.stderr


def test_features_large_enough_to_saturate_the_first_layer_are_warned_about():
    rng = np.random.default_rng(0)
    X, y = rng.random((200, 3)), rng.integers(0, 2, 200)
    network = Network([3, 4, 2], "sigmoid", "cross_entropy", seed=0)
    with pytest.warns(UserWarning, match=r"features are large \(up to 9.9\de\+299, in column 0\).*scale the features"):
        network.fit(np.column_stack([X[:, 0] * 1e300, X[:, 1:]]), y, epochs=1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # features in [0, 1]: no warning
        network.fit(X, y, epochs=1)


def test_the_unscaled_features_warning_names_the_caller_s_line_not_bprop_s():
    import warnings

    from bprop.sklearn import BPClassifier

    rng = np.random.default_rng(0)
    X, y = rng.random((200, 3)) * 1e6, rng.integers(0, 2, 200)
    calls = [lambda: Network([3, 4, 2], "sigmoid", "cross_entropy", seed=0).fit(X, y, epochs=1),
             lambda: BPClassifier(hidden=(4,), epochs=1).fit(X, y)]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        [warning] = [w for w in caught if "features are large" in str(w.message)]
        assert warning.filename == __file__, warning.filename


def test_the_command_s_one_line_warnings_end_with_the_command(tmp_path):
    """main() in a caller's process (one line while it runs: the test below) leaves the
    caller's own warnings in Python's form afterwards."""
    import warnings

    from bprop.cli import main

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=(rng.random((300, 4)) * 1e6).astype(np.float32), y=rng.integers(0, 2, 300))
    before = warnings.formatwarning
    with pytest.warns(UserWarning, match="features are large"):
        assert main(["train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--epochs", "1", "--no-plots",
                     "--quiet", "--out", str(tmp_path / "run")]) == 0
    assert warnings.formatwarning is before


def test_train_warns_about_unscaled_features_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=(rng.random((300, 4)) * 1e6).astype(np.float32), y=rng.integers(0, 2, 300))
    result = run_bprop("train", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--epochs", "1", "--no-plots",
                       "--quiet", "--out", tmp_path / "run", check=0)
    warning = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and warning[0].startswith("bprop train: warning: the features are large")
