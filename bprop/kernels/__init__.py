"""Compiled kernels for training: the element-wise work fused, the matrix products in BLAS.

The NumPy path (``network.py``, ``costs.py``, ``optimizers.py``) is the reference a
learner reads; these modules do the same arithmetic with fewer passes over memory, and
each names, in its docstring, the NumPy lines it replaces:

- ``activations.py``  bias add + σ in one pass; σ'(z) ⊙ g (BP2) with Σ_x δ (BP3)
- ``costs.py``        BP1 fused with the output layer's σ and BP3's sum, targets read in place
- ``optimizers.py``   SGD, momentum, Nesterov and Adam with L2, one pass per array
- ``batches.py``      the mini-batch's rows gathered from the shuffled data set
- ``tally.py``        the epoch's training cost and correct count from the outputs
- ``epoch.py``        a whole run of mini-batches as one compiled loop (one core, or every core's threads)
- ``split.py``        that loop with each hidden layer's units split over the cores (mid-sized, MKL)
- ``blas.py``         BLAS's gemm (MKL's when installed, else SciPy's) for every product
- ``step.py``         the trainer's step built from the kernels above
- ``compiler.py``     numba's ``njit`` with its on-disk cache, and the fallback without it

Which path trains is the ``kernels`` training option: ``"numpy"``, ``"numba"`` or
``"auto"``; with ``"auto"`` the environment variable ``BPROP_KERNELS`` decides when set,
else numba is used when it is installed and the training is long enough to repay
compiling the kernels, or loading them once they are cached (see ``choose``). Nothing
here imports numba until training starts.

Whose matrix products the compiled kernels call is the environment variable ``BPROP_BLAS``
(``auto``: MKL's when the ``mkl`` package is installed, else SciPy's; see ``blas.py``);
``requested_blas`` checks it before a run starts.
"""
import hashlib
import os
from importlib import metadata, util
from pathlib import Path

CHOICES = ("auto", "numpy", "numba")
ENVIRONMENT_VARIABLE = "BPROP_KERNELS"
BLAS_CHOICES = ("auto", "mkl", "scipy")
BLAS_ENVIRONMENT_VARIABLE = "BPROP_BLAS"

# "auto" compiles only when NumPy would train for at least this long (a rough estimate):
# compiling the kernels once takes 5-30 seconds, and the cache makes later runs cheap ...
AUTO_MIN_SECONDS = 20.0
# ... or this long, once this version's compiled loops are in the cache beside these
# modules (``loops_cached``): importing numba and loading them takes about 0.75 s, and
# recipe B's epoch is then 0.1-0.15 s shorter than NumPy's (estimated at 0.6 s).
AUTO_MIN_SECONDS_CACHED = 3.0
CACHED_LOOPS = ("epoch.train_batches", "split.train_split")
CACHE_STAMP = "bprop-kernels.sha256"
_SECONDS_PER_STEP = 40e-6           # NumPy's calls per mini-batch, measured on recipe A
_MULTIPLY_ADDS_PER_SECOND = 2e10    # NumPy's matrix products, measured on recipe B


def numba_available():
    """True if numba can be imported (checked without importing it)."""
    return util.find_spec("numba") is not None


def estimated_numpy_seconds(sizes, n_examples, epochs, batch_size):
    """A rough estimate of NumPy's training time: per-step calls plus the matrix products."""
    steps = -(-n_examples // batch_size)
    multiply_adds = 3 * sum(n_in * n_out for n_in, n_out in zip(sizes, sizes[1:]))
    return epochs * (steps * _SECONDS_PER_STEP + n_examples * multiply_adds / _MULTIPLY_ADDS_PER_SECOND)


def source_digest():
    """A digest of every kernel module's source, the compiler's options included (None if unreadable)."""
    digest = hashlib.sha256()
    try:
        for path in sorted(Path(__file__).parent.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def loops_cached(folder=None):
    """True if ``folder`` (default: the ``__pycache__`` beside these modules, where numba
    caches them unless ``NUMBA_CACHE_DIR`` says otherwise) holds this version's compiled
    loops (``CACHED_LOOPS``; its digest is ``compiler.py``'s stamp). Checked without numba."""
    if folder is None:
        if os.environ.get("NUMBA_CACHE_DIR"):
            return False
        folder = Path(__file__).parent / "__pycache__"
    folder = Path(folder)
    try:
        if (folder / CACHE_STAMP).read_text() != source_digest():
            return False
    except OSError:
        return False
    return all(any(folder.glob(f"{name}-*.nbi")) for name in CACHED_LOOPS)


def mkl_library():
    """The path of MKL's single dynamic library (mkl_rt) in the ``mkl`` package, or None."""
    try:
        files = metadata.files("mkl") or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        name = file.name.lower()
        if name.startswith("libmkl_rt.so") or (name.startswith("mkl_rt") and name.endswith(".dll")):
            return str(file.locate())
    return None


def requested_blas():
    """``BPROP_BLAS``'s choice: ``"auto"``, ``"mkl"`` or ``"scipy"``.

    Raises InputError for another value, or ``mkl`` when the mkl package is not installed.
    """
    from bprop.errors import InputError

    variable = BLAS_ENVIRONMENT_VARIABLE
    requested = os.environ.get(variable, "auto").strip().lower() or "auto"
    if requested not in BLAS_CHOICES:
        raise InputError(f"{variable}={os.environ[variable]!r} is not one of "
                         f"{', '.join(BLAS_CHOICES)}; set it to one of those or unset it")
    if requested == "mkl" and mkl_library() is None:
        raise InputError(f"{variable}=mkl, but the mkl package is not installed: "
                         f"pip install mkl, or unset {variable}")
    return requested


def choose(requested, sizes, n_examples, epochs, batch_size):
    """``"numpy"`` or ``"numba"``: the path that trains, for the ``kernels`` option's value.

    Raises InputError for an unknown value, or ``"numba"`` without numba installed.
    """
    from bprop.errors import InputError

    if requested == "auto":
        requested = os.environ.get(ENVIRONMENT_VARIABLE, "auto").strip().lower() or "auto"
        if requested not in CHOICES:
            raise InputError(f"{ENVIRONMENT_VARIABLE}={os.environ[ENVIRONMENT_VARIABLE]!r} is not one "
                             f"of {', '.join(CHOICES)}; set it to one of those or unset it")
    if requested not in CHOICES:
        raise InputError(f"kernels must be one of {', '.join(CHOICES)}; got {requested!r}")
    if requested == "numba":
        if not numba_available():
            raise InputError("kernels='numba' needs numba, which is not installed: "
                             "pip install numba, or use kernels='numpy'")
        requested_blas()
        return "numba"
    if requested == "numpy":
        return "numpy"
    if numba_available():
        seconds = estimated_numpy_seconds(sizes, n_examples, epochs, batch_size)
        if seconds >= AUTO_MIN_SECONDS or (seconds >= AUTO_MIN_SECONDS_CACHED and loops_cached()):
            requested_blas()
            return "numba"
    return "numpy"


def compiled_training(network, optimizer, l2, n_examples, batch_size, dropout):
    """The compiled step for one training run (imports numba and loads or compiles the kernels)."""
    from bprop.kernels.step import CompiledTraining

    return CompiledTraining(network, optimizer, l2, n_examples, batch_size, dropout)
