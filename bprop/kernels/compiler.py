"""How bprop compiles its kernels: numba's ``njit`` with an on-disk cache, and a clean
fallback to compiling in memory when no cache folder is writable.

numba is imported here and only here, and only when a kernel module is first used
(when training starts with ``kernels="numba"``): ``import bprop`` never pays for it.

The cache (``cache=True``) lives beside the module in ``__pycache__`` when that folder is
writable, else in numba's user-wide cache folder, or wherever ``NUMBA_CACHE_DIR`` points.
In a read-only install with no writable cache folder at all, numba refuses ``cache=True``
when the function is decorated; then each kernel is compiled in memory, every run
(``CACHE_USED`` tells which happened).

Threads. The kernels run on one thread, except the updates of parameter arrays of at
least ``optimizers.PARALLEL_SIZE`` elements, which numba splits over its threads
(``NUMBA_NUM_THREADS``, default: every core), and ``split.py``'s loop, which runs one part
of the network per numba thread, each with MKL on one thread. BLAS keeps its own threads (MKL:
``MKL_NUM_THREADS``, OpenBLAS: ``OPENBLAS_NUM_THREADS``; default every core; see
``blas.py``). Outside ``split.py`` the two never run at the same time: a step alternates
between matrix products and kernels (in ``split.py`` each part calls MKL on one thread). So that neither's OpenMP threads spin on the cores while the other
works, they wait passively (``OMP_WAIT_POLICY=PASSIVE``, set here unless the environment
already sets it, before numba or MKL start their OpenMP pools).

Division. ``error_model="numpy"``: a division by zero gives an infinity or a NaN, as it
does on the NumPy path (the trainer then reports the divergence), rather than raising;
without the check in every division LLVM vectorises those loops (Adam's update of
78,400 float32 weights: 60 µs instead of 346 µs).
"""
import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402

from bprop.kernels import CACHE_STAMP, source_digest  # noqa: E402

CACHE_USED = True
_checked_folders = set()


def _drop_stale_cache(dispatcher):
    """Delete the cached kernels of an older version of these modules.

    numba checks a cached kernel against its own module's time stamp only: a change to a
    kernel it calls in another module, or to the options here, would go on running the
    old machine code. So the cache folder keeps a digest of all the kernel sources, and is
    emptied when they change. (A process of the old version still running can save its
    kernels into the emptied folder; numba then loads those for unchanged modules until
    the next change. Upgrades install new files, which numba's own check catches.)
    """
    folder = getattr(getattr(dispatcher, "_cache", None), "_cache_path", None)
    if folder is None or folder in _checked_folders:
        return
    _checked_folders.add(folder)
    stamp, digest = Path(folder) / CACHE_STAMP, source_digest()
    if digest is None:
        return
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        for cached in Path(folder).iterdir():
            if cached.suffix in (".nbi", ".nbc"):
                cached.unlink()
        written = stamp.with_name(f"{stamp.name}.{os.getpid()}")
        written.write_text(digest)
        os.replace(written, stamp)       # whole: a process reading it never sees half a digest
    except OSError:  # a folder numba can read but we cannot clean: leave it as it is
        pass


def jit(*args, **options):
    """``numba.njit(cache=True, nogil=True, error_model="numpy", **options)``, or without
    the cache if it cannot be written."""

    def decorate(function):
        global CACHE_USED
        try:
            dispatcher = numba.njit(cache=True, nogil=True, error_model="numpy", **options)(function)
            _drop_stale_cache(dispatcher)
            return dispatcher
        except RuntimeError as error:  # "cannot cache function ...: no locator available"
            if "cache" not in str(error):
                raise
            CACHE_USED = False
            return numba.njit(cache=False, nogil=True, error_model="numpy", **options)(function)

    if args and callable(args[0]):
        return decorate(args[0])
    return decorate
