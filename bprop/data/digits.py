"""scikit-learn's bundled 8x8 digits: a data set that needs no download."""
import numpy as np

from bprop.data.dataset import Dataset, split_shuffled
from bprop.errors import DataError

__all__ = ["load_digits"]


def load_digits(validation_size=None, seed=0):
    """The 1,797 8x8 handwritten digits of scikit-learn's ``load_digits``.

    Pixel values 0..16 are scaled to [0, 1]. The examples are shuffled with ``seed`` and
    split 60/20/20 into train, validation and test (see ``split_shuffled``).
    """
    from bprop import extras

    datasets = extras.load("the digits data set", "sklearn.datasets", error=DataError)
    sklearn_load_digits = datasets.load_digits
    bunch = sklearn_load_digits()
    X = np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)
    y = np.asarray(bunch.target, dtype=np.int64)
    train, validation, test = split_shuffled(X, y, validation_size, seed, "digits")
    return Dataset(
        "digits", train, validation, test,
        class_names=[str(digit) for digit in range(10)], image_shape=(8, 8),
        source="scikit-learn's load_digits (UCI optical recognition of handwritten digits)",
    )
