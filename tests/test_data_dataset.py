"""The Dataset container, load_dataset's dispatch, the digits set, and a cheap import."""
import subprocess
import sys

import numpy as np
import pytest

from bprop.data import DATASETS, Dataset, load_dataset
from bprop.errors import DataError


def small_dataset(**changes):
    arguments = dict(
        name="toy",
        train=(np.zeros((4, 2)), np.array([0, 1, 1, 0])),
        validation=(np.ones((2, 2)), np.array([1, 0])),
        test=None,
        class_names=["no", "yes"],
    )
    arguments.update(changes)
    name, train = arguments.pop("name"), arguments.pop("train")
    return Dataset(name, train, **arguments)


def test_dataset_holds_float32_features_and_int64_labels():
    ds = small_dataset()
    assert ds.train[0].dtype == np.float32 and ds.train[1].dtype == np.int64
    assert ds.train[0].flags.c_contiguous
    assert (ds.n_features, ds.n_classes, ds.test, ds.image_shape) == (2, 2, None, None)
    assert repr(ds) == "Dataset('toy', train=4, validation=2, test=None, n_features=2, n_classes=2)"


@pytest.mark.parametrize("changes, fragment", [
    ({"train": (np.zeros((0, 2)), np.zeros(0, int))}, "training split is empty"),
    ({"train": (np.zeros((3, 2)), np.array([0, 1]))}, "3 examples but 2 labels"),
    ({"train": (np.array([[0.0, np.inf]]), np.array([0]))}, "feature 1 of example 0 is inf"),
    ({"train": (np.zeros((2, 2)), np.array([0, 2]))}, "labels must be in 0..1"),
    ({"train": (np.zeros((2, 2)), np.array([0.0, 1.0]))}, "1-D array of class indices"),
    ({"train": (np.zeros(2), np.array([0, 1]))}, "must be a matrix"),
    ({"validation": (np.zeros((2, 3)), np.array([0, 1]))}, "has 3 features per row but the training split has 2"),
    ({"image_shape": (3, 3)}, "image_shape (3, 3) does not hold 2 features"),
    ({"class_names": []}, "no classes"),
    ({"train": np.zeros((2, 2))}, "must be a pair (X, y)"),
])
def test_dataset_refuses_inconsistent_splits(changes, fragment):
    with pytest.raises(DataError) as info:
        small_dataset(**changes)
    assert fragment in str(info.value)


def test_unknown_name_lists_the_choices():
    with pytest.raises(DataError, match="unknown data set 'cifar'; choose one of digits, mnist, fashion-mnist"):
        load_dataset("cifar")


@pytest.mark.parametrize("name", ["csv:", "npz:", "", 42])
def test_malformed_names(name):
    with pytest.raises(DataError):
        load_dataset(name)


def test_datasets_describes_each_named_set():
    assert list(DATASETS) == ["digits", "mnist", "fashion-mnist"]
    assert all(isinstance(text, str) and text for text in DATASETS.values())


def test_digits_are_8x8_scaled_and_split_60_20_20():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    ds = load_dataset("digits")
    sizes = [len(pair[1]) for pair in (ds.train, ds.validation, ds.test)]
    assert sum(sizes) == 1797 and sizes == [1078, 360, 359]
    assert ds.image_shape == (8, 8) and ds.n_features == 64 and ds.class_names == list("0123456789")
    X = np.concatenate([pair[0] for pair in (ds.train, ds.validation, ds.test)])
    assert X.dtype == np.float32 and X.min() == 0.0 and X.max() == 1.0
    # The same images as scikit-learn's, each once, with its own label.
    original = sklearn_datasets.load_digits()
    ours = sorted(map(tuple, np.column_stack([X * 16, np.concatenate([p[1] for p in (ds.train, ds.validation, ds.test)])])))
    theirs = sorted(map(tuple, np.column_stack([original.data, original.target])))
    assert ours == theirs


def test_digits_split_depends_on_the_seed_only():
    pytest.importorskip("sklearn")
    a, b, c = load_dataset("digits", seed=0), load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    np.testing.assert_array_equal(a.test[1], b.test[1])
    assert not np.array_equal(a.test[1], c.test[1])


def test_digits_without_scikit_learn_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(DataError, match="pip install scikit-learn"):
        load_dataset("digits")


def test_importing_bprop_data_loads_no_heavy_module():
    code = (
        "import sys, bprop.data; "
        "print(sorted(m for m in ('sklearn', 'tqdm', 'matplotlib', 'urllib.request') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
