"""Running the ``bprop`` command as a user would: a subprocess of this Python."""
import os
import subprocess
import sys


def bprop(*args, cwd=None, timeout=300, check=None, env=None):
    """Run ``python -m bprop ARGS``; returns the CompletedProcess. ``check`` asserts the exit
    code; ``env`` adds environment variables."""
    result = subprocess.run([sys.executable, "-m", "bprop", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=timeout,
                            env=None if env is None else {**os.environ, **env})
    if check is not None:
        assert result.returncode == check, (result.returncode, result.stdout, result.stderr)
    return result
