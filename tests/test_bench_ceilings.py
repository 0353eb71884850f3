"""benchmarks/ceilings.py: its parts do the work they stand for, and its report adds up
(no timing thresholds)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

from benchmarks import ceilings  # noqa: E402
from benchmarks.data import load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_the_gathered_products_read_the_rows_of_the_shuffled_order():
    X, y = load("random", 300, 10)[:2]
    parts = ceilings.Parts("B", X, y)
    t, weights = parts.training, tuple(parts.net.weights)
    order = np.random.default_rng(3).permutation(len(X))
    parts.floor.products(X, order, 128, weights, t.X_batch, t.zs, t.deltas, t.nabla_w)
    last = order[256:]                          # the short last mini-batch: 44 rows
    m = len(last)
    np.testing.assert_allclose(t.zs[0][:m], X[last] @ weights[0].T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t.nabla_w[0], t.deltas[0][:m].T @ X[last], rtol=1e-4, atol=1e-5)
    # without an order (the bench's matmul_floor) the same loop reads the rows in place
    from benchmarks.implementations import NO_ORDER

    parts.floor.products(X, NO_ORDER, 128, weights, t.X_batch, t.zs, t.deltas, t.nabla_w)
    np.testing.assert_allclose(t.zs[0][:m], X[256:] @ weights[0].T, rtol=1e-5, atol=1e-5)


def test_the_element_wise_part_computes_the_activations_of_the_products_it_is_given():
    X, y = load("random", 300, 10)[:2]
    parts = ceilings.Parts("B", X, y)
    t = parts.training
    parts.timed()["element-wise"]()
    m = len(X) - 256                            # the last mini-batch's rows
    relu = np.maximum(parts.products_seen[0][:m], 0)
    np.testing.assert_array_equal(t.activations[0][:m], relu)


def test_the_report_adds_the_parts_and_divides_by_the_faster_floor():
    times = {"products": [2.0], "products+gather": [2.5], "update": [0.25], "element-wise": [0.75],
             "(its copies)": [0.25], "loop (whole)": [3.5], "fit": [3.75], "numpy floor": [2.5]}
    bench = {"fastest_floor": {"seconds_per_epoch": 0.5}, "fastest_jax": {"seconds_per_epoch": 1.5},
             "results": {"torch": {"seconds_per_epoch": 4.0}}}
    lines, figures = ceilings.report("A", times, bench)
    assert figures["floor"] == 2.0 and figures["sum_of_parts"] == 3.25
    assert "  sum of parts" in lines[-4] and lines[-4].split()[3:5] == ["3.250", "1.62x"]
    assert figures["best"] == {"jax": pytest.approx(3.0 / 1.625), "torch": pytest.approx(8.0 / 1.625)}
    assert lines[-2].endswith("= 1.85 (target at least 2.0)")


def test_the_command_prints_every_part_for_each_recipe():
    done = subprocess.run([sys.executable, "-m", "benchmarks.ceilings", "A", "B", "--data", "random",
                           "--n-train", "300", "--repeats", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for recipe, loop in (("A", "loop (whole)"), ("B", "loop")):
        block = done.stdout.split(f"recipe {recipe}:")[1].split("recipe ")[0]
        for part in ("products", "products+gather", "update", "element-wise", "(its copies)", loop, "fit",
                     "numpy floor", "sum of parts"):
            assert f"  {part}" in block, (recipe, part, block)
