"""`bprop playground` as a user starts it: a subprocess that prints its address and serves."""
import json
import re
import signal
import subprocess
import sys
import urllib.request

import numpy as np
import pytest

import bprop
from cli_helpers import bprop as run_bprop


def start(*args):
    """Start ``bprop playground --no-browser ARGS``; returns (process, url).

    Ctrl-C reaches it even when these tests run as a background job (``... &`` in a
    script), whose processes start with SIGINT ignored: a child inherits an ignored signal
    but not a handler, so the child starts with SIGINT's default while ours is a handler.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen([sys.executable, "-m", "bprop", "playground", "--no-browser",
                                    *map(str, args)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    line = process.stdout.readline()
    match = re.search(r"http://[\d.]+:\d+/", line)
    if not match:
        process.kill()
        pytest.fail(f"no address printed: {line!r} {process.stderr.read()!r}")
    return process, match.group(0)


def stop(process):
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("bprop playground did not stop on Ctrl-C")
    return process.returncode, stderr


def test_playground_serves_on_loopback_and_stops_cleanly_on_ctrl_c():
    process, url = start()
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"bprop playground" in response.read()
        with urllib.request.urlopen(url + "api/options", timeout=10) as response:
            options = json.load(response)
        assert "mazur-222" in options["examples"] and options["model"] is None
    finally:
        code, stderr = stop(process)
    assert code == 0 and "Traceback" not in stderr and "stopped" in stderr


def test_playground_opens_a_saved_model(tmp_path):
    net = bprop.Network([64, 12, 10], ["relu", "softmax"], "cross_entropy", seed=3)
    net.save(tmp_path / "m.npz")
    process, url = start("--model", tmp_path / "m.npz")
    try:
        with urllib.request.urlopen(url + "api/options", timeout=10) as response:
            options = json.load(response)
    finally:
        stop(process)
    assert options["model"]["sizes"] == [64, 12, 10] and options["model"]["name"] == "m.npz"
    assert options["start"]["data"]["name"] == "digits" and options["start"]["use_model"]


def test_playground_opens_a_run_folder_with_its_data_set(tmp_path):
    pytest.importorskip("sklearn", reason="the digits data set needs scikit-learn")
    run_bprop("train", "--epochs", "1", "--hidden", "8", "--no-plots", "--quiet", "--out", tmp_path / "run", check=0)
    process, url = start("--run", tmp_path / "run")
    try:
        with urllib.request.urlopen(url + "api/options", timeout=10) as response:
            options = json.load(response)
    finally:
        stop(process)
    assert options["model"]["sizes"] == [64, 8, 10] and options["start"]["data"]["name"] == "digits"


def test_playground_warns_when_listening_beyond_this_computer():
    process, url = start("--host", "0.0.0.0")
    code, stderr = stop(process)
    assert "warning" in stderr and "anyone who can reach" in stderr


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "--port must be"),
    (["--model", "no-such-model.npz"], "no-such-model.npz"),
    (["--run", "no-such-run"], "no such run folder"),
])
def test_playground_refuses_bad_arguments_with_one_line(args, message):
    result = run_bprop("playground", "--no-browser", *args, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("bprop playground: error:")


def test_a_port_in_use_is_a_one_line_error():
    process, url = start()
    try:
        port = url.rsplit(":", 1)[1].strip("/")
        result = run_bprop("playground", "--no-browser", "--port", port, timeout=60)
    finally:
        stop(process)
    assert result.returncode == 1 and "cannot listen" in result.stderr and "Traceback" not in result.stderr
