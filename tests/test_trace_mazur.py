"""The built-in mazur-222 example reproduces Matt Mazur's published step-by-step numbers.

Mazur, "A Step by Step Backpropagation Example" (2015): a 2-2-2 sigmoid network, quadratic
cost E = Σ ½ (target - out)², η = 0.5. His values are written down here, not computed.
"""
import json

import pytest

from cli_helpers import bprop as run_bprop


@pytest.fixture(scope="module")
def step():
    return json.loads(run_bprop("trace", "--example", "mazur-222", "--format", "json", check=0).stdout)


def test_forward_pass_and_error_match_mazur(step):
    hidden, output = step["layers"]
    assert hidden["z"][0][0] == pytest.approx(0.3775, abs=1e-12)            # net_h1
    assert hidden["a"][0][0] == pytest.approx(0.593269992, abs=1e-9)        # out_h1
    assert hidden["a"][0][1] == pytest.approx(0.596884378, abs=1e-9)        # out_h2
    assert output["a"][0] == pytest.approx([0.75136507, 0.772928465], abs=1e-8)
    assert step["cost_value"] == pytest.approx(0.298371109, abs=1e-9)       # E_total


def test_updated_weights_match_mazur(step):
    hidden, output = step["layers"]
    assert output["nabla_w"][0][0] == pytest.approx(0.082167041, abs=1e-9)  # ∂E/∂w5
    assert sum(output["w_new"], []) == pytest.approx([0.35891648, 0.408666186, 0.511301270, 0.561370121], abs=1e-8)
    assert hidden["nabla_w"][0][0] == pytest.approx(0.000438568, abs=1e-9)  # ∂E/∂w1
    assert sum(hidden["w_new"], []) == pytest.approx([0.149780716, 0.19956143, 0.24975114, 0.29950229], abs=1e-8)
    assert step["cost_after"] < step["cost_value"]
