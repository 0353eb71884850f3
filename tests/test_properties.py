"""Property tests: arbitrary bytes, mutated files and arbitrary arrays at bprop's boundaries.

Every outcome must be a correct result or the documented error type (a ValueError
subclass from bprop.errors), never another exception, a hang or a huge allocation.
"""
import io as _bytes
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bprop
from bprop.errors import InputError, ModelFileError
from bprop.runs import read_checkpoint, write_checkpoint

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _valid_model_bytes(tmp_path):
    net = bprop.Network([3, 4, 2], ["relu", "softmax"], "cross_entropy", seed=0)
    net.save(tmp_path / "model.npz")
    return (tmp_path / "model.npz").read_bytes(), net


def _load_bytes(tmp_path, data, name="candidate.npz", reader=bprop.load):
    path = tmp_path / name
    path.write_bytes(data)
    try:
        return reader(path)
    except ModelFileError as error:
        assert "\n" not in str(error)
        return None


@SETTINGS
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_are_refused_as_a_model_file(tmp_path, data):
    assert _load_bytes(tmp_path, data) is None


@SETTINGS
@given(st.data())
def test_mutated_model_files_load_correctly_or_are_refused(tmp_path, data):
    valid, net = _valid_model_bytes(tmp_path)
    mutated = bytearray(valid)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        mutated = mutated[:data.draw(st.integers(0, len(mutated)))]
    loaded = _load_bytes(tmp_path, bytes(mutated))
    if loaded is not None:  # a mutation that kept the file valid: it must still be a sound network
        assert loaded.sizes == net.sizes
        assert all(np.isfinite(p).all() for p in loaded.weights + loaded.biases)
        assert loaded.predict_proba(np.ones((1, 3))).shape == (1, 2)


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory):
    net = bprop.Network([3, 4, 2], ["tanh", "softmax"], "cross_entropy", seed=0)
    trainer = bprop.Trainer(net, epochs=1, batch_size=4, optimizer="adam")
    trainer.run(np.random.default_rng(0).random((8, 3)), np.arange(8) % 2)
    path = tmp_path_factory.mktemp("checkpoint") / "checkpoint.npz"
    write_checkpoint(path, trainer)
    return path.read_bytes()


@SETTINGS
@given(st.data())
def test_mutated_checkpoints_are_read_correctly_or_refused(tmp_path, checkpoint_bytes, data):
    mutated = bytearray(checkpoint_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    _load_bytes(tmp_path, bytes(mutated), "checkpoint.npz", read_checkpoint)


def _zip_with(entries):
    buffer = _bytes.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in entries.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def _npy(array, allow_pickle=False):
    buffer = _bytes.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def test_a_pickled_object_inside_the_archive_is_never_unpickled(tmp_path):
    valid, _ = _valid_model_bytes(tmp_path)
    with zipfile.ZipFile(_bytes.BytesIO(valid)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle executed')",))

    entries["w0.npy"] = _npy(np.array([Boom()], dtype=object), allow_pickle=True)
    with pytest.raises(ModelFileError, match="object arrays are never loaded"):
        _load_bytes_raising(tmp_path, _zip_with(entries))


def _load_bytes_raising(tmp_path, data):
    path = tmp_path / "hostile.npz"
    path.write_bytes(data)
    return bprop.load(path)


def test_a_huge_size_claim_is_refused_before_allocating(tmp_path):
    valid, _ = _valid_model_bytes(tmp_path)
    with zipfile.ZipFile(_bytes.BytesIO(valid)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    header = np.lib.format.header_data_from_array_1_0(np.zeros((4, 3)))
    header["shape"] = (10 ** 9, 10 ** 9)
    buffer = _bytes.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    entries["w0.npy"] = buffer.getvalue() + b"\0" * 96
    with pytest.raises(ModelFileError, match="shape"):
        _load_bytes_raising(tmp_path, _zip_with(entries))


arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
    elements={"allow_nan": True, "allow_infinity": True},
)


@SETTINGS
@given(X=arrays, y=arrays)
def test_public_api_gives_a_result_or_an_input_error(X, y):
    net = bprop.Network([3, 4, 2], ["sigmoid", "softmax"], "cross_entropy", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for call in (lambda: net.predict(X), lambda: net.evaluate(X, y),
                     lambda: net.fit(X, y, epochs=1, batch_size=2), lambda: net.backprop(X, y)):
            try:
                call()
            except InputError as error:
                assert "\n" not in str(error)
    assert all(np.isfinite(p).all() for p in net.weights + net.biases)
