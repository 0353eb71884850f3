"""npz:PATH data sets: which arrays are used, images, labels, and refusing hostile archives."""
import io
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bprop.data import Dataset, load_dataset
from bprop.errors import DataError


def savez(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture
def mnist_like(tmp_path):
    """Keras's mnist.npz layout: uint8 images (n, 28, 28), labels (n,), own test split."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 12).astype(np.uint8),
        "x_test": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_test": np.arange(5, dtype=np.uint8),
    }
    arrays["y_train"][:10] = np.arange(10)  # every class present
    return savez(tmp_path / "mnist.npz", **arrays), arrays


def test_train_and_test_arrays_with_uint8_images(mnist_like):
    path, arrays = mnist_like
    ds = load_dataset(f"npz:{path}")
    assert ds.image_shape == (28, 28) and ds.n_features == 784 and ds.n_classes == 10
    assert (len(ds.train[1]), len(ds.validation[1]), len(ds.test[1])) == (10, 2, 5)
    flat = arrays["x_train"].reshape(12, -1) / np.float32(255)
    np.testing.assert_array_equal(ds.train[0], flat[:10])
    np.testing.assert_array_equal(ds.validation[0], flat[10:])  # the last sixth, like MNIST
    np.testing.assert_array_equal(ds.test[1], arrays["y_test"])
    assert ds.train[0].dtype == np.float32 and ds.train[1].dtype == np.int64
    assert ds.name == f"npz:{path}" and ds.source == str(path)


def test_x_and_y_only_are_shuffled_and_split_60_20_20(tmp_path):
    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    path = savez(tmp_path / "a.npz", X=X, y=np.array(list("ababababab")))
    ds = load_dataset(f"npz:{path}", seed=3)
    assert (len(ds.train[1]), len(ds.validation[1]), len(ds.test[1])) == (6, 2, 2)
    assert ds.class_names == ["a", "b"] and ds.image_shape is None
    rows = sorted((tuple(x), ds.class_names[k]) for split in (ds.train, ds.validation, ds.test)
                  for x, k in zip(*split))
    assert rows == sorted((tuple(map(float, X[i])), "ab"[i % 2]) for i in range(10))
    np.testing.assert_array_equal(ds.train[0], load_dataset(f"npz:{path}", seed=3).train[0])


def test_float_features_are_not_scaled(tmp_path):
    path = savez(tmp_path / "a.npz", X=np.array([[300.0], [-2.0], [5.0]]), y=np.array([0, 1, 0]))
    ds = load_dataset(f"npz:{path}", validation_size=0)
    X = np.concatenate([pair[0] for pair in (ds.train, ds.test) if pair is not None])
    assert sorted(X[:, 0].tolist()) == [-2.0, 5.0, 300.0]


def test_capitalised_names_validation_split_and_channel_axis(tmp_path):
    images = np.zeros((6, 4, 4, 1), dtype=np.uint8)
    path = savez(tmp_path / "a.npz", X_train=images, Y_train=np.arange(6) % 3,
                 X_val=images[:2], Y_val=np.array([2, 0]))
    ds = load_dataset(f"npz:{path}")
    assert ds.image_shape == (4, 4) and len(ds.validation[1]) == 2 and ds.test is None
    assert ds.validation[1].tolist() == [2, 0]


def test_own_validation_split_with_validation_size_is_refused(tmp_path):
    X = np.zeros((4, 2))
    path = savez(tmp_path / "a.npz", x_train=X, y_train=np.arange(4), x_val=X, y_val=np.arange(4))
    with pytest.raises(DataError, match="has its own validation split"):
        load_dataset(f"npz:{path}", validation_size=1)


def test_class_names_array_names_integer_labels(tmp_path):
    path = savez(tmp_path / "a.npz", x_train=np.zeros((3, 2)), y_train=np.array([0, 2, 2]),
                 class_names=np.array(["cat", "dog", "eel"]))
    ds = load_dataset(f"npz:{path}", validation_size=0)
    assert ds.class_names == ["cat", "dog", "eel"] and ds.train[1].tolist() == [0, 2, 2]


def test_labels_are_encoded_across_all_splits_together(tmp_path):
    path = savez(tmp_path / "a.npz", x_train=np.zeros((2, 1)), y_train=np.array([5, 7]),
                 x_test=np.zeros((2, 1)), y_test=np.array([9, 5]))
    ds = load_dataset(f"npz:{path}", validation_size=0)
    assert ds.class_names == ["5", "7", "9"]
    assert ds.train[1].tolist() == [0, 1] and ds.test[1].tolist() == [2, 0]


def refuses(path, *fragments):
    with pytest.raises(DataError) as info:
        load_dataset(f"npz:{path}")
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_pickled_object_array_is_refused(tmp_path):
    path = savez(tmp_path / "a.npz", X=np.array([[1], ["evil"]], dtype=object), y=np.array([0, 1]))
    refuses(path, "Python objects", "never")


def test_missing_arrays_lists_what_it_has_and_looks_for(tmp_path):
    refuses(savez(tmp_path / "a.npz", data=np.zeros(3)), "holds data", "looks for X and y, or x_train and y_train")


def test_x_train_without_y_train(tmp_path):
    refuses(savez(tmp_path / "a.npz", x_train=np.zeros((3, 2))), "has x_train but no y_train")


def test_label_count_mismatch(tmp_path):
    refuses(savez(tmp_path / "a.npz", X=np.zeros((3, 2)), y=np.zeros(2, int)), "3 examples but y has 2 labels")


def test_nan_in_features(tmp_path):
    refuses(savez(tmp_path / "a.npz", X=np.array([[1.0], [np.nan]]), y=np.array([0, 1])), "NaN")


def test_empty_data(tmp_path):
    refuses(savez(tmp_path / "a.npz", X=np.zeros((0, 3)), y=np.zeros(0, int)), "no training examples")


def test_one_hot_labels_get_a_hint(tmp_path):
    refuses(savez(tmp_path / "a.npz", X=np.zeros((2, 3)), y=np.eye(2)), "argmax")


def test_features_of_the_wrong_shape_or_kind(tmp_path):
    refuses(savez(tmp_path / "a.npz", X=np.zeros(4), y=np.zeros(4, int)), "expected (n, features)")
    refuses(savez(tmp_path / "b.npz", X=np.array([["a"], ["b"]]), y=np.zeros(2, int)), "must be numbers")


def test_npy_file_is_not_an_npz(tmp_path):
    path = tmp_path / "a.npz"
    np.save(path.with_suffix(".npy"), np.zeros(3))
    path.with_suffix(".npy").rename(path)
    refuses(path, ".npy file holding one array")


def test_pickle_file_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "a.npz"
    path.write_bytes(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94.")
    refuses(path, "not an .npz file")


def test_missing_file(tmp_path):
    refuses(tmp_path / "absent.npz", "no such file")


def npy_member(shape, payload, descr="<f8"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + payload


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_header_claiming_a_huge_shape_fails_fast_without_allocating(tmp_path, compression):
    path = tmp_path / "a.npz"
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("X.npy", npy_member((2**31, 2**9), b"\x00" * 64))
        archive.writestr("y.npy", npy_member((2,), b"\x00" * 16, "<i8"))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        refuses(path, "claims shape (2147483648, 512)")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 0.5 and peak < 4 * 2**20


def test_member_whose_zip_record_lies_about_its_size(tmp_path):
    """A consistent .npy header in a member that claims to expand 10^6-fold is refused."""
    path = tmp_path / "a.npz"
    member = npy_member((10**6,), b"")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("X.npy", member)
    data = bytearray(path.read_bytes())
    claimed = (len(member) + 8 * 10**6).to_bytes(4, "little")
    # Patch the uncompressed size in the local header (offset 22) and central directory.
    data[22:26] = claimed
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = claimed
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        refuses(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20


# --- properties ----------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("npz")


def _valid_npz_bytes():
    buffer = io.BytesIO()
    np.savez_compressed(buffer, X=np.arange(12, dtype=np.uint8).reshape(3, 2, 2), y=np.array([0, 1, 0]))
    stored = io.BytesIO()
    np.savez(stored, x_train=np.arange(6.0).reshape(3, 2), y_train=np.array([1, 2, 1]))
    return buffer.getvalue(), stored.getvalue()


VALID_COMPRESSED, VALID_STORED = _valid_npz_bytes()


def dataset_or_data_error(path):
    try:
        ds = load_dataset(f"npz:{path}")
    except DataError as error:
        assert "\n" not in str(error)
        return None
    assert isinstance(ds, Dataset) and np.isfinite(ds.train[0]).all()
    assert 0 <= ds.train[1].min() and ds.train[1].max() < ds.n_classes
    return ds


@st.composite
def mutated(draw, data):
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "flip", "truncate", "insert"]))
        at = draw(st.integers(0, len(data) - 1)) if data else 0
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@FUZZ
@given(data=st.one_of(mutated(VALID_COMPRESSED), mutated(VALID_STORED)))
def test_mutated_npz_gives_a_dataset_or_a_data_error(scratch, data):
    path = scratch / "mutated.npz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        dataset_or_data_error(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_give_a_dataset_or_a_data_error(scratch, data):
    path = scratch / "fuzz.npz"
    path.write_bytes(data)
    dataset_or_data_error(path)


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_after_a_zip_signature_give_a_dataset_or_a_data_error(scratch, data):
    path = scratch / "fuzz-zip.npz"
    path.write_bytes(b"PK\x03\x04" + data)
    dataset_or_data_error(path)


ANY_ARRAY = hnp.arrays(
    st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes()),
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
)


@FUZZ
@given(X=ANY_ARRAY, y=ANY_ARRAY, names=st.sampled_from([("X", "y"), ("x_train", "y_train")]))
def test_arrays_of_any_dtype_and_shape_give_a_dataset_or_a_data_error(scratch, X, y, names):
    path = scratch / "any.npz"
    np.savez(path, **{names[0]: X, names[1]: y})
    ds = dataset_or_data_error(path)
    if ds is not None:
        assert sum(len(p[1]) for p in (ds.train, ds.validation, ds.test) if p is not None) == len(y)
