"""The compiled kernels' matrix product (``bprop/kernels/blas.py``): gemm against NumPy,
which BLAS a run used and says it used, MKL's and SciPy's BLAS training alike, and the
environment variable that chooses, through the command as a user types it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import bprop

pytest.importorskip("numba")

from bprop.kernels import blas, mkl_library  # noqa: E402  (after the skip: needs numba)

ROOT = Path(__file__).resolve().parents[1]
MKL_INSTALLED = mkl_library() is not None
needs_mkl = pytest.mark.skipif(not MKL_INSTALLED, reason="the mkl package is not installed")


def _python(code, **env):
    """Run ``code`` in a fresh Python (the BLAS is bound once per process)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env={**os.environ, **env})
    return done


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-13), ("float32", 1e-5)])
@pytest.mark.parametrize("ta", [0, 1])
@pytest.mark.parametrize("tb", [0, 1])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (-0.3, 1.0), (0.7, 0.9)])
@pytest.mark.parametrize("M, N, K", [(7, 5, 3), (1, 6, 4), (5, 1, 9), (4, 3, 1)])
def test_gemm_equals_numpy(dtype, tolerance, ta, tb, alpha, beta, M, N, K):
    rng = np.random.default_rng(M * 100 + N * 10 + K)
    A = rng.normal(size=(K, M) if ta else (M, K)).astype(dtype)
    B = rng.normal(size=(N, K) if tb else (K, N)).astype(dtype)
    C = rng.normal(size=(M, N)).astype(dtype)
    expected = alpha * ((A.T if ta else A) @ (B.T if tb else B)) + beta * C
    blas.gemm(ta, tb, alpha, A, B, beta, C)
    assert np.allclose(C, expected, rtol=tolerance, atol=tolerance * np.abs(expected).max())


def test_gemm_writes_only_its_rows_of_a_larger_buffer():
    """The kernels multiply into the first m rows of buffers sized for a full mini-batch."""
    rng = np.random.default_rng(0)
    buffer = np.full((6, 4), 7.0)
    A, B = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    blas.gemm(0, 1, 1.0, A, B, 0.0, buffer[:3])
    assert np.allclose(buffer[:3], A @ B.T, rtol=1e-13) and np.all(buffer[3:] == 7.0)


def test_the_bound_blas_is_mkl_when_installed_else_scipy():
    asked = os.environ.get("BPROP_BLAS", "auto").strip().lower() or "auto"
    assert blas.BLAS == ("mkl" if MKL_INSTALLED and asked != "scipy" else "scipy")


@needs_mkl
def test_one_thread_holds_mkl_to_one_thread_and_restores_both_settings():
    if blas.BLAS != "mkl":
        pytest.skip("BPROP_BLAS chose SciPy's BLAS for this run")
    mkl = blas._mkl
    global_count = mkl.MKL_Get_Max_Threads()              # no thread-local count is in force
    try:
        with blas.one_thread():
            assert mkl.MKL_Get_Max_Threads() == 1
            with blas.one_thread(every_thread=True):   # split.py's, inside the loop's own
                assert mkl.MKL_Get_Max_Threads() == 1
            assert mkl.MKL_Get_Max_Threads() == 1
        assert mkl.MKL_Get_Max_Threads() == global_count
        mkl.MKL_Set_Num_Threads_Local(4)                # a caller's own thread-local count
        with blas.one_thread(every_thread=True):
            assert mkl.MKL_Get_Max_Threads() == 1
        assert mkl.MKL_Get_Max_Threads() == 4
        mkl.MKL_Set_Num_Threads_Local(0)
        assert mkl.MKL_Get_Max_Threads() == global_count  # the global count came back too
    finally:
        mkl.MKL_Set_Num_Threads_Local(0)
        mkl.MKL_Set_Num_Threads(global_count)


@needs_mkl
def test_overlapping_holds_of_every_thread_give_mkl_s_count_back_when_the_last_leaves():
    """Two split runs in two Python threads, the first ending first: MKL stays on one
    thread until the second ends, then has its own count again (not the held 1)."""
    import threading

    if blas.BLAS != "mkl":
        pytest.skip("BPROP_BLAS chose SciPy's BLAS for this run")
    mkl = blas._mkl
    global_count = mkl.MKL_Get_Max_Threads()
    mkl.MKL_Set_Num_Threads(2)                  # (so that the held 1 cannot pass for it)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with blas.one_thread(every_thread=True):
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with blas.one_thread(every_thread=True):
            second_in.set()
            first_out.wait(10)
            mkl.MKL_Set_Num_Threads_Local(0)
            seen["after the first left"] = mkl.MKL_Get_Max_Threads()
            mkl.MKL_Set_Num_Threads_Local(1)

    try:
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert seen == {"after the first left": 1}
        assert mkl.MKL_Get_Max_Threads() == 2
    finally:
        mkl.MKL_Set_Num_Threads(global_count)


@pytest.mark.parametrize("choice", ["scipy", "SciPy ", "auto", ""])
def test_the_environment_variable_chooses_the_blas(choice):
    done = _python("from bprop.kernels import blas; print(blas.BLAS)", BPROP_BLAS=choice)
    assert done.returncode == 0, done.stderr
    expected = "scipy" if choice.strip().lower() == "scipy" or not MKL_INSTALLED else "mkl"
    assert done.stdout.split() == [expected]


def test_mkl_asked_for_and_missing_is_refused_and_auto_falls_back():
    hide_mkl = ("import importlib.metadata as m\n"
                "def files(name, _files=m.files):\n"
                "    if name == 'mkl': raise m.PackageNotFoundError(name)\n"
                "    return _files(name)\n"
                "m.files = files\n")
    done = _python(hide_mkl + "from bprop.kernels import blas\n", BPROP_BLAS="mkl")
    assert done.returncode != 0
    assert ("BPROP_BLAS=mkl, but the mkl package is not installed: pip install mkl, "
            "or unset BPROP_BLAS") in done.stderr
    done = _python(hide_mkl + "from bprop.kernels import blas; print(blas.BLAS)", BPROP_BLAS="auto")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["scipy"]


def test_a_bad_choice_is_refused_in_one_line_by_the_command_before_the_run_starts(tmp_path):
    done = bprop("train", "--epochs", "1", "--kernels", "numba", "--no-plots", "--quiet",
                 "--out", tmp_path / "run", env={"BPROP_BLAS": "openblas"})
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.strip().splitlines() == [
        "bprop train: error: BPROP_BLAS='openblas' is not one of auto, mkl, scipy; "
        "set it to one of those or unset it"]
    assert not (tmp_path / "run" / "config.json").exists()


@pytest.mark.parametrize("choice", ["scipy"] + (["mkl"] if MKL_INSTALLED else []))
def test_a_run_folder_records_the_blas_that_ran(tmp_path, choice):
    bprop("train", "--epochs", "1", "--kernels", "numba", "--no-plots", "--quiet",
          "--out", tmp_path / "run", env={"BPROP_BLAS": choice}, check=0)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["kernels"], summary["blas"]) == ("numba", choice)
    bprop("train", "--epochs", "1", "--kernels", "numpy", "--no-plots", "--quiet",
          "--out", tmp_path / "run-numpy", env={"BPROP_BLAS": choice}, check=0)
    summary = json.loads((tmp_path / "run-numpy" / "summary.json").read_text())
    assert (summary["kernels"], summary["blas"]) == ("numpy", "numpy")


# Trains four small networks (the whole loop and the per-mini-batch step, float64 and
# float32, momentum and Adam) with the compiled kernels and saves their weights.
TRAIN = """
import sys, numpy as np, bprop
from bprop.kernels import blas
rng = np.random.default_rng(0)
X, y = rng.normal(size=(300, 12)), rng.integers(0, 4, 300)
arrays = {"blas": np.array(blas.BLAS)}
for dtype in ("float64", "float32"):
    for name, options in (("whole", dict(optimizer="sgd", momentum=0.9, l2=1.0)),
                          ("step", dict(optimizer="adam", learning_rate=0.01, dropout=0.1))):
        net = bprop.Network([12, 16, 8, 4], ["relu", "tanh", "softmax"], "cross_entropy",
                            dtype=dtype, seed=3)
        net.fit(X.astype(dtype), y, epochs=3, batch_size=16, kernels="numba", verbose=0, **options)
        for l, w in enumerate(net.weights + net.biases):
            arrays[f"{dtype}-{name}-{l}"] = w
np.savez(sys.argv[1] if len(sys.argv) > 1 else "{out}", **arrays)
"""


def _train(path, choice):
    done = _python(TRAIN.replace("{out}", str(path)), BPROP_BLAS=choice)
    assert done.returncode == 0, done.stderr
    return dict(np.load(path))


@needs_mkl
def test_mkl_and_scipy_train_alike_and_each_is_bit_reproducible_across_processes(tmp_path):
    mkl = _train(tmp_path / "mkl.npz", "mkl")
    scipy = _train(tmp_path / "scipy.npz", "scipy")
    again = _train(tmp_path / "mkl-again.npz", "mkl")
    assert (mkl.pop("blas"), scipy.pop("blas"), again.pop("blas")) == ("mkl", "scipy", "mkl")
    for key in mkl:
        assert np.array_equal(mkl[key], again[key]), key
        tolerance = 1e-12 if key.startswith("float64") else 1e-5
        scale = np.abs(scipy[key]).max()
        assert np.abs(mkl[key] - scipy[key]).max() <= tolerance * scale, key


@pytest.mark.slow
def test_the_kernel_suite_passes_with_scipy_s_blas_too():
    """The rest of the suite trains with the BLAS bound by default (MKL when installed);
    this runs the kernels' equality tests with the other one, in its own process."""
    if not MKL_INSTALLED:
        pytest.skip("the suite already ran on SciPy's BLAS")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "test_kernels.py")], capture_output=True, text=True,
                          timeout=1800, cwd=ROOT, env={**os.environ, "BPROP_BLAS": "scipy"})
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout.splitlines()[-1] and "failed" not in done.stdout.splitlines()[-1]
