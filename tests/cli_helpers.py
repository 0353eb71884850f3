"""Running the ``bprop`` command as a user would: a subprocess of this Python."""
import subprocess
import sys


def bprop(*args, cwd=None, timeout=300, check=None):
    """Run ``python -m bprop ARGS``; returns the CompletedProcess. ``check`` asserts the exit code."""
    result = subprocess.run([sys.executable, "-m", "bprop", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=timeout)
    if check is not None:
        assert result.returncode == check, (result.returncode, result.stdout, result.stderr)
    return result
