"""The compiled kernels' matrix product: BLAS's gemm, MKL's when it is installed.

``gemm(ta, tb, alpha, A, B, beta, C)`` computes, for 2-D arrays whose rows are contiguous,

    C = alpha op(A) op(B) + beta C         op(X) = X, or X^T when its flag is 1

``np.matmul(A, B, out=C)`` is the case alpha = 1, beta = 0; ``step.py``, ``epoch.py`` and
``split.py`` issue every product of a step through it. ``epoch.py`` also uses the general case to let
BP4's product land in the weights, or the velocities, in the same pass (L2's shrink is
applied before, element by element: see ``optimizers.shrink_weights``):

    w → w - (η/m) δ^T a                              (SGD: alpha = -η/m, beta = 1)
    v → μ v - (η/m) δ^T a                            (momentum: beta = μ, before w → w + v)

Which BLAS. The compiled code calls two symbols of its own, ``bprop_sgemm`` and
``bprop_dgemm`` (Fortran's gemm, 32-bit integers). ``bind`` points them, once per process
and before any kernel is compiled or loaded from numba's cache, at

- MKL's gemm, when the ``mkl`` package is installed (``pip install "bprop[mkl]"``). On the
  products of a training step with mini-batches of 128 it takes 0.55-0.75 of the time
  OpenBLAS takes (``python -m benchmarks.gemm_survey``). Its threads are MKL's own
  (``MKL_NUM_THREADS``, default every core), except that the whole compiled loop holds it
  to one (``one_thread``), and its results are made reproducible run to run (``MKL_CBWR``
  "AUTO", unless the environment sets it);
- else SciPy's BLAS (OpenBLAS in PyPI's wheels), the one numba's own ``np.dot`` calls
  (``OPENBLAS_NUM_THREADS``, default every core).

The environment variable ``BPROP_BLAS`` (``auto``, ``mkl`` or ``scipy``) overrides the
choice, and ``BLAS`` names the one bound. The cached kernels name only the symbols, so
they run with either. gemm is column-major: the row-major product is asked for as
C^T = op(B)^T op(A)^T.
"""
import ctypes
import os
import threading

import numpy as np
from numba import carray, types
from numba.core import cgutils
from numba.extending import intrinsic

from bprop.kernels import BLAS_ENVIRONMENT_VARIABLE, mkl_library, requested_blas
from bprop.kernels.compiler import jit

BLAS = None   # "mkl" or "scipy", once bound

_MKL_LP64, _MKL_ILP64, _MKL_CBWR_AUTO = 0, 1, 1
_mkl = None   # the loaded library, kept alive


def _mkl_addresses():
    """(sgemm, dgemm) of MKL with 32-bit integers, or (None, why not)."""
    global _mkl
    path = mkl_library()
    if path is None:
        return None, "the mkl package is not installed"
    try:
        library = ctypes.CDLL(path)
    except OSError as error:
        return None, f"MKL could not be loaded ({error})"
    library.MKL_Set_Interface_Layer.restype = ctypes.c_int
    if library.MKL_Set_Interface_Layer(_MKL_LP64) & _MKL_ILP64:   # returns the layer in force
        return None, "another library in this process set MKL to 64-bit integers"
    if "MKL_CBWR" not in os.environ and library.MKL_CBWR_Set(_MKL_CBWR_AUTO) != 0:
        return None, "MKL's reproducible mode could not be set (it was already in use)"
    _mkl = library
    return (ctypes.cast(library.sgemm_, ctypes.c_void_p).value,
            ctypes.cast(library.dgemm_, ctypes.c_void_p).value), None


class one_thread:
    """A context manager: MKL on one thread inside the block (nothing for SciPy's BLAS).

    The whole loop's products are small: on the book's network two MKL threads made an
    epoch 1.9x slower than one, on recipe B 1.2-1.5x. By default this holds only the
    calling thread (MKL's thread-local setting); ``every_thread=True`` sets MKL's global
    count too, for ``split.py``, whose parts call MKL from numba's threads. Both settings
    are restored on leaving; the global one when the last of the blocks that overlap (in
    several Python threads) leaves, to what it was before the first came in. Meanwhile
    MKL runs on one thread wherever no thread-local count says otherwise: a run of the
    threaded loop in another Python thread then has one MKL thread too."""

    _lock = threading.Lock()
    _holding = 0            # blocks, in any thread, that hold the global count at 1 ...
    _global_before = None   # ... and the count they give back

    def __init__(self, every_thread=False):
        self.every_thread = every_thread

    def __enter__(self):
        self.before = None
        self.holds_global = False
        if _mkl is not None:
            self.before = _mkl.MKL_Set_Num_Threads_Local(0)   # 0: none; returns the one in force
            if self.every_thread:
                with one_thread._lock:
                    if one_thread._holding == 0:
                        one_thread._global_before = _mkl.MKL_Get_Max_Threads()   # the global count
                        _mkl.MKL_Set_Num_Threads(1)
                    one_thread._holding += 1
                    self.holds_global = True
            _mkl.MKL_Set_Num_Threads_Local(1)
        return self

    def __exit__(self, *exception):
        if self.holds_global:
            with one_thread._lock:
                one_thread._holding -= 1
                if one_thread._holding == 0:
                    _mkl.MKL_Set_Num_Threads(one_thread._global_before)
        if self.before is not None:
            _mkl.MKL_Set_Num_Threads_Local(self.before)


class numpy_blas_one_thread:
    """A context manager for a compiled training run: NumPy's OpenBLAS on one thread inside
    the block (every OpenBLAS when the kernels call MKL; with SciPy's BLAS, only an OpenBLAS
    inside NumPy's own folders, so never the kernels' own), through threadpoolctl.

    OpenBLAS's threads spin after each call before they sleep, on the cores the compiled
    loop needs: recipe B's one-epoch ``fit``, whose input check makes one small product,
    took 1.3x as long without this. The setting is the process's: NumPy's products in
    other threads meanwhile run on one thread too. Runs that overlap (in several Python
    threads) share the first one's hold, which that run gives back when it ends, in its
    own thread, as threadpoolctl requires. Nothing is held if threadpoolctl is missing or
    fails: training never depends on it."""

    _lock = threading.Lock()
    _holder = None   # the block that holds, and gives back

    def __enter__(self):
        self.held = []
        cls = type(self)
        with cls._lock:
            if cls._holder is None:
                cls._holder = self
                self.held = _hold_numpy_openblas()
        return self

    def __exit__(self, *exception):
        cls = type(self)
        with cls._lock:
            if cls._holder is not self:
                return
            cls._holder = None
            for library, threads in self.held:
                try:
                    library.set_num_threads(threads)
                    library.clear_controlling_thread()   # (threadpoolctl 3.6+) let any
                except Exception:                         # thread set it again
                    pass


def _hold_numpy_openblas():
    """Set NumPy's OpenBLAS (see ``numpy_blas_one_thread``) to one thread; returns
    [(library, its thread count before)]."""
    held = []
    try:
        from threadpoolctl import ThreadpoolController

        numpy_folders = _numpy_folders()
        for library in ThreadpoolController().lib_controllers:
            threads = library.num_threads
            if library.internal_api != "openblas" or not isinstance(threads, int) or threads <= 1:
                continue
            if BLAS != "mkl" and not os.path.realpath(library.filepath).startswith(numpy_folders):
                continue
            library.set_num_threads(1)
            held.append((library, threads))
    except Exception:   # ImportError, or a threadpoolctl that cannot: train without the hold
        pass
    return held


def _numpy_folders():
    """NumPy's package folder and its wheel's library folder (``numpy.libs``), with a
    trailing separator."""
    package = os.path.dirname(os.path.realpath(np.__file__))
    return tuple(folder + os.sep for folder in (package, package + ".libs"))


def _scipy_addresses():
    from numba.core.extending import get_cython_function_address

    return (get_cython_function_address("scipy.linalg.cython_blas", "sgemm"),
            get_cython_function_address("scipy.linalg.cython_blas", "dgemm"))


def bind():
    """Point the kernels' gemm at MKL or SciPy's BLAS (see the module); returns which.

    Raises InputError for a bad ``BPROP_BLAS``, or for ``mkl`` asked for and not usable.
    """
    global BLAS
    if BLAS is not None:
        return BLAS
    import llvmlite.binding as llvm

    from bprop.errors import InputError

    requested = requested_blas()
    name, addresses = "scipy", None
    if requested != "scipy":
        addresses, why_not = _mkl_addresses()
        if addresses is None and requested == "mkl":
            raise InputError(f"{BLAS_ENVIRONMENT_VARIABLE}=mkl, but {why_not}; "
                             f"unset {BLAS_ENVIRONMENT_VARIABLE} to use SciPy's BLAS")
        if addresses is not None:
            name = "mkl"
    if addresses is None:
        addresses = _scipy_addresses()
    llvm.add_symbol("bprop_sgemm", addresses[0])
    llvm.add_symbol("bprop_dgemm", addresses[1])
    BLAS = name
    return name


bind()

_signature = types.void(*[types.voidptr] * 13)
_sgemm = types.ExternalFunction("bprop_sgemm", _signature)
_dgemm = types.ExternalFunction("bprop_dgemm", _signature)

_N, _T = 78, 84   # 'N', 'T'


@intrinsic
def _scratch(typingctx, dtype):
    """A pointer to room for 8 elements of ``dtype`` on the stack of the compiled function
    that calls it. ``gemm`` keeps the addresses it passes in it: with ``np.empty`` each call
    allocated and freed three arrays, 0.1-0.25 µs of a call that takes 0.3-0.8 µs on the
    book's network (25,000 calls an epoch)."""
    element = dtype.dtype

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(builder, context.get_value_type(element), size=8)

    return types.CPointer(element)(dtype), codegen


@jit
def _leading(X):
    """The row stride of X in elements: BLAS's leading dimension (any stride of one row)."""
    return X.strides[0] // X.itemsize if X.shape[0] > 1 else max(1, X.shape[1])


@jit
def gemm(ta, tb, alpha, A, B, beta, C):
    """C = alpha op(A) op(B) + beta C (see the module); A, B, C C-ordered, rows contiguous."""
    M, N = C.shape
    K = A.shape[0] if ta else A.shape[1]
    if M == 0 or N == 0:
        return
    scalars = carray(_scratch(C.dtype), 2)  # Fortran's gemm takes every argument by address
    scalars[0] = alpha
    scalars[1] = beta
    flags = carray(_scratch(np.uint8), 2)
    flags[0] = _T if tb else _N
    flags[1] = _T if ta else _N
    sizes = carray(_scratch(np.int32), 6)   # n, m, k, ldb, lda, ldc of the column-major call
    sizes[0], sizes[1], sizes[2] = N, M, K
    sizes[3], sizes[4], sizes[5] = _leading(B), _leading(A), _leading(C)
    if C.itemsize == 4:
        _sgemm(flags[0:].ctypes, flags[1:].ctypes, sizes[0:].ctypes, sizes[1:].ctypes,
               sizes[2:].ctypes, scalars[0:].ctypes, B.ctypes, sizes[3:].ctypes, A.ctypes,
               sizes[4:].ctypes, scalars[1:].ctypes, C.ctypes, sizes[5:].ctypes)
    else:
        _dgemm(flags[0:].ctypes, flags[1:].ctypes, sizes[0:].ctypes, sizes[1:].ctypes,
               sizes[2:].ctypes, scalars[0:].ctypes, B.ctypes, sizes[3:].ctypes, A.ctypes,
               sizes[4:].ctypes, scalars[1:].ctypes, C.ctypes, sizes[5:].ctypes)
