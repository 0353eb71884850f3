"""Memory bounded by what a file may hold, not by what it claims; networks refused before allocating.

No test here allocates more than a few MB: each crafts a small file that claims a huge
size, and checks the refusal with tracemalloc (in process) or an address-space limit (in
a subprocess).
"""
import io
import json
import os
import resource
import subprocess
import sys
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import bprop
from bprop import ModelFileError, Network
from bprop.errors import DataError, InputError
from cli_helpers import bprop as run_bprop


def _peak_during(function, *args):
    """(the exception raised by function(*args), the peak traced allocation in bytes)."""
    tracemalloc.start()
    try:
        try:
            function(*args)
        except Exception as error:  # noqa: BLE001 -- returned for the caller to check
            raised = error
        else:
            raised = None
        return raised, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _model_bytes(network, kind="model", extra=()):
    """A model file's bytes, as Network.save writes it, plus ``extra`` (name, ZipInfo-compressed data)."""
    buffer = io.BytesIO()
    header = {"format": "bprop", "version": 1, "kind": kind, "network": network.config()}
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), np.uint8)}
    for l, (w, b) in enumerate(zip(network.weights, network.biases)):
        arrays[f"w{l}"], arrays[f"b{l}"] = w, b
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _with_member(path, base, name, zeros, header_claim=None):
    """Copy the zip ``base`` to ``path`` and add member ``name``: an .npy of ``zeros`` zero bytes, deflated."""
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with target.open(info, "w", force_zip64=True) as member:
            npy = io.BytesIO()
            shape = header_claim or (zeros // 8,)
            np.lib.format.write_array_header_2_0(npy, {"descr": "<f8", "fortran_order": False, "shape": shape})
            member.write(npy.getvalue())  # magic string and header
            chunk = bytes(1 << 20)
            for _ in range(zeros >> 20):
                member.write(chunk)
    return path


@pytest.fixture
def small_network():
    return Network([3, 4, 2], ["tanh", "softmax"], "cross_entropy", seed=0)


# ---- model and checkpoint files -----------------------------------------------------------------
def test_an_extra_member_of_zeros_is_refused_without_decompressing_it(tmp_path, small_network):
    # The attack: a small model file with an extra member of 256 MB of compressed zeros
    # (the attack used 2 GiB; the size only changes how long building the file takes).
    path = _with_member(tmp_path / "m.npz", _model_bytes(small_network), "extra.npy", 256 << 20)
    assert os.path.getsize(path) < 2 << 20
    error, peak = _peak_during(bprop.load, path)
    assert isinstance(error, ModelFileError) and "unexpected entry 'extra.npy'" in str(error)
    assert peak < 2 << 20


def test_a_checkpoint_member_claiming_more_than_its_shape_is_refused_before_reading(tmp_path, small_network):
    # trainer/optimizer/v0 may exist in a checkpoint, with w0's shape (4, 3): 96 bytes, not 64 MB.
    path = _with_member(tmp_path / "c.npz", _model_bytes(small_network, "checkpoint"),
                        "trainer/optimizer/v0.npy", 64 << 20)
    error, peak = _peak_during(bprop.load, path)
    assert isinstance(error, ModelFileError) and "more than an array of shape (4, 3) holds" in str(error)
    assert peak < 2 << 20


def test_wrong_shaped_optimizer_state_is_refused_when_read(tmp_path, small_network):
    path = _with_member(tmp_path / "c.npz", _model_bytes(small_network, "checkpoint"),
                        "trainer/optimizer/v0.npy", 0, header_claim=(3, 4))
    with pytest.raises(ModelFileError, match=r"v0 has shape \(3, 4\) but the header's architecture needs \(4, 3\)"):
        bprop.load(path)


def test_a_header_whose_architecture_needs_more_than_the_machine_has_is_refused(tmp_path, monkeypatch):
    header = {"format": "bprop", "version": 1, "kind": "model",
              "network": {"sizes": [1 << 24, 1 << 24], "activations": ["sigmoid"], "cost": "quadratic",
                          "dtype": "float64"}}
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(json.dumps(header).encode(), np.uint8), b0=np.zeros(1 << 24))
    path = tmp_path / "huge.npz"
    _with_member(path, buffer.getvalue(), "w0.npy", 0, header_claim=(1 << 24, 1 << 24))
    monkeypatch.setenv("BPROP_MEMORY_LIMIT", str(64 << 30))  # as on a 64 GB machine
    error, peak = _peak_during(bprop.load, path)
    assert isinstance(error, ModelFileError), error
    assert "huge.npz's arrays needs 2.25e+03 TB of memory" in str(error) or "needs 2.25 PB" in str(error)
    assert peak < 200 << 20  # b0 (128 MB) is in the file; w0's 2 PB are not


def test_big_endian_model_arrays_are_byte_swapped(tmp_path, small_network):
    buffer = io.BytesIO()
    header = {"format": "bprop", "version": 1, "kind": "model", "network": small_network.config()}
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), np.uint8)}
    for l, (w, b) in enumerate(zip(small_network.weights, small_network.biases)):
        arrays[f"w{l}"], arrays[f"b{l}"] = w.astype(">f8"), b.astype(">f8")
    np.savez(tmp_path / "big.npz", **arrays)
    loaded = bprop.load(tmp_path / "big.npz")
    X = np.random.default_rng(0).random((5, 3))
    np.testing.assert_array_equal(loaded.predict_proba(X), small_network.predict_proba(X))
    assert loaded.weights[0].dtype.isnative


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_a_version_that_is_not_an_integer_is_refused(tmp_path, small_network, version):
    buffer = io.BytesIO()
    header = {"format": "bprop", "version": version, "kind": "model", "network": small_network.config()}
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), np.uint8)}
    arrays.update({f"w{l}": w for l, w in enumerate(small_network.weights)})
    arrays.update({f"b{l}": b for l, b in enumerate(small_network.biases)})
    np.savez(tmp_path / "v.npz", **arrays)
    with pytest.raises(ModelFileError, match="no valid format version"):
        bprop.load(tmp_path / "v.npz")


def test_a_deeply_nested_header_is_one_line(tmp_path):
    nested = ("[" * 100000) + ("]" * 100000)
    np.savez(tmp_path / "deep.npz", header=np.frombuffer(nested.encode(), np.uint8))
    with pytest.raises(ModelFileError, match="nested too deeply"):
        bprop.load(tmp_path / "deep.npz")


def test_a_directory_given_as_a_model_is_named_as_one(tmp_path):
    result = run_bprop("evaluate", tmp_path, "--dataset", "digits")
    assert result.returncode == 1 and "is a directory, not a model file" in result.stderr


# ---- networks ----------------------------------------------------------------------------------
def test_a_network_too_large_for_any_machine_is_refused_before_allocating():
    error, peak = _peak_during(Network, [4, 10 ** 12, 3])
    assert isinstance(error, InputError)
    assert "needs 64 TB of memory, more than this machine has" in str(error)
    assert peak < 1 << 20


def test_a_float32_network_is_initialised_without_a_float64_copy():
    size = 1000 * 1000 * 4  # w0 of [1000, 1000] in float32: 4 MB
    error, peak = _peak_during(Network, [1000, 1000], "sigmoid", "quadratic", "nielsen", "float32", 0)
    assert error is None
    assert peak < size + (2 << 20)  # a float64 draw of w0 alone would add 8 MB


@pytest.mark.parametrize("init", ["large", "nielsen", "glorot", "he"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_initial_weights_for_a_seed_are_those_of_whole_float64_draws(init, dtype):
    """The block-wise initialisation gives exactly the values of drawing each array at once."""
    sizes = [300, 400, 7]
    network = Network(sizes, "relu" if init == "he" else "sigmoid", "quadratic", init, dtype, seed=5)
    rng = np.random.default_rng(5)
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        if init == "glorot":
            limit = np.sqrt(6.0 / (n_in + n_out))
            w, b = rng.uniform(-limit, limit, (n_out, n_in)), np.zeros(n_out)
        elif init == "he":
            w, b = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in), np.zeros(n_out)
        else:
            w = rng.standard_normal((n_out, n_in))
            if init == "nielsen":
                w = w / np.sqrt(n_in)
            b = rng.standard_normal(n_out)
        np.testing.assert_array_equal(network.weights[l], w.astype(dtype))
        np.testing.assert_array_equal(network.biases[l], b.astype(dtype))


def _limited(limit_bytes):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    return apply


def test_train_with_a_huge_hidden_layer_is_refused_saying_what_it_needs(tmp_path):
    env = {**os.environ, "BPROP_MEMORY_LIMIT": str(8 * 10 ** 9)}  # an 8 GB machine
    result = subprocess.run(
        [sys.executable, "-m", "bprop", "train", "--hidden", "100000000", "--out", tmp_path / "run", "--quiet"],
        capture_output=True, text=True, env=env, preexec_fn=_limited(3 << 30), timeout=300)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert "a network of sizes [64, 100000000, 10]" in result.stderr
    assert "needs 30 GB of memory, more than this machine has (8 GB)" in result.stderr


# ---- inputs to predict ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.npz"
    Network([4, 5, 3], ["relu", "softmax"], "cross_entropy", seed=0).save(path)
    return path


def test_a_npy_header_claiming_ten_billion_rows_is_refused_in_one_line(tmp_path, model_file):
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 10, 64)})
    (tmp_path / "x.npy").write_bytes(npy.getvalue() + bytes(4096))
    result = subprocess.run([sys.executable, "-m", "bprop", "predict", model_file, tmp_path / "x.npy"],
                            capture_output=True, text=True, preexec_fn=_limited(2 << 30), timeout=120)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "claims shape (10000000000, 64)" in result.stderr and "truncated or corrupt" in result.stderr


def test_a_zero_dimensional_npy_is_refused_in_one_line(tmp_path, model_file):
    np.save(tmp_path / "x.npy", np.float64(3.0))
    result = run_bprop("predict", model_file, tmp_path / "x.npy")
    assert result.returncode == 1 and "a single number (a 0-d array)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_big_endian_npy_predicts_like_a_native_one(tmp_path, model_file):
    X = np.random.default_rng(0).random((3, 4))
    np.save(tmp_path / "native.npy", X)
    np.save(tmp_path / "swapped.npy", X.astype(">f8"))
    native = run_bprop("predict", model_file, tmp_path / "native.npy", "--json", check=0)
    swapped = run_bprop("predict", model_file, tmp_path / "swapped.npy", "--json", check=0)
    assert json.loads(native.stdout) == [{**r, "input": str(tmp_path / "native.npy")}
                                         for r in json.loads(swapped.stdout)]


def test_a_directory_given_as_an_input_is_named_as_one(tmp_path, model_file):
    result = run_bprop("predict", model_file, tmp_path)
    assert result.returncode == 1 and "is a directory, not an input file" in result.stderr


# ---- data set files ------------------------------------------------------------------------------
def test_an_npz_data_set_skips_members_it_does_not_use_without_decompressing_them(tmp_path):
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(buffer, X=rng.random((40, 3)), y=rng.integers(0, 2, 40))
    path = _with_member(tmp_path / "d.npz", buffer.getvalue(), "junk.npy", 256 << 20)
    from bprop.data import load_dataset

    error, peak = _peak_during(load_dataset, f"npz:{path}")
    assert error is None and peak < 4 << 20


def test_an_npz_data_set_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    buffer = io.BytesIO()
    np.savez(buffer, y=np.zeros(1 << 20, np.int64))
    _with_member(path, buffer.getvalue(), "X.npy", 64 << 20, header_claim=(1 << 20, 8))
    monkeypatch.setenv("BPROP_MEMORY_LIMIT", str(32 << 20))
    from bprop.data import load_dataset

    error, peak = _peak_during(load_dataset, f"npz:{path}")
    assert isinstance(error, DataError) and "d.npz's arrays needs 75.5 MB of memory" in str(error)
    assert peak < 4 << 20


def test_training_that_needs_more_than_the_machine_is_refused_before_the_first_step(monkeypatch):
    network = Network([100, 1000, 10], "sigmoid", "quadratic", seed=0)  # 111,010 float64 parameters: 0.89 MB
    before = [w.copy() for w in network.weights]
    monkeypatch.setenv("BPROP_MEMORY_LIMIT", str(35 * 10 ** 5))  # the network fits, Adam's training does not
    X, y = np.zeros((50, 100)), np.zeros(50, dtype=int)
    with pytest.raises(InputError, match=r"training a network of sizes \[100, 1000, 10\] with mini-batches "
                                         r"of 10 .* needs 4.77 MB of memory, more than this machine has \(3.5 MB\)"):
        network.fit(X, y, optimizer="adam", epochs=1)
    for w, w0 in zip(network.weights, before):
        np.testing.assert_array_equal(w, w0)
    network.fit(X, y, optimizer="sgd", epochs=1)  # plain SGD: weights, gradients, last good copy fit


def test_gradcheck_with_a_huge_mini_batch_is_refused_saying_what_it_needs():
    result = run_bprop("gradcheck", "--batch", "1000000000")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "a gradient check on a mini-batch of 1,000,000,000 needs 288 GB of memory" in result.stderr


def test_an_allocation_that_fails_anyway_is_one_line():
    # The machine claims 1 TB (so no check refuses) but the process may use only 1.5 GB.
    env = {**os.environ, "BPROP_MEMORY_LIMIT": str(10 ** 12)}
    result = subprocess.run([sys.executable, "-m", "bprop", "gradcheck", "--batch", "50000000"],
                            capture_output=True, text=True, env=env, preexec_fn=_limited(3 << 29), timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("bprop gradcheck: error: out of memory")


def test_a_confusion_matrix_of_thousands_of_classes_is_a_bounded_picture(tmp_path):
    from PIL import Image

    from bprop import plots

    n = 3000  # the CSV whose "label" was an ID: the run died drawing this
    matrix = np.zeros((n, n), dtype=np.int64)
    matrix[np.arange(n), np.arange(n)] = 1
    plots.confusion_matrix(matrix, [str(k) for k in range(n)], tmp_path / "cm.png")
    with Image.open(tmp_path / "cm.png") as image:
        assert max(image.size) <= 17 * 110  # at most 17 inches at the saved 110 dpi


def test_a_csv_data_set_larger_than_memory_can_parse_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n" + "0.5,0.25,1\n0.125,0.75,0\n" * 50000)  # 1.2 MB of text
    monkeypatch.setenv("BPROP_MEMORY_LIMIT", str(10 ** 7))
    from bprop.data import load_dataset, tabular  # noqa: F401 -- imported before measuring

    error, peak = _peak_during(load_dataset, f"csv:{path}")
    assert isinstance(error, DataError) and "needs 11.4 MB of memory" in str(error)
    assert "npz:PATH" in str(error) and peak < 2 << 20  # refused before its rows were read
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))   # lines ended by a lone \r
    error, _ = _peak_during(load_dataset, f"csv:{path}")
    assert isinstance(error, DataError) and "needs 11.4 MB of memory" in str(error)
    monkeypatch.setenv("BPROP_MEMORY_LIMIT", str(10 ** 8))
    error, peak = _peak_during(load_dataset, f"csv:{path}")
    assert error is None and peak <= 11.4e6              # and the estimate holds


def test_a_csv_read_from_a_pipe_is_checked_as_its_matrix_grows(tmp_path, monkeypatch):
    """A pipe's row count is not known ahead: each doubling of the matrix is checked."""
    import threading

    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)

    def write():
        try:
            with open(fifo, "w") as f:
                f.write("a,b,label\n" + "0.5,0.25,1\n" * 100000)
        except BrokenPipeError:    # the reader stopped at the refusal
            pass

    monkeypatch.setenv("BPROP_MEMORY_LIMIT", str(10 ** 5))
    from bprop.data import load_dataset

    writer = threading.Thread(target=write)
    writer.start()
    with pytest.raises(DataError, match=r"rows.csv's rows \(as float32\) needs .* of memory.*npz:PATH"):
        load_dataset(f"csv:{fifo}")
    writer.join(10)


def test_a_csv_s_long_class_names_are_counted_too(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    name = "a class name thirty-three letters"
    path.write_text("a,b,label\n" + f"0.5,0.25,{name} 1\n0.125,0.75,{name} 0\n" * 50000)
    from bprop.data import load_dataset

    monkeypatch.setenv("BPROP_MEMORY_LIMIT", str(3 * 10 ** 7))   # the features' 11.4 MB fit
    error, _ = _peak_during(load_dataset, f"csv:{path}")
    assert isinstance(error, DataError) and "100,000, up to 35 characters) needs 42 MB" in str(error)
    monkeypatch.setenv("BPROP_MEMORY_LIMIT", str(10 ** 8))
    error, peak = _peak_during(load_dataset, f"csv:{path}")
    assert error is None and peak <= 11.4e6 + 42.0e6


def test_a_csv_file_is_streamed_into_its_matrix_not_held_as_text(tmp_path):
    """MNIST as CSV (the common download): loading takes about the features' matrix and
    one shuffled copy of it, a few bytes per byte of text, not every cell as a string."""
    rng = np.random.default_rng(0)
    pixels, labels = rng.integers(0, 256, (2000, 784)), rng.integers(0, 10, 2000)
    path = tmp_path / "mnist.csv"
    path.write_text("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n"
                    + "".join(f"{y}," + ",".join(map(str, x)) + "\n" for x, y in zip(pixels, labels)))
    from bprop.data import load_dataset

    error, peak = _peak_during(load_dataset, f"csv:{path}")
    assert error is None
    assert peak < 2000 * 784 * 9 + 2000 * 96 < 3 * path.stat().st_size   # (12 x before)
    data = load_dataset(f"csv:{path}", seed=0)
    rows = np.concatenate([data.train[0], data.validation[0], data.test[0]])
    classes = np.concatenate([data.train[1], data.validation[1], data.test[1]])
    by_pixels = {tuple(x): y for x, y in zip(pixels.astype(np.float32), labels)}
    assert len(rows) == 2000 and all(by_pixels[tuple(x)] == c for x, c in zip(rows, classes))
