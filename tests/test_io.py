"""Save and load: exact round trips, atomic writes, and hostile or broken files refused
with ``bprop.ModelFileError`` (a ValueError) -- never unpickled, never a huge allocation."""
import io
import json
import os
import pickle
import tracemalloc
import zipfile

import numpy as np
import pytest

import bprop
from bprop import ModelFileError, Network


def header_bytes(sizes=(3, 4, 2), version=1, kind="model", dtype="float64", **changes):
    header = {"format": "bprop", "version": version, "kind": kind,
              "network": {"sizes": list(sizes), "activations": ["tanh"] * (len(sizes) - 2) + ["softmax"],
                          "cost": "cross_entropy", "init": "nielsen", "dtype": dtype, "seed": 0}}
    header.update(changes)
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


def parameter_arrays(sizes=(3, 4, 2), dtype="float64"):
    rng = np.random.default_rng(0)
    arrays = {}
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        arrays[f"w{l}"] = rng.standard_normal((n_out, n_in)).astype(dtype)
        arrays[f"b{l}"] = rng.standard_normal(n_out).astype(dtype)
    return arrays


def write_npz(path, header, arrays):
    np.savez(path, header=header, **arrays)
    return path


def model_with_entry(path, entry, data, header=None):
    """A valid model file plus (or with replaced) ``entry`` holding raw ``data``."""
    valid = io.BytesIO()
    np.savez(valid, header=header if header is not None else header_bytes(), **parameter_arrays())
    with zipfile.ZipFile(valid) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            if info.filename != entry:
                target.writestr(info.filename, source.read(info.filename))
        target.writestr(entry, data)
    return path


# ---- round trips ----------------------------------------------------------------------------------
def test_round_trip_keeps_the_leaky_relu_slope_class_names_and_image_format(tmp_path):
    from bprop.activations import LeakyReLU
    from bprop.images import ImageFormat

    net = Network([4, 6, 3], [LeakyReLU(0.3), "softmax"], "cross_entropy", seed=2)
    net.class_names = ["setosa", "versicolor", "virginica"]
    net.image_format = ImageFormat((2, 2), 2, "box")
    X = np.random.default_rng(3).standard_normal((50, 4)) * 5  # many negative z: the slope matters
    net.save(tmp_path / "m.npz")
    loaded = bprop.load(tmp_path / "m.npz")
    assert loaded.activations[0].alpha == 0.3
    assert loaded.class_names == ["setosa", "versicolor", "virginica"]
    assert loaded.image_format == ImageFormat((2, 2), 2, "box")
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))


@pytest.mark.parametrize("changes, fragment", [
    ({"class_names": ["a", "b", "c"]}, "class names"),
    ({"class_names": "ab"}, "class names"),
    ({"image_format": {"shape": [2, 2], "box": 9, "centre": "mass"}}, "image format"),
    ({"image_format": {"shape": [5, 5], "box": 5, "centre": "box"}}, "image shape"),
])
def test_header_metadata_that_does_not_fit_the_network_is_refused(tmp_path, changes, fragment):
    path = write_npz(tmp_path / "m.npz", header_bytes(sizes=(4, 4, 2), **changes),
                     parameter_arrays(sizes=(4, 4, 2)))
    with pytest.raises(ModelFileError, match=fragment):
        bprop.load(path)


def test_a_leaky_relu_slope_of_one_or_more_is_refused():
    from bprop.activations import LeakyReLU

    with pytest.raises(ValueError, match="slope"):
        LeakyReLU(1.5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("names, cost", [
    (["relu", "softmax"], "cross_entropy"),
    (["sigmoid", "sigmoid"], "quadratic"),
    (["tanh", "sigmoid"], "cross_entropy"),
    (["leaky_relu", "identity"], "quadratic"),
])
def test_round_trip_reproduces_predictions_exactly(tmp_path, dtype, names, cost):
    net = Network([5, 7, 3], names, cost, dtype=dtype, seed=1)
    X = np.random.default_rng(2).standard_normal((20, 5))
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = bprop.load(path)
    assert loaded.config() == net.config()
    assert np.array_equal(loaded.feedforward(X), net.feedforward(X))
    for p, q in zip(loaded.weights + loaded.biases, net.weights + net.biases):
        assert p.dtype == np.dtype(dtype) and np.array_equal(p, q)


def test_round_trip_of_a_trained_network_keeps_its_evaluation(tmp_path):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((60, 4)), rng.integers(0, 3, 60)
    net = Network([4, 6, 3], ["tanh", "softmax"], "cross_entropy", seed=4)
    net.fit(X, y, epochs=2)
    net.save(tmp_path / "trained.npz")
    assert bprop.load(tmp_path / "trained.npz").evaluate(X, y) == net.evaluate(X, y)


def test_load_accepts_str_paths(tmp_path):
    net = Network([3, 2], seed=0)
    net.save(str(tmp_path / "model.npz"))
    assert bprop.load(str(tmp_path / "model.npz")).sizes == [3, 2]


def test_loaded_parameters_are_writable_arrays(tmp_path):
    Network([3, 2], seed=0).save(tmp_path / "model.npz")
    loaded = bprop.load(tmp_path / "model.npz")
    loaded.weights[0] += 1  # would raise on a read-only buffer
    loaded.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1)


# ---- atomic writes -------------------------------------------------------------------------------------
def test_save_leaves_no_temporary_files_beside_the_target(tmp_path):
    net = Network([3, 4, 2], seed=0)
    net.save(tmp_path / "model.npz")
    net.save(tmp_path / "model.npz")  # overwrite too
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_failed_save_leaves_the_old_file_intact_and_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = Network([3, 4, 2], seed=0)
    old.save(path)
    before = path.read_bytes()

    def half_written(file, **arrays):
        file.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", half_written)
    with pytest.raises(OSError, match="disk full"):
        Network([3, 4, 2], seed=1).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


# ---- files that must be refused -------------------------------------------------------------------------
def test_a_missing_file_raises_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        bprop.load(tmp_path / "absent.npz")


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelFileError, match="noise.npz"):
        bprop.load(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_a_truncated_file_is_refused(tmp_path, fraction):
    path = tmp_path / "model.npz"
    Network([30, 20, 10], seed=0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(ModelFileError):
        bprop.load(path)


def test_an_object_array_is_refused_without_unpickling(tmp_path, monkeypatch):
    unpickled = []

    def refuse(*args, **kwargs):
        unpickled.append(True)
        raise AssertionError("pickle was used")

    arrays = parameter_arrays()
    arrays["w0"] = np.empty(arrays["w0"].shape, dtype=object)
    arrays["w0"][...] = 0.5
    path = write_npz(tmp_path / "pickled.npz", header_bytes(), arrays)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    with pytest.raises(ModelFileError, match=r"dtype object.*never loaded"):
        bprop.load(path)
    assert not unpickled


def test_an_extra_pickled_entry_is_refused(tmp_path):
    arrays = parameter_arrays()
    arrays["payload"] = np.array([{"run": "code"}], dtype=object)
    path = write_npz(tmp_path / "extra.npz", header_bytes(), arrays)
    with pytest.raises(ModelFileError, match="unexpected entry 'payload.npy'"):  # never even opened
        bprop.load(path)


def test_an_npz_without_a_bprop_header_is_refused(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, **parameter_arrays())
    with pytest.raises(ModelFileError, match="not a bprop file"):
        bprop.load(path)


def test_a_header_that_is_not_json_is_refused(tmp_path):
    path = write_npz(tmp_path / "bad.npz", np.frombuffer(b"{not json", np.uint8), parameter_arrays())
    with pytest.raises(ModelFileError, match="not valid JSON"):
        bprop.load(path)


def test_a_future_format_version_is_refused_with_advice_to_upgrade(tmp_path):
    path = write_npz(tmp_path / "future.npz", header_bytes(version=99), parameter_arrays())
    with pytest.raises(ModelFileError, match=r"version 99.*upgrade bprop"):
        bprop.load(path)


def test_arrays_whose_shapes_do_not_match_the_header_are_refused(tmp_path):
    arrays = parameter_arrays()
    arrays["w0"] = arrays["w0"].T.copy()  # (3, 4) where the header's [3, 4, 2] needs (4, 3)
    path = write_npz(tmp_path / "transposed.npz", header_bytes(), arrays)
    with pytest.raises(ModelFileError, match=r"w0 has shape \(3, 4\).*needs \(4, 3\)"):
        bprop.load(path)


def test_a_missing_weight_array_is_refused(tmp_path):
    arrays = parameter_arrays()
    del arrays["b1"]
    path = write_npz(tmp_path / "short.npz", header_bytes(), arrays)
    with pytest.raises(ModelFileError, match="missing arrays b1"):
        bprop.load(path)


def test_arrays_of_another_dtype_than_the_header_says_are_refused(tmp_path):
    path = write_npz(tmp_path / "mixed.npz", header_bytes(dtype="float32"), parameter_arrays(dtype="float64"))
    with pytest.raises(ModelFileError, match="float64 but the header says float32"):
        bprop.load(path)


def test_non_finite_parameters_are_refused(tmp_path):
    arrays = parameter_arrays()
    arrays["b0"][1] = np.nan
    path = write_npz(tmp_path / "nan.npz", header_bytes(), arrays)
    with pytest.raises(ModelFileError, match="NaN or infinite"):
        bprop.load(path)


@pytest.mark.parametrize("sizes", [[3], [3, 0, 2], [3, -4, 2], "784-30-10", [3, 2 ** 40]])
def test_invalid_layer_sizes_in_the_header_are_refused(tmp_path, sizes):
    header = header_bytes()
    decoded = json.loads(header.tobytes())
    decoded["network"]["sizes"] = sizes
    path = write_npz(tmp_path / "sizes.npz", np.frombuffer(json.dumps(decoded).encode(), np.uint8),
                     parameter_arrays())
    with pytest.raises(ModelFileError, match="sizes"):
        bprop.load(path)


def test_an_unknown_activation_in_the_header_is_refused(tmp_path):
    decoded = json.loads(header_bytes().tobytes())
    decoded["network"]["activations"] = ["tanh", "swish"]
    path = write_npz(tmp_path / "swish.npz", np.frombuffer(json.dumps(decoded).encode(), np.uint8),
                     parameter_arrays())
    with pytest.raises(ModelFileError, match="swish"):
        bprop.load(path)


# ---- hostile size claims ---------------------------------------------------------------------------------
HUGE = (10 ** 9, 10 ** 9)


@pytest.mark.parametrize("entry, shape, descr", [
    ("w0.npy", HUGE, "<f8"),          # a weight matrix the header does not allow
    ("extra.npy", HUGE, "<f8"),       # an entry the header says nothing about
    ("header.npy", HUGE, "|u1"),      # the header itself
    ("extra.npy", (2 ** 62, 4), "<f8"),       # element count overflows int64 to 0
    ("extra.npy", (2 ** 62 + 1, 4), "<f8"),   # ... and to 4
])
def test_a_huge_size_claim_is_refused_without_allocating(tmp_path, entry, shape, descr):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    data = np.lib.format.magic(1, 0) + buffer.getvalue() + b"\0" * 32
    path = model_with_entry(tmp_path / "huge.npz", entry, data)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError):
            bprop.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2 ** 20  # the claim was 8 exabytes; nothing near it was allocated


def test_an_entry_that_is_not_an_npy_array_is_refused(tmp_path):
    path = model_with_entry(tmp_path / "odd.npz", "script.py", b"import os")
    with pytest.raises(ModelFileError, match="unexpected entry 'script.py'"):
        bprop.load(path)
