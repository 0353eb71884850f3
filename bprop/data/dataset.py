"""The Dataset container, and the checks and splits every loader shares."""
import contextlib

import numpy as np

from bprop.errors import DataError

__all__ = ["Dataset"]

# Tabular data without a test split of its own is shuffled and split 60/20/20:
# TEST_FRACTION of everything is held out for testing, then VALIDATION_FRACTION of the rest.
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.25


class Dataset:
    """A classification data set split into training, validation and test examples.

    Each split is a pair ``(X, y)``: ``X`` float32 of shape ``(n, n_features)``, one example
    per row (images flattened row-major, pixels in [0, 1]); ``y`` int64 class indices of
    shape ``(n,)``, in ``0 .. n_classes - 1``.

    Attributes
    ----------
    name : str
        What the data set was asked for by, e.g. ``"mnist"`` or ``"csv:iris.csv"``.
    train : tuple of numpy.ndarray
        ``(X, y)``, never empty.
    validation, test : tuple of numpy.ndarray or None
        ``(X, y)``, or None when the data set has no such split.
    image_shape : tuple of int or None
        ``(height, width)`` for image data, None for tabular data.
    class_names : list of str
        ``class_names[k]`` names class index ``k``.
    source : str
        Where the data came from: a path, a directory or a package.
    """

    def __init__(self, name, train, validation=None, test=None, *, class_names,
                 image_shape=None, source=""):
        self.name = str(name)
        self.class_names = [str(c) for c in class_names]
        if not self.class_names:
            raise DataError(f"{self.name}: no classes; the data set needs at least one labelled example")
        self.image_shape = None if image_shape is None else tuple(int(d) for d in image_shape)
        self.source = str(source)
        self.train = self._check_split("train", train)
        if len(self.train[1]) == 0:
            raise DataError(f"{self.name}: the training split is empty; the data set needs examples")
        self.validation = None if validation is None else self._check_split("validation", validation)
        self.test = None if test is None else self._check_split("test", test)
        n_features = self.n_features
        for split, pair in (("validation", self.validation), ("test", self.test)):
            if pair is not None and pair[0].shape[1] != n_features:
                raise DataError(
                    f"{self.name}: the {split} split has {pair[0].shape[1]} features per row but "
                    f"the training split has {n_features}; the files do not belong together"
                )
        if self.image_shape is not None and int(np.prod(self.image_shape)) != n_features:
            raise DataError(
                f"{self.name}: image_shape {self.image_shape} does not hold {n_features} features"
            )

    @property
    def n_features(self):
        """Number of input features (pixels) per example."""
        return self.train[0].shape[1]

    @property
    def n_classes(self):
        """Number of classes, ``len(class_names)``."""
        return len(self.class_names)

    def __repr__(self):
        sizes = ", ".join(
            f"{split}={'None' if pair is None else len(pair[1])}"
            for split, pair in (("train", self.train), ("validation", self.validation), ("test", self.test))
        )
        return (
            f"Dataset({self.name!r}, {sizes}, n_features={self.n_features}, "
            f"n_classes={self.n_classes})"
        )

    def _check_split(self, split, pair):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise DataError(f"{self.name}: the {split} split must be a pair (X, y)")
        X, y = pair
        X = check_features(X, f"{self.name} {split}")
        y = np.asarray(y)
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise DataError(
                f"{self.name}: {split} labels must be a 1-D array of class indices, "
                f"got dtype {y.dtype} shape {y.shape}"
            )
        if len(y) != len(X):
            raise DataError(
                f"{self.name}: the {split} split has {len(X)} examples but {len(y)} labels; "
                "the files do not belong together"
            )
        if len(y) and (y.min() < 0 or y.max() >= len(self.class_names)):
            raise DataError(
                f"{self.name}: {split} labels run from {y.min()} to {y.max()} but there are "
                f"{len(self.class_names)} classes; labels must be in 0..{len(self.class_names) - 1}"
            )
        return X, y.astype(np.int64, copy=False)


def check_features(X, where):
    """Return X as a C-contiguous float32 matrix, or raise DataError saying what is wrong."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{where}: features must be numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise DataError(f"{where}: features must be a matrix (n, n_features), got shape {X.shape}")
    if X.shape[1] == 0:
        raise DataError(f"{where}: the examples have no features")
    with np.errstate(over="ignore", invalid="ignore"):  # too-large values become inf, caught below
        X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        row, column = np.argwhere(~np.isfinite(X))[0]
        raise DataError(
            f"{where}: feature {column} of example {row} is {X[row, column]} (NaN, infinite, or "
            "too large for float32); clean the data first"
        )
    return X


def encode_labels(labels, where):
    """Map labels (ints or strings) to class indices 0..k-1.

    Returns ``(y, class_names)``: y int64 with ``class_names[y[i]]`` the original label of
    example i. Integer labels sort numerically, strings alphabetically, so labels that
    already are 0..k-1 map to themselves.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all() or not (labels == np.round(labels)).all():
            bad = labels[~np.isfinite(labels) | (labels != np.round(labels))][0]
            raise DataError(
                f"{where}: the labels hold the non-integer number {bad}; bprop classifies, "
                "so labels must be integers or names"
            )
        if len(labels) and np.abs(labels).max() >= 2**62:
            raise DataError(f"{where}: the labels hold numbers too large to be class labels")
        labels = labels.astype(np.int64)
    elif labels.dtype.kind == "b":
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "iuUS":
        raise DataError(f"{where}: labels must be integers or strings, got dtype {labels.dtype}")
    classes, y = np.unique(labels, return_inverse=True)
    if labels.dtype.kind == "S":
        names = [c.decode("utf-8", "replace") for c in classes]
    else:
        names = [str(c) for c in classes]
    return y.reshape(-1).astype(np.int64), names


def check_classes(dataset, advice=""):
    """Refuse a data set a classifier cannot learn from: one class only, or labels that cannot
    be classes (more than 10 of them and fewer than 2 examples per class on average: an ID
    or a measurement column read as the label). Training calls this; loading does not."""
    class_names, where = dataset.class_names, dataset.name
    if len(class_names) == 1:
        raise DataError(f"{where}: only one class in the labels ({class_names[0]!r}); "
                        "a classifier needs examples of at least two classes")
    n_examples = sum(len(pair[1]) for pair in (dataset.train, dataset.validation, dataset.test)
                     if pair is not None)
    n_classes = len(class_names)
    if n_classes > 10 and n_classes * 2 > n_examples:
        examples = ", ".join(str(c) for c in class_names[:3])
        raise DataError(
            f"{where}: the labels take {n_classes:,} different values ({examples}, ...) among "
            f"{n_examples:,} examples, {n_examples / n_classes:.1f} per class: that looks like an "
            f"identifier or a measurement, not a class{'; ' + advice if advice else ''}")


def resolve_validation_size(validation_size, pool, default, where):
    """Number of validation examples to take from a pool of ``pool`` examples.

    validation_size: None (use ``default``, a count or a fraction), an int count, or a
    float fraction of the pool in [0, 1).
    """
    size = default if validation_size is None else validation_size
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, float, np.integer, np.floating)):
        raise DataError(
            f"validation_size must be an int count or a float fraction in [0, 1), got {validation_size!r}"
        )
    if isinstance(size, (float, np.floating)):
        if not 0.0 <= size < 1.0:
            raise DataError(
                f"validation_size={size} is not a fraction in [0, 1); give a fraction or an int count"
            )
        count = int(round(size * pool))
    else:
        count = int(size)
        if count < 0:
            raise DataError(f"validation_size={count} is negative; give a count >= 0 or None")
    if count >= pool:
        raise DataError(
            f"{where}: validation_size={size} leaves no training examples out of {pool}; "
            f"use at most {pool - 1}"
        )
    return count


def split_tail(X, y, n_validation):
    """Nielsen's split: the last n_validation examples validate, the rest train."""
    if n_validation == 0:
        return (X, y), None
    cut = len(y) - n_validation
    return (X[:cut], y[:cut]), (X[cut:], y[cut:])


def split_shuffled(X, y, validation_size, seed, where):
    """Shuffle with ``seed``, then split 60/20/20 into train, validation, test.

    The test split is TEST_FRACTION of all examples; validation_size (None: a quarter of
    what remains) counts from or is a fraction of the examples not held out for testing.
    """
    n = len(y)
    order = np.random.default_rng(seed).permutation(n)
    X, y = X[order], y[order]
    n_test = int(round(TEST_FRACTION * n)) if n >= 3 else 0
    pool = n - n_test
    n_validation = resolve_validation_size(validation_size, pool, VALIDATION_FRACTION, where)
    train, validation = split_tail(X[:pool], y[:pool], n_validation)
    test = (X[pool:], y[pool:]) if n_test else None
    return train, validation, test


@contextlib.contextmanager
def opening(path, kind):
    """Turn the errors of opening the data file ``path`` (a ``kind``) into one-line DataErrors."""
    try:
        yield
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not {kind}; give the file's path") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied; make the file readable") from None
