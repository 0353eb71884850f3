"""Run and sweep folders that one process at a time may write: claimed by a lock, named without collisions.

A folder is claimed by an exclusive ``fcntl.flock`` on the file ``.lock`` inside it,
taken before anything else is written there and held for the life of the run. The
kernel releases the lock when the process ends for any reason (normal exit, Ctrl-C,
SIGTERM, SIGKILL, a crash), so a killed run never leaves a stale lock behind; the file
stays, and names the process that last held it. A second process asking for a held
folder gets ``FolderInUseError`` naming the holder.

``flock`` works on local file systems and on NFS (Linux emulates it with byte-range
locks there). Where ``fcntl`` does not exist (Windows) folders are not locked.
"""
import datetime
import json
import os
import socket
import sys

from bprop.errors import FolderInUseError

LOCK_FILE = ".lock"


class FolderLock:
    """An exclusive claim on ``folder`` (which must exist), held until ``release``.

    Use as a context manager: ``with FolderLock(run_dir, "run"): ...``.
    """

    def __init__(self, folder, what="run"):
        self.folder, self.what = os.fspath(folder), what
        self.path = os.path.join(self.folder, LOCK_FILE)
        self._descriptor = None

    def acquire(self):
        try:
            import fcntl
        except ImportError:  # no flock on this platform: the folder is not locked
            return self
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EWOULDBLOCK: another process holds it
            holder = _describe(_read(descriptor))
            os.close(descriptor)
            raise FolderInUseError(
                f"{self.folder} is in use by another {holder}; wait for it to finish, stop it, "
                f"or choose another folder"
            ) from None
        holder = {"command": " ".join(["bprop", *sys.argv[1:]])[:200] if _is_cli() else "bprop (Python)",
                  "pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, (json.dumps(holder) + "\n").encode(), 0)
        self._descriptor = descriptor
        return self

    def release(self):
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the descriptor releases the flock
            self._descriptor = None

    @property
    def held(self):
        return self._descriptor is not None

    def __enter__(self):
        return self if self.held else self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def new_folder(path):
    """Create and return ``path``, or ``path-2``, ``path-3``, ...: the first that did not exist.

    Creation is atomic (``os.mkdir`` fails if the folder exists), so two processes asking
    for the same name at the same moment get different folders.
    """
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    candidate, n = path, 1
    while True:
        try:
            os.mkdir(candidate)
            return candidate
        except FileExistsError:
            n += 1
            candidate = f"{path}-{n}"


def _read(descriptor):
    try:
        text = os.pread(descriptor, 4096, 0).decode("utf-8", "replace")
        holder = json.loads(text)
    except (OSError, ValueError, RecursionError):
        return None
    return holder if isinstance(holder, dict) else None


def _describe(holder):
    if not holder:
        return "bprop process"
    return (f"process: {holder.get('command', 'bprop')} (pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')}, since {holder.get('started', '?')})")


def _is_cli():
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", "") or ""
    return name.startswith("bprop") or os.path.basename(sys.argv[0] if sys.argv else "") == "bprop"
