"""The matrix products of one training step, per recipe, through each CPU GEMM at hand.

``python -m benchmarks.gemm_survey`` runs each library in its own subprocess (so their
thread pools never meet) and prints the best-of-7 microseconds of one step's products:
z = a wᵀ for every layer, ∇w = δᵀ a for every layer, δ w for every layer but the first,
exactly the products bprop issues (``benchmarks.implementations.MatmulFloor``).

Libraries: NumPy (its OpenBLAS), BLIS (the ``blis`` package), PyTorch's ``torch.mm``
(MKL), JAX (XLA; all of a step's products in one jitted call, so dispatch is paid once),
and MKL's ``cblas_?gemm`` through ctypes, from an unpacked ``mkl`` wheel whose ``lib``
folder ``GEMM_SURVEY_MKL`` names (not a dependency: the wheel is 229 MB). Threads: 2, or
``GEMM_SURVEY_THREADS``.
"""
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from benchmarks.recipes import RECIPES

LIBRARIES = ("numpy", "blis", "mkl", "torch", "jax")
THREADS = int(os.environ.get("GEMM_SURVEY_THREADS", "2"))


def products(recipe):
    """[(name, left shape, right shape, how)] of one step; how ∈ {"a_wT", "dT_a", "d_w"}."""
    sizes, m = recipe["sizes"], recipe["batch_size"]
    shapes = []
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        shapes.append((f"z{l}", (m, n_in), (n_out, n_in), "a_wT"))
        shapes.append((f"nabla_w{l}", (m, n_out), (m, n_in), "dT_a"))
        if l:
            shapes.append((f"delta{l - 1}", (m, n_out), (n_out, n_in), "d_w"))
    return shapes


def _time(run, repeats=7, min_seconds=0.2):
    run()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            run()
        if time.perf_counter() - t0 > min_seconds / 5:
            break
        n *= 2
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            run()
        times.append((time.perf_counter() - t0) / n)
    return min(times) * 1e6  # the best repeat: on a shared machine, the least disturbed


def _operands(recipe, rng):
    dtype = np.dtype(recipe["dtype"])
    out = []
    for name, left, right, how in products(recipe):
        A = rng.standard_normal(left).astype(dtype)
        B = rng.standard_normal(right).astype(dtype)
        shape = {"a_wT": (left[0], right[0]), "dT_a": (left[1], right[1]),
                 "d_w": (left[0], right[1])}[how]
        out.append((name, A, B, how, np.empty(shape, dtype)))
    return out


def survey(library, recipe_names):
    rng = np.random.default_rng(0)
    result = {}
    for name in recipe_names:
        ops = _operands(RECIPES[name], rng)
        result[name] = {"step_us": _step_runner(library, ops)}
    return result


def _step_runner(library, ops):
    if library == "numpy":
        def run():
            for _, A, B, how, C in ops:
                if how == "a_wT":
                    np.matmul(A, B.T, out=C)
                elif how == "dT_a":
                    np.matmul(A.T, B, out=C)
                else:
                    np.matmul(A, B, out=C)
        return _time(run)
    if library == "blis":
        from blis.py import gemm

        # blis 1.3 crashed here on float64 with trans2 and with out=: W is kept transposed
        # (copied once, untimed) and each product allocates its result
        ops = [(name, A, np.ascontiguousarray(B.T) if how == "a_wT" else B, how, C)
               for name, A, B, how, C in ops]

        def run():
            for _, A, B, how, C in ops:
                if how == "a_wT":
                    gemm(A, B)
                elif how == "dT_a":
                    gemm(A, B, trans1=True)
                else:
                    gemm(A, B)
        return _time(run)
    if library == "torch":
        import torch

        torch.set_num_threads(THREADS)
        tops = [(torch.from_numpy(A), torch.from_numpy(B), how, torch.from_numpy(C)) for _, A, B, how, C in ops]

        def run():
            for A, B, how, C in tops:
                if how == "a_wT":
                    torch.mm(A, B.t(), out=C)
                elif how == "dT_a":
                    torch.mm(A.t(), B, out=C)
                else:
                    torch.mm(A, B, out=C)
        return _time(run)
    if library == "jax":
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        hows = [how for _, _, _, how, _ in ops]

        @jax.jit
        def step(operands):
            outs = []
            for (A, B), how in zip(operands, hows):
                outs.append(A @ B.T if how == "a_wT" else A.T @ B if how == "dT_a" else A @ B)
            return outs
        operands = [(jnp.asarray(A), jnp.asarray(B)) for _, A, B, _, _ in ops]

        def run():
            jax.block_until_ready(step(operands))
        return _time(run)
    if library == "mkl":
        import ctypes

        folder = os.environ.get("GEMM_SURVEY_MKL")
        if not folder:
            raise RuntimeError("set GEMM_SURVEY_MKL to the lib folder of an unpacked mkl wheel")
        mkl = ctypes.CDLL(os.path.join(folder, "libmkl_rt.so.3"))  # finds its parts by LD_LIBRARY_PATH
        mkl.MKL_Set_Num_Threads(THREADS)
        ROW, NO, TRANS = 101, 111, 112
        calls = []
        for _, A, B, how, C in ops:
            gemm = mkl.cblas_sgemm if A.dtype == np.float32 else mkl.cblas_dgemm
            scalar = ctypes.c_float if A.dtype == np.float32 else ctypes.c_double
            m, n = C.shape
            ta, tb = {"a_wT": (NO, TRANS), "dT_a": (TRANS, NO), "d_w": (NO, NO)}[how]
            k = A.shape[1] if ta == NO else A.shape[0]
            args = (ROW, ta, tb, m, n, k, scalar(1.0), A.ctypes.data_as(ctypes.c_void_p), A.shape[1],
                    B.ctypes.data_as(ctypes.c_void_p), B.shape[1], scalar(0.0),
                    C.ctypes.data_as(ctypes.c_void_p), C.shape[1])
            calls.append((gemm, args))
        check = ops[0]
        calls[0][0](*calls[0][1])
        expected = check[1] @ check[2].T
        if np.abs(check[4] - expected).max() > 1e-3 * np.abs(expected).max():
            raise RuntimeError("MKL's product disagrees with NumPy's")

        def run():
            for gemm, args in calls:
                gemm(*args)
        return _time(run)
    raise ValueError(library)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        print(json.dumps(survey(argv[1], argv[2].split(","))))
        return 0
    recipes = argv[0].split(",") if argv else ["A", "B", "C"]
    table = {}
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(THREADS), BLIS_NUM_THREADS=str(THREADS),
               OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS))
    if os.environ.get("GEMM_SURVEY_MKL"):
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [os.environ["GEMM_SURVEY_MKL"],
                                                               env.get("LD_LIBRARY_PATH")]))
        env["MKL_THREADING_LAYER"] = "SEQUENTIAL" if THREADS == 1 else "GNU"
        env["MKL_INTERFACE_LAYER"] = "LP64"
    if THREADS == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    for library in LIBRARIES:
        done = subprocess.run([sys.executable, "-m", "benchmarks.gemm_survey", "--worker", library,
                               ",".join(recipes)], capture_output=True, text=True, env=env)
        if done.returncode:
            table[library] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        table[library] = json.loads(done.stdout.strip().splitlines()[-1])
        time.sleep(1)
    print(f"{'library':<8}" + "".join(f"{r:>12}" for r in recipes)
          + f"   (µs of one step's matrix products, {THREADS} thread(s), best of 7)")
    for library, row in table.items():
        if "error" in row:
            print(f"{library:<8} failed: {row['error']}")
            continue
        cells = [row[r]["step_us"] for r in recipes]
        print(f"{library:<8}" + "".join(f"{c:>12.1f}" if c is not None else f"{'-':>12}" for c in cells))
    return table


if __name__ == "__main__":
    main()
