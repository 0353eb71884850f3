"""A trace written out: JSON round-trips every bit; text, Markdown and LaTeX carry the labelled
equations and the numbers; the picture is drawn; trace files and built-in examples load."""
import json
import shutil
import subprocess

import numpy as np
import pytest

import bprop
from bprop.tracing import sources
from bprop.tracing import Trace, trace
from bprop.tracing.render import unicode_math


def traced(name):
    problem = sources.example(name)
    return trace(problem.network, problem.x, problem.y, problem.learning_rate)


@pytest.fixture(scope="module")
def sigmoid_trace():
    return traced("sigmoid-2321")


@pytest.fixture(scope="module")
def softmax_trace():
    return traced("relu-softmax")


@pytest.fixture(scope="module")
def batch_trace():
    return traced("sigmoid-2321-batch")


# ---- JSON --------------------------------------------------------------------------------------
def _arrays_of(t):
    yield t.x
    yield t.y
    yield t.costs
    yield t.delta_general
    for layer in t.layers:
        for name in ("w", "b", "z", "a", "upstream", "delta", "nabla_b", "nabla_w", "fd_b", "fd_w", "w_new", "b_new"):
            yield getattr(layer, name)
        for name in ("sigma_prime", "jacobian"):
            if getattr(layer, name) is not None:
                yield getattr(layer, name)


def test_json_round_trips_every_number_bit_for_bit():
    net = bprop.Network([3, 4, 3], ["tanh", "softmax"], "cross_entropy", seed=7)  # numbers with 17 digits
    t = trace(net, np.random.default_rng(1).standard_normal((2, 3)), [2, 0], 0.37)
    text = t.render("json")
    back = Trace.from_json(text)
    for original, restored in zip(_arrays_of(t), _arrays_of(back)):
        assert original.shape == restored.shape
        assert original.tobytes() == restored.tobytes()
    for name in ("cost_value", "cost_after", "learning_rate", "epsilon"):
        assert getattr(back, name) == getattr(t, name)
    for paths, restored in zip(t.paths.paths, back.paths.paths):
        assert [p.product for p in paths] == [p.product for p in restored]
        assert [f["value"] for p in paths for f in p.factors] == [f["value"] for p in restored for f in p.factors]
    assert back.paths.total == t.paths.total and back.paths.weight == t.paths.weight
    assert back.render("json") == text


def test_json_ignores_precision_and_holds_plain_numbers(sigmoid_trace):
    data = json.loads(sigmoid_trace.render("json", precision=1))
    assert data["format"] == "bprop.trace"
    assert data["layers"][0]["w"] == [[0.1, -0.2], [0.4, 0.3], [-0.5, 0.6]]
    assert data["layers"][2]["z"][0][0] == float(sigmoid_trace.layers[2].z[0, 0])
    assert data["forward_passes"]["finite_differences"] == 40


def test_from_json_refuses_something_else_and_an_incomplete_trace(sigmoid_trace):
    with pytest.raises(bprop.InputError, match="not a bprop trace"):
        Trace.from_json('{"sizes": [2, 1]}')
    data = sigmoid_trace.to_dict()
    del data["layers"][1]["delta"]
    with pytest.raises(bprop.InputError, match="not a complete bprop trace"):
        Trace.from_dict(data)


# ---- text, Markdown, LaTeX --------------------------------------------------------------------
EQUATIONS_TEXT = ["z^l = w^l a^(l-1) + b^l", "a^l = σ(z^l)", "C = ½‖y - a^L‖^2", "∇_a C = a^L - y",
                  "BP1", "δ^L = ∇_a C ⊙ σ'(z^L)", "BP2", "δ^l = ((w^(l+1))^T δ^(l+1)) ⊙ σ'(z^l)",
                  "BP3:  ∂C/∂b^l_j = δ^l_j", "BP4:  ∂C/∂w^l_jk = a^(l-1)_k δ^l_j", "p → p - η ∂C/∂p",
                  "finite difference", "Sum over paths for w^1_00"]


def test_text_labels_every_equation(sigmoid_trace):
    text = sigmoid_trace.render("text")
    for equation in EQUATIONS_TEXT:
        assert equation in text, equation


def test_text_spells_out_each_sum_for_a_hand_check(sigmoid_trace):
    lines = sigmoid_trace.render("text").splitlines()
    row = next(line for line in lines if "0.1000·0.5000 + (-0.2000)·1.0000 + 0.1000" in line)
    assert row.split()[-2:] == ["-0.0500", "0.4875"]          # z^1_0 and a^1_0 = σ(-0.05)
    assert any("C = ½((0.5305 - 1.0000)^2) = 0.1102" in line for line in lines)
    assert any(line.split()[:3] == ["w^3_00", "0.8000", "0.5716·(-0.1169)"] for line in lines)  # BP4 in numbers
    assert any("sum over the 2 paths = -0.0028" in line for line in lines)
    assert any("2 forward per parameter = 40 forward" in line for line in lines)


def test_text_tables_keep_every_cell_inside_its_column(sigmoid_trace, softmax_trace):
    for t in (sigmoid_trace, softmax_trace):
        lines = t.render("text").splitlines()
        rules = [n for n, line in enumerate(lines) if line.strip() and set(line.strip()) <= {"-", " "}
                 and line.startswith("  -")]
        assert len(rules) >= 8
        for n in rules:
            rule = lines[n]
            gaps = [i for i, char in enumerate(rule) if char == " "]
            for row in [lines[n - 1]] + lines[n + 1:lines.index("", n)]:
                assert all(i >= len(row) or row[i] == " " for i in gaps), row


def test_precision_sets_the_decimals_shown(sigmoid_trace):
    assert "0.4875" not in sigmoid_trace.render("text", precision=2)
    assert "0.49" in sigmoid_trace.render("text", precision=2)
    assert "0.48750260" in sigmoid_trace.render("text", precision=8)
    with pytest.raises(bprop.InputError, match="precision"):
        sigmoid_trace.render("text", precision=-1)
    with pytest.raises(bprop.InputError, match="format"):
        sigmoid_trace.render("html")


def test_softmax_text_shows_the_jacobian_and_the_fused_delta(softmax_trace):
    text = softmax_trace.render("text")
    assert "δ^L = (∂a^L/∂z^L)^T ∇_a C" in text
    assert "Jacobian ∂a^2_j/∂z^2_k" in text
    assert "a_j([j = k] - a_k)" in text
    assert "δ^2 = a^2 - y" in text
    assert "w^1_00 → a^1_0 → z^2_1 → a^2_1 → C" in text       # a path through the softmax Jacobian
    assert "∂a^2_1/∂z^2_1" in text


def test_minibatch_text_shows_each_example_and_the_mean(batch_trace):
    text = batch_trace.render("text")
    assert "a mini-batch of 2" in text
    assert "BP3:  ∂C/∂b^l_j = (1/m) Σ_x δ^l_x,j" in text
    assert "C = (1/m) Σ_x C_x = (0.1102 + 0.1429)/2 = 0.1266" in text
    assert "(0.5716·(-0.1169) + 0.5878·0.1330)/2" in text
    assert "example 1: sum over its 2 paths" in text


def test_markdown_has_headings_tables_and_the_equations(sigmoid_trace, softmax_trace):
    for t in (sigmoid_trace, softmax_trace):
        md = t.render("markdown")
        assert md.startswith("# Backpropagation, one step, every number")
        for label in ("## BP1", "## BP2", "## BP3 and BP4", "## Sum over paths"):
            assert label in md
        assert "|---:|" in md
    md = sigmoid_trace.render("markdown")
    assert "`δ^L = ∇_a C ⊙ σ'(z^L)`" in md
    assert "`z^l = w^l a^(l-1) + b^l`" in md


def test_latex_is_a_document_with_the_equations_and_balanced_braces(sigmoid_trace, batch_trace):
    for t in (sigmoid_trace, batch_trace):
        tex = t.render("latex")
        assert tex.startswith("\\documentclass") and tex.rstrip().endswith("\\end{document}")
        assert r"\delta^{L} = \nabla_{a} C \odot \sigma'(z^{L})" in tex
        assert r"\text{BP4:} \quad \partial C/\partial w^{l}_{jk}" in tex
        assert tex.count("{") == tex.count("}")
        assert tex.count("$") % 2 == 0
        assert "·" not in tex and "σ" not in tex     # math stays LaTeX


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles(tmp_path, softmax_trace):
    (tmp_path / "trace.tex").write_text(softmax_trace.render("latex"), encoding="utf-8")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "trace.tex"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]


def test_unicode_math_turns_the_latex_subset_into_text():
    assert unicode_math(r"w^{2}_{10} \cdot \sigma'(z^{1}_{0})") == "w^2_10·σ'(z^1_0)"
    assert unicode_math(r"a^{l-1}_{k}") == "a^(l-1)_k"
    assert unicode_math(r"e^{z^{2}_{0}}") == "e^(z^2_0)"
    assert unicode_math(r"\partial C/\partial w") == "∂C/∂w"


# ---- the picture -------------------------------------------------------------------------------
def test_picture_is_written_as_png_and_svg(tmp_path, sigmoid_trace, batch_trace):
    pytest.importorskip("matplotlib")
    sigmoid_trace.save_picture(tmp_path / "net.png")
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    batch_trace.save_picture(tmp_path / "net.svg", example=1)
    svg = (tmp_path / "net.svg").read_text(encoding="utf-8")
    assert "<svg" in svg


def test_picture_refuses_wide_layers_and_unknown_suffixes(tmp_path, sigmoid_trace):
    wide = trace(bprop.Network([2, 9, 1], seed=0), [0.1, 0.2], [1.0], 0.5)
    with pytest.raises(bprop.InputError, match="at most 6 neurons"):
        wide.save_picture(tmp_path / "wide.png")
    with pytest.raises(bprop.InputError, match=r"\.png or \.svg"):
        sigmoid_trace.save_picture(tmp_path / "net.jpg")
    with pytest.raises(bprop.InputError, match="example"):
        sigmoid_trace.save_picture(tmp_path / "net.png", example=1)
    assert not list(tmp_path.iterdir())


# ---- trace files, examples and seeded networks -------------------------------------------------
def test_built_in_examples_are_listed_and_load():
    assert {"sigmoid-2321", "relu-softmax"} <= set(sources.example_names())
    problem = sources.example("sigmoid-2321")
    assert problem.network.sizes == [2, 3, 2, 1]
    assert [s.name for s in problem.network.activations] == ["sigmoid"] * 3
    assert problem.network.cost.name == "quadratic" and problem.learning_rate == 0.5
    softmax = sources.example("relu-softmax")
    assert [s.name for s in softmax.network.activations] == ["relu", "softmax"]
    assert softmax.network.cost.name == "cross_entropy"


SPEC = {"sizes": [2, 2, 1], "activation": "tanh", "cost": "quadratic",
        "weights": [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6]]], "biases": [[0.0, 0.1], [0.2]],
        "input": [1.0, 2.0], "target": [0.5], "eta": 0.1}


def test_a_trace_file_is_read(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(SPEC))
    problem = sources.read_spec(path)
    np.testing.assert_array_equal(problem.network.weights[1], [[0.5, 0.6]])
    assert problem.learning_rate == 0.1
    t = trace(problem.network, problem.x, problem.y, problem.learning_rate)
    assert t.layers[0].activation == "tanh"


@pytest.mark.parametrize("change, message", [
    ({"weights": [[[0.1, 0.2]], [[0.5, 0.6]]]}, r"weights\[0\] \(layer 1\) must have shape \(2, 2\); got \(1, 2\)"),
    ({"weights": [[[0.1, 0.2], [0.3]], [[0.5, 0.6]]]}, r"regular \(not ragged\)"),
    ({"biases": [[0.0, 0.1]]}, r"biases must be a list of 2 arrays"),
    ({"bias": []}, r"unknown key 'bias'"),
    ({"eta": -1}, r"eta, the learning rate, must be a number > 0"),
    ({"activation": "swish"}, r"unknown activation 'swish'"),
    ({"weights": [[[0.1, "x"], [0.3, 0.4]], [[0.5, 0.6]]]}, r"must be numbers"),
])
def test_a_bad_trace_file_is_refused_with_a_message(change, message):
    spec = {**SPEC, **change}
    with pytest.raises(bprop.InputError, match=message):
        sources.from_spec(spec, "net.json")


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "net.json"
    path.write_text('{"sizes": [2, 1],')
    with pytest.raises(bprop.InputError, match=r"not valid JSON"):
        sources.read_spec(path)
    path.write_text("[1, 2]")
    with pytest.raises(bprop.InputError, match="JSON object"):
        sources.read_spec(path)


def test_seeded_network_is_reproducible_and_rounded_for_hand_work():
    first = sources.seeded([3, 4, 2], "relu", cost="cross_entropy", seed=5, batch=2)
    again = sources.seeded([3, 4, 2], "relu", cost="cross_entropy", seed=5, batch=2)
    for w, w2 in zip(first.network.weights, again.network.weights):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(w, np.round(w, 2))
    np.testing.assert_array_equal(first.x, again.x)
    assert first.x.shape == (2, 3) and first.network.activations[-1].name == "softmax"
    assert sources.seeded([2, 3, 1], seed=0).x.shape == (2,)
