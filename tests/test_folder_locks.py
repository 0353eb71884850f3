"""Run and sweep folders: one process at a time, no stale locks, default names that never collide."""
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import bprop
from bprop.errors import DataError, FolderInUseError
from bprop.locks import LOCK_FILE, FolderLock, new_folder
from cli_helpers import bprop as run_bprop

pytest.importorskip("sklearn")

SLOW_RUN = ["--epochs", "400", "--no-plots", "--quiet"]


def _start(*args, cwd=None):
    return subprocess.Popen([sys.executable, "-m", "bprop", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, process, seconds=60):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _stop(process):
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_a_second_run_into_a_held_folder_is_refused_naming_the_holder(tmp_path):
    folder = tmp_path / "run"
    first = _start("train", "--out", folder, *SLOW_RUN)
    try:
        _wait_for(folder / "config.json", first)
        second = run_bprop("train", "--out", folder, "--epochs", "1", "--no-plots", "--quiet")
        assert second.returncode == 1
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert "is in use by another process" in second.stderr
        assert f"pid {first.pid}" in second.stderr and "bprop train --out" in second.stderr
        resumed = run_bprop("train", "--resume", folder)  # two runs of one folder, the other way
        assert resumed.returncode == 1 and f"pid {first.pid}" in resumed.stderr
        assert first.poll() is None  # the holder was not disturbed
    finally:
        _stop(first)


def test_two_runs_started_together_into_one_folder_cannot_both_write_it(tmp_path):
    folder = tmp_path / "run"
    runs = [_start("train", "--out", folder, "--epochs", "3", "--seed", str(seed), "--no-plots", "--quiet")
            for seed in (1, 2)]
    outcomes = [process.communicate(timeout=300) + (process.returncode,) for process in runs]
    codes = sorted(code for _, _, code in outcomes)
    assert codes == [0, 1], outcomes
    refused = next(err for _, err, code in outcomes if code == 1)
    assert "in use by another process" in refused or "already holds a run" in refused
    winner_seed = 1 if runs[0].returncode == 0 else 2
    summary = json.loads((folder / "summary.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    assert config["seed"] == winner_seed  # the folder's files all belong to the run that reported success
    from bprop.data import load_dataset

    test = load_dataset("digits").test
    assert bprop.load(folder / "model-last.npz").evaluate(*test)["accuracy"] == pytest.approx(summary["test_accuracy"])


def test_a_run_refused_a_folder_claimed_after_it_started_leaves_that_folder_alone(tmp_path, monkeypatch):
    """Two runs started together: the other creates and locks the folder after this one
    started but before it claims the folder. The refused run must not remove it (it once
    did, having seen no folder at its start, and the winner lost its folder mid-run)."""
    from bprop import runs

    folder = tmp_path / "run"
    other = []
    checks = runs.require_extras

    def the_other_run_claims_it_first(*args, **kwargs):
        folder.mkdir()
        other.append(FolderLock(folder, "run").acquire())
        return checks(*args, **kwargs)

    monkeypatch.setattr(runs, "require_extras", the_other_run_claims_it_first)
    with pytest.raises(FolderInUseError):
        runs.train_run({"epochs": 1}, folder, plots=False)
    assert (folder / LOCK_FILE).exists() and other[0].held
    other[0].release()


def test_a_new_run_that_fails_to_start_removes_only_the_folder_it_made(tmp_path):
    from bprop.runs import train_run

    made = tmp_path / "made"
    with pytest.raises(DataError):
        train_run({"epochs": 1, "dataset": f"csv:{tmp_path / 'missing.csv'}"}, made, plots=False)
    assert not made.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(DataError):
        train_run({"epochs": 1, "dataset": f"csv:{tmp_path / 'missing.csv'}"}, existing, plots=False)
    assert existing.is_dir()


def test_a_killed_run_leaves_no_stale_lock(tmp_path):
    folder = tmp_path / "run"
    process = _start("train", "--out", folder, *SLOW_RUN)
    _wait_for(folder / "checkpoint.npz", process)
    _stop(process)
    assert (folder / LOCK_FILE).exists()  # the file stays; the kernel dropped the lock
    with FolderLock(folder):
        pass


def test_a_lock_is_exclusive_even_within_one_process(tmp_path):
    with FolderLock(tmp_path, "run"):
        with pytest.raises(FolderInUseError, match=f"pid {os.getpid()}"):
            FolderLock(tmp_path, "run").acquire()
    with FolderLock(tmp_path, "run") as lock:  # released on leaving the block
        assert lock.held


def _new_folder_in(base, queue):
    queue.put(new_folder(base))


def test_default_folder_names_never_collide_even_when_asked_at_once(tmp_path):
    base = str(tmp_path / "runs" / "20260101-000000")
    queue = multiprocessing.get_context("fork").Queue()
    workers = [multiprocessing.get_context("fork").Process(target=_new_folder_in, args=(base, queue))
               for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    names = [queue.get() for _ in workers]
    assert len(set(names)) == 8 and all(os.path.isdir(name) for name in names)


def test_runs_started_together_without_out_get_their_own_folders(tmp_path):
    runs = [_start("train", "--name", "same", "--epochs", "1", "--no-plots", "--quiet", cwd=tmp_path)
            for _ in range(2)]
    for process in runs:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    assert sorted(os.listdir(tmp_path / "runs")) == ["same", "same-2"]
    for name in ("same", "same-2"):
        assert (tmp_path / "runs" / name / "summary.json").exists()


def test_a_sweep_folder_held_by_another_sweep_is_refused(tmp_path):
    from bprop.sweep import run_sweep

    def trial(config, run_dir):
        return {"validation_accuracy": config["x"]}

    spec = {"search": {"x": [1, 2]}, "metric": "validation_accuracy"}
    (tmp_path / "sweep").mkdir()
    with FolderLock(tmp_path / "sweep", "sweep"):
        with pytest.raises(FolderInUseError, match="in use by another"):
            run_sweep(spec, tmp_path / "sweep", trial_function=trial, n_workers=1)
    assert not (tmp_path / "sweep" / "sweep.json").exists()  # refused before writing anything


def test_a_default_named_run_whose_data_fails_to_load_leaves_no_folder(tmp_path):
    result = run_bprop("train", "--dataset", f"csv:{tmp_path / 'missing.csv'}", "--no-plots", cwd=tmp_path)
    assert result.returncode == 1 and "no such file" in result.stderr
    assert not any((tmp_path / "runs").iterdir())  # the folder bprop named and made is gone
