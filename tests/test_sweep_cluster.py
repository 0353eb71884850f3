"""A sweep on a real Dask cluster: ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1, one of them killed (SIGKILL) in the middle of a trial.

The sweep must still finish; every trial must end with exactly one result; no trial
that had finished may run again; the killed trial runs again on the other worker and
gives the same result as a trial run undisturbed.
"""
import glob
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("sklearn")

from test_sweep import attempts, digits_trial  # noqa: E402

from bprop import sweep  # noqa: E402

TESTS = os.path.dirname(os.path.abspath(__file__))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the scheduler exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture
def cluster(tmp_path):
    """(address, {"a": worker process, "b": worker process}); everything is stopped afterwards."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")]))}
    logs, processes = [], []

    def start(name, *args):
        log = open(tmp_path / f"{name}.log", "w")
        logs.append(log)
        process = subprocess.Popen([sys.executable, "-m", "dask", *args], env=env, cwd=tmp_path,
                                   stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    try:
        scheduler = start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port),
                          "--no-dashboard")
        _wait_for_port(port, scheduler)
        address = f"tcp://127.0.0.1:{port}"
        workers = {name: start(f"worker-{name}", "worker", address, "--nthreads", "1", "--no-nanny",
                               "--no-dashboard", "--name", name, "--host", "127.0.0.1")
                   for name in ("a", "b")}
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for process in reversed(processes):  # workers first, then the scheduler
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for log in logs:
            log.close()


def _kill_when_busy(out, victim, killed, timeout=45):
    """SIGKILL ``victim`` once it has finished a trial and is in the middle of another."""
    pid = str(victim.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and victim.poll() is None:
        finished, busy = 0, None
        for log in glob.glob(os.path.join(out, "runs", "*", "attempts.log")):
            starts, ends = attempts(os.path.dirname(log))
            ours_started = [s for s in starts if s.split()[1] == pid]
            ours_ended = [e for e in ends if e.split()[1] == pid]
            finished += len(ours_ended)
            if len(ours_started) > len(ours_ended):
                busy = os.path.basename(os.path.dirname(log))
        if finished and busy:
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(busy)
            return
        time.sleep(0.02)


def test_sweep_survives_a_worker_killed_mid_trial(cluster, tmp_path):
    address, workers = cluster
    out = str(tmp_path / "sweep")
    spec = {"options": {"epochs": 1, "hidden": [16], "sleep": 0.8},
            "search": {"learning_rate": [0.05, 0.1, 0.2, 0.4, 0.8, 1.6]}}
    killed = []
    killer = threading.Thread(target=_kill_when_busy, args=(out, workers["a"], killed), daemon=True)
    killer.start()
    outcome = {}

    def run():
        try:
            outcome["result"] = sweep.run_sweep(spec, out, scheduler=address, trial_function=digits_trial)
        except BaseException as error:  # re-raised below, in the test's thread
            outcome["error"] = error

    sweeper = threading.Thread(target=run, daemon=True)
    sweeper.start()
    sweeper.join(timeout=120)
    killer.join(timeout=5)
    assert not sweeper.is_alive(), "the sweep did not finish within 120 s"
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]

    assert killed, "worker a was never seen finishing one trial and starting another"
    assert workers["a"].poll() == -signal.SIGKILL and workers["b"].poll() is None
    assert [row["status"] for row in result.rows] == ["finished"] * 6
    for row in result.rows:
        run_dir = os.path.join(out, row["run_dir"])
        starts, ends = attempts(run_dir)
        assert len(ends) == 1, (row["trial_id"], starts, ends)           # finished once, never twice
        assert not any("marker=True" in line for line in starts)          # never started once finished
        assert sweep.read_result(run_dir)["status"] == "finished"          # and not lost
    victim = killed[0]
    starts, _ = attempts(os.path.join(out, "runs", victim))
    assert [line.split()[1] for line in starts] == [str(workers["a"].pid), str(workers["b"].pid)]

    retried = next(row for row in result.rows if row["trial_id"] == victim)
    os.makedirs(tmp_path / "undisturbed")
    undisturbed = digits_trial({**spec["options"], "learning_rate": retried["learning_rate"], "sleep": 0},
                               str(tmp_path / "undisturbed"))
    assert retried["validation_accuracy"] == undisturbed["validation_accuracy"]
    assert retried["test_accuracy"] == undisturbed["test_accuracy"]
