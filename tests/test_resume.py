"""Killed, interrupted and diverging training runs: nothing is lost, and resuming is exact."""
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import bprop
from cli_helpers import bprop as run_bprop

RECIPE = ["--hidden", "256,256", "--batch-size", "4", "--epochs", "20", "--optimizer", "adam",
          "--lr", "0.001", "--momentum", "0", "--dropout", "0.1", "--checkpoint-every", "50",
          "--no-plots", "--quiet"]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.random((4000, 20)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) * 2).astype(int) % 4
    path = tmp_path_factory.mktemp("data") / "d.npz"
    np.savez(path, X=X, y=y)
    return path


@pytest.fixture(scope="module")
def uninterrupted(data_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference") / "run"
    run_bprop("train", "--dataset", f"npz:{data_file}", *RECIPE, "--out", folder, check=0)
    return bprop.load(folder / "model-last.npz")


def _assert_same_parameters(a, b):
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(x, y)


def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "bprop", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_run_killed_at_random_moments_resumes_to_identical_weights(seed, data_file, uninterrupted, tmp_path):
    chooser = random.Random(seed)
    folder = tmp_path / "run"
    process = _start("train", "--dataset", f"npz:{data_file}", *RECIPE, "--out", folder)
    kills, patience, last_checkpoint = 0, 1.0, None
    while True:
        try:
            process.wait(timeout=chooser.uniform(0.3, 1.5) * patience)
            break  # finished before the next kill
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
        # On a loaded machine a process may not get from its start to its next checkpoint (or,
        # at the end, through its summary) within 1.5 s: wait longer while nothing moves.
        checkpoint = folder / "checkpoint.npz"
        stamp = checkpoint.stat().st_mtime_ns if checkpoint.exists() else None
        patience = 1.0 if stamp != last_checkpoint else patience * 2
        last_checkpoint = stamp
        if not (folder / "config.json").exists():  # killed before the run folder was claimed
            process = _start("train", "--dataset", f"npz:{data_file}", *RECIPE, "--out", folder)
        else:
            process = _start("train", "--resume", folder)
    assert process.returncode == 0, process.stderr.read()
    assert kills >= 1, "the run finished before it could be killed; the test proved nothing"
    assert not [p for p in os.listdir(folder) if p.startswith(".") and p != ".lock"], "temporary files left behind"
    _assert_same_parameters(bprop.load(folder / "model-last.npz"), uninterrupted)


@pytest.mark.parametrize("signum, name", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_ctrl_c_or_sigterm_stops_after_a_checkpoint_and_resume_finishes_identically(
        signum, name, data_file, uninterrupted, tmp_path):
    folder = tmp_path / "run"
    process = _start("train", "--dataset", f"npz:{data_file}", *RECIPE, "--out", folder)
    deadline = time.monotonic() + 60
    while not (folder / "checkpoint.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, stderr  # 130 for Ctrl-C, 143 for SIGTERM
    assert "Traceback" not in stderr and f"stopped by {name}" in stderr and "--resume" in stderr
    assert (folder / "checkpoint.npz").exists() and not (folder / "model-last.npz").exists()
    run_bprop("train", "--resume", folder, check=0)
    _assert_same_parameters(bprop.load(folder / "model-last.npz"), uninterrupted)


def test_divergence_stops_with_a_message_and_keeps_the_last_good_checkpoint(data_file, tmp_path):
    folder = tmp_path / "run"
    result = run_bprop("train", "--dataset", f"npz:{data_file}", "--output-activation", "identity",
                       "--cost", "quadratic", "--lr", "50", "--checkpoint-every", "1", "--no-plots",
                       "--quiet", "--out", folder)
    assert result.returncode == 1
    assert "NaN or infinite in epoch 1, mini-batch" in result.stderr
    assert "smaller learning rate" in result.stderr and "Traceback" not in result.stderr
    network = bprop.load(folder / "checkpoint.npz")  # written before the blow-up, and intact
    assert all(np.isfinite(p).all() for p in network.weights + network.biases)
    assert not (folder / "model-last.npz").exists()


def test_unwritable_output_folder_fails_before_training(data_file, tmp_path):
    if os.geteuid() == 0:
        target = "/proc/bprop-run"  # even root cannot create folders in /proc
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "run"
    result = run_bprop("train", "--dataset", f"npz:{data_file}", "--out", target, "--quiet")
    assert result.returncode == 1 and "cannot write to the run folder" in result.stderr
    assert "Traceback" not in result.stderr
