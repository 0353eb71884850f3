"""The compiled kernels as a user meets them: the command's option, the environment
variable, the run folder's record, and numba's cache in a read-only install."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import bprop

pytest.importorskip("numba")

PACKAGE = Path(__file__).resolve().parents[1] / "bprop"

# Trains one tiny network on both paths and prints whether numba's cache was usable and
# the largest relative difference. Dropout keeps it on the per-mini-batch step, which
# needs fewer kernels compiled than the whole loop.
SCRIPT = """
import json, numpy as np, bprop
from bprop.kernels import compiler
rng = np.random.default_rng(0)
X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
nets = {}
for which in ("numpy", "numba"):
    net = bprop.Network([4, 5, 3], ["relu", "softmax"], "cross_entropy", seed=1)
    net.fit(X, y, epochs=1, batch_size=8, momentum=0.9, dropout=0.2, kernels=which)
    nets[which] = net
error = max(float(np.abs(a - b).max() / np.abs(b).max())
            for a, b in zip(nets["numba"].weights, nets["numpy"].weights))
print(json.dumps({"cache_used": compiler.CACHE_USED, "error": error}))
"""


def _installed_copy(tmp_path):
    """The package copied to a folder where its own __pycache__ cannot be created (a file
    stands in its place: that stops root too, who ignores permission bits)."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "bprop", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [site / "bprop", *[p for p in (site / "bprop").rglob("*") if p.is_dir()]]:
        (folder / "__pycache__").write_text("not a folder\n")
    for path in (site / "bprop").rglob("*"):
        path.chmod(0o444 if path.is_file() else 0o555)
    (site / "bprop").chmod(0o555)
    return site


def _run(site, cache_home, extra_env=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "PYTHON"))}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(cache_home), PYTHONDONTWRITEBYTECODE="1",
               **dict(extra_env))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=600, cwd=site)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout + done.stderr  # numba's debug lines


def test_read_only_install_without_any_writable_cache_folder_still_trains(tmp_path):
    site = _installed_copy(tmp_path)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result, _ = _run(site, blocked / "cache")  # numba's user-wide cache would live under a file
    assert result["cache_used"] is False
    assert result["error"] <= 1e-12


def test_read_only_install_caches_in_the_users_cache_folder_and_reuses_it(tmp_path):
    site = _installed_copy(tmp_path)
    cache_home = tmp_path / "cache"
    first, first_log = _run(site, cache_home, {"NUMBA_DEBUG_CACHE": "1"})
    second, second_log = _run(site, cache_home, {"NUMBA_DEBUG_CACHE": "1"})
    assert first["cache_used"] and second["cache_used"]
    assert "data saved" in first_log
    assert "data loaded" in second_log and "data saved" not in second_log  # nothing compiled again
    assert list((cache_home / "numba").rglob("*.nbi"))
    assert first["error"] <= 1e-12 and second["error"] == first["error"]


def test_train_records_the_kernels_that_ran_in_config_and_summary(tmp_path):
    bprop("train", "--epochs", "1", "--kernels", "numba", "--no-plots", "--quiet",
          "--out", tmp_path / "run", check=0)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert config["kernels"] == summary["kernels"] == "numba"


def test_auto_records_the_path_it_chose_and_a_rerun_of_the_config_takes_it(tmp_path):
    bprop("train", "--epochs", "1", "--no-plots", "--quiet", "--out", tmp_path / "run", check=0)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["kernels"] == "numpy"  # digits for one epoch: not worth compiling


def test_the_environment_variable_selects_the_kernels_of_a_run(tmp_path):
    env = dict(os.environ, BPROP_KERNELS="numba")
    done = subprocess.run([sys.executable, "-m", "bprop", "train", "--epochs", "1", "--no-plots",
                           "--quiet", "--out", str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["kernels"] == "numba"


def test_a_bad_environment_variable_stops_the_command_with_one_line(tmp_path):
    env = dict(os.environ, BPROP_KERNELS="fast")
    done = subprocess.run([sys.executable, "-m", "bprop", "train", "--epochs", "1", "--no-plots",
                           "--quiet", "--out", str(tmp_path / "run")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "BPROP_KERNELS='fast' is not one of auto, numpy, numba" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_change_to_any_kernel_module_recompiles_every_kernel(tmp_path):
    """numba checks a cached kernel only against its own file; a kernel calls kernels of
    other modules, so a change anywhere in bprop/kernels must drop the whole cache."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "bprop", ignore=shutil.ignore_patterns("__pycache__"))
    cache_home = tmp_path / "cache"
    first, first_log = _run(site, cache_home, {"NUMBA_DEBUG_CACHE": "1"})
    unchanged, unchanged_log = _run(site, cache_home, {"NUMBA_DEBUG_CACHE": "1"})
    assert "data saved" in first_log and "data saved" not in unchanged_log
    codes = site / "bprop" / "kernels" / "codes.py"            # holds no kernel of its own
    codes.write_text(codes.read_text() + "\n# a changed line\n")
    changed, changed_log = _run(site, cache_home, {"NUMBA_DEBUG_CACHE": "1"})
    assert "data saved" in changed_log                          # compiled again, not loaded
    assert changed["error"] == first["error"] <= 1e-12
