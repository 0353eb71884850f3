"""`bprop predict` and `bprop evaluate` name the classes a model was trained on."""
import json

import numpy as np
import pytest

from cli_helpers import bprop as run_bprop

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    from sklearn.datasets import load_iris

    folder = tmp_path_factory.mktemp("iris")
    bunch = load_iris()
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    lines += [",".join(f"{v:g}" for v in row) + "," + bunch.target_names[k]
              for row, k in zip(bunch.data, bunch.target)]
    (folder / "iris.csv").write_text("\n".join(lines) + "\n")
    (folder / "rows.csv").write_text("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    return folder


@pytest.fixture(scope="module")
def iris_model(iris):
    run_bprop("train", "--dataset", f"csv:{iris / 'iris.csv'}", "--epochs", 60, "--no-plots", "--quiet",
              "--out", iris / "run", check=0)
    return iris / "run" / "model-best.npz"


def test_predict_prints_class_names(iris, iris_model):
    result = run_bprop("predict", iris_model, iris / "rows.csv", check=0)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{iris / 'rows.csv'} line 1: setosa  (setosa ")
    assert lines[1].split(": ")[1].split()[0] == "virginica"


def test_predict_json_gives_each_class_as_index_and_name(iris, iris_model):
    items = json.loads(run_bprop("predict", iris_model, iris / "rows.csv", "--json", check=0).stdout)
    assert (items[0]["prediction"], items[0]["class_name"]) == (0, "setosa")
    assert (items[1]["prediction"], items[1]["class_name"]) == (2, "virginica")
    top = items[0]["top"]
    assert [t["index"] for t in top] and top[0] == {"index": 0, "class_name": "setosa",
                                                    "probability": pytest.approx(top[0]["probability"])}
    assert sum(t["probability"] for t in top) == pytest.approx(1.0)


def test_evaluate_names_the_classes_and_refuses_a_data_set_with_other_classes(iris, iris_model, tmp_path):
    result = run_bprop("evaluate", iris_model, "--dataset", f"csv:{iris / 'iris.csv'}", check=0)
    assert "virginica" in result.stdout
    other = tmp_path / "other.csv"
    other.write_text("a,b,c,d,label\n" + "\n".join(f"{i},{i},{i},{i},{'xyz'[i % 3]}" for i in range(30)) + "\n")
    result = run_bprop("evaluate", iris_model, "--dataset", f"csv:{other}")
    assert result.returncode == 1 and "setosa" in result.stderr and "Traceback" not in result.stderr


def test_independent_sigmoid_outputs_are_not_shown_as_probabilities(iris, tmp_path):
    run_bprop("train", "--dataset", f"csv:{iris / 'iris.csv'}", "--cost", "quadratic", "--epochs", 5,
              "--no-plots", "--quiet", "--out", tmp_path / "run", check=0)
    model = tmp_path / "run" / "model-last.npz"
    text = run_bprop("predict", model, iris / "rows.csv", check=0).stdout
    assert "independent sigmoid outputs, not probabilities" in text and "%" not in text
    item = json.loads(run_bprop("predict", model, iris / "rows.csv", "--json", check=0).stdout)[0]
    assert "top" not in item and {"index", "class_name", "output"} == set(item["outputs"][0])


def test_output_into_a_pipe_that_closes_early_prints_no_error(iris, iris_model, tmp_path):
    import subprocess
    import sys

    (tmp_path / "many.csv").write_text("5.1,3.5,1.4,0.2\n" * 5000)  # output well past a pipe's buffer
    command = [sys.executable, "-m", "bprop", "predict", str(iris_model), str(tmp_path / "many.csv")]
    producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = producer.stdout.readline()
    producer.stdout.close()                      # what `| head -1` does
    stderr = producer.stderr.read().decode()
    assert producer.wait(timeout=120) == 0 and first.startswith(str(tmp_path).encode()) and stderr == ""


def test_gradcheck_numbers_layers_from_1_as_the_trace_does():
    lines = run_bprop("gradcheck", "--sizes", "3,4,2", check=0).stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("layer"))
    assert [line.split()[0] for line in lines[header + 1:header + 3]] == ["1", "2"]
