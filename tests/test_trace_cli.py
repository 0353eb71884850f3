"""`bprop trace` as a user runs it: a subprocess of this Python."""
import json

import pytest

from bprop.tracing import Trace
from cli_helpers import bprop as run_bprop


def one_line_error(result):
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bprop trace: error: "), result.stderr
    return lines[0]


def test_trace_of_the_built_in_sigmoid_example_prints_every_equation():
    result = run_bprop("trace", "--example", "sigmoid-2321", check=0)
    for label in ("Forward pass", "BP1", "BP2", "BP3 and BP4", "finite difference", "Sum over paths for w^1_00",
                  "1 forward + 1 backward"):
        assert label in result.stdout
    assert result.stderr == ""


def test_trace_of_the_softmax_example_as_json_loads_back(tmp_path):
    result = run_bprop("trace", "--example", "relu-softmax", "--format", "json", "--weight", "2,1,0", check=0)
    t = Trace.from_json(result.stdout)
    assert t.sizes == [2, 3, 3] and t.paths.weight == (2, 1, 0)
    assert t.paths.total == pytest.approx(t.paths.bp4, rel=1e-12)


def test_trace_from_a_file_with_a_picture(tmp_path):
    spec = {"sizes": [2, 2, 1], "activations": ["tanh", "sigmoid"], "cost": "cross_entropy",
            "weights": [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6]]], "biases": [[0.0, 0.1], [0.2]],
            "input": [[1.0, 2.0], [0.5, -0.5]], "target": [1, 0], "eta": 0.1}
    (tmp_path / "net.json").write_text(json.dumps(spec))
    result = run_bprop("trace", tmp_path / "net.json", "--format", "markdown", "--precision", "3",
                       "--picture", tmp_path / "net.png", check=0)
    assert "## BP1" in result.stdout and "a mini-batch of 2" in result.stdout
    assert (tmp_path / "net.png").read_bytes()[:4] == b"\x89PNG"


def test_trace_of_a_seeded_network_in_latex():
    result = run_bprop("trace", "--sizes", "3,2,2", "--activation", "relu", "--cost", "cross_entropy",
                       "--seed", "3", "--batch", "2", "--format", "latex", check=0)
    assert result.stdout.startswith("\\documentclass") and "softmax" in result.stdout


def test_a_file_that_is_not_json_fails_with_one_line(tmp_path):
    (tmp_path / "bad.json").write_text('{"sizes": [2, 1], "weights": ')
    line = one_line_error(run_bprop("trace", tmp_path / "bad.json"))
    assert "is not valid JSON" in line


def test_weights_of_the_wrong_shape_fail_with_one_line(tmp_path):
    spec = {"sizes": [2, 2, 1], "weights": [[[0.1, 0.2, 0.3], [0.3, 0.4, 0.5]], [[0.5, 0.6]]],
            "biases": [[0.0, 0.1], [0.2]], "input": [1.0, 2.0], "target": [0.5]}
    (tmp_path / "shape.json").write_text(json.dumps(spec))
    line = one_line_error(run_bprop("trace", tmp_path / "shape.json"))
    assert "must have shape (2, 2); got (2, 3)" in line


def test_an_input_of_the_wrong_length_and_a_missing_file_fail_with_one_line(tmp_path):
    spec = {"sizes": [2, 1], "weights": [[[0.1, 0.2]]], "biases": [[0.0]], "input": [1.0, 2.0, 3.0], "target": [1.0]}
    (tmp_path / "input.json").write_text(json.dumps(spec))
    assert "x has 3 values" in one_line_error(run_bprop("trace", tmp_path / "input.json"))
    one_line_error(run_bprop("trace", tmp_path / "missing.json"))


def test_network_flags_without_sizes_are_refused():
    line = one_line_error(run_bprop("trace", "--example", "relu-softmax", "--cost", "quadratic"))
    assert "--cost" in line and "--sizes" in line
