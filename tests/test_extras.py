"""Without an optional library, a command fails before its work with one line naming the extra.

Each test runs ``python -m bprop ...`` as a user would, with the library hidden by a
``sitecustomize`` module on PYTHONPATH that makes importing it fail as if it were not
installed (``importlib.util.find_spec`` fails the same way).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bprop import extras, runs
from bprop.errors import MissingDependency

HIDER = '''
import sys


class _Hide:
    """Act as if these top-level packages were not installed."""

    hidden = {hidden!r}

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.hidden:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _Hide())
'''


def bprop_without(hidden, *args, tmp_path, cwd=None):
    """Run ``python -m bprop ARGS`` with the top-level modules ``hidden`` made uninstallable."""
    site = tmp_path / "hide-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(HIDER.format(hidden=set(hidden)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", "bprop", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd or tmp_path, timeout=300)


def _one_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_the_hider_hides_what_it_names_and_nothing_else(tmp_path):
    site = tmp_path / "hide-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HIDER.format(hidden={"matplotlib"}))
    code = ("import importlib.util as u, numpy\n"
            "try:\n    import matplotlib\nexcept ModuleNotFoundError:\n    print('hidden')\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "hidden", out.stderr


def test_train_without_matplotlib_stops_before_training_naming_the_extra_and_the_flag(tmp_path):
    result = bprop_without({"matplotlib"}, "train", "--epochs", "1", "--out", tmp_path / "run",
                           tmp_path=tmp_path)
    assert result.returncode == 1
    line = _one_line(result)
    assert 'pip install "bprop[cli]"' in line and "--no-plots" in line and "matplotlib" in line
    assert not (tmp_path / "run").exists()  # nothing trained, no folder claimed


def test_train_without_matplotlib_trains_with_no_plots(tmp_path):
    result = bprop_without({"matplotlib"}, "train", "--epochs", "1", "--no-plots", "--quiet",
                           "--out", tmp_path / "run", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "model-last.npz").exists()
    assert not list((tmp_path / "run").glob("*.png"))


def test_resume_without_matplotlib_stops_before_training(tmp_path):
    first = bprop_without(set(), "train", "--epochs", "1", "--no-plots", "--quiet", "--out",
                          tmp_path / "run", tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "run" / "checkpoint.npz").read_bytes()
    result = bprop_without({"matplotlib"}, "train", "--resume", tmp_path / "run", tmp_path=tmp_path)
    assert result.returncode == 1 and "--no-plots" in _one_line(result)
    assert (tmp_path / "run" / "checkpoint.npz").read_bytes() == before


def test_train_on_digits_without_scikit_learn_names_the_extra_and_other_data_sets(tmp_path):
    result = bprop_without({"sklearn"}, "train", "--epochs", "1", "--no-plots", "--out",
                           tmp_path / "run", tmp_path=tmp_path)
    assert result.returncode == 1
    line = _one_line(result)
    assert "scikit-learn" in line and 'pip install "bprop[cli]"' in line and "--dataset" in line
    assert not (tmp_path / "run").exists()


def test_trace_picture_without_matplotlib_fails_before_printing_the_trace(tmp_path):
    result = bprop_without({"matplotlib"}, "trace", "--example", "relu-softmax", "--picture",
                           tmp_path / "net.png", tmp_path=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    line = _one_line(result)
    assert 'pip install "bprop[cli]"' in line and "--picture" in line
    assert not (tmp_path / "net.png").exists()
    plain = bprop_without({"matplotlib"}, "trace", "--example", "relu-softmax", tmp_path=tmp_path)
    assert plain.returncode == 0 and "BP1" in plain.stdout


def test_predict_an_image_without_pillow_says_so_in_one_line(tmp_path):
    from bprop import Network

    Network([4, 3, 2], seed=0).save(tmp_path / "model.npz")
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    np.save(tmp_path / "rows.npy", np.zeros((2, 4)))
    result = bprop_without({"PIL"}, "predict", tmp_path / "model.npz", tmp_path / "x.png", tmp_path=tmp_path)
    assert result.returncode == 1
    line = _one_line(result)
    assert "pillow" in line and 'pip install "bprop[cli]"' in line and ".npy" in line
    rows = bprop_without({"PIL"}, "predict", tmp_path / "model.npz", tmp_path / "rows.npy", tmp_path=tmp_path)
    assert rows.returncode == 0, rows.stderr


def test_sweep_without_dask_fails_before_writing_anything(tmp_path):
    result = bprop_without({"distributed", "dask"}, "sweep", "--set", "learning_rate=0.1,0.5",
                           "--set", "epochs=1", "--out", tmp_path / "sweep", tmp_path=tmp_path)
    assert result.returncode == 1
    line = _one_line(result)
    assert "dask" in line and 'pip install "bprop[sweep]"' in line
    assert not (tmp_path / "sweep").exists()


def test_yaml_sweep_spec_without_pyyaml_suggests_json(tmp_path):
    (tmp_path / "spec.yaml").write_text("search: {learning_rate: [0.1, 0.5]}\n")
    result = bprop_without({"yaml"}, "sweep", tmp_path / "spec.yaml", "--out", tmp_path / "sweep",
                           tmp_path=tmp_path)
    assert result.returncode == 1
    line = _one_line(result)
    assert "pyyaml" in line and 'pip install "bprop[sweep]"' in line and ".json" in line


def test_a_progress_bar_without_tqdm_is_refused_up_front(monkeypatch):
    # A bar is drawn only on a terminal, which a subprocess test does not have; the check
    # itself is the same function train_run calls before training.
    monkeypatch.setattr(extras, "FEATURES", {**extras.FEATURES,
                                             "a progress bar": ("no_such_module_xyz", "tqdm", "cli", "pass --quiet")})
    config = runs.resolve_config({"dataset": "mnist"})
    with pytest.raises(MissingDependency, match=r'tqdm.*pip install "bprop\[cli\]".*--quiet'):
        runs.require_extras(config, progress=True, plots=False)
    runs.require_extras(config, progress=False, plots=False)  # no bar, no tqdm needed


def test_every_message_names_an_extra_of_the_package():
    import tomllib
    from pathlib import Path

    extras_declared = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]
    for feature, (module, distribution, extra, _) in extras.FEATURES.items():
        assert any(req.startswith(distribution) for req in extras_declared[extra]), feature
        assert f'pip install "bprop[{extra}]"' in extras.message(feature)
        assert len(extras.message(feature).splitlines()) == 1
