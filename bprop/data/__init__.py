"""Data sets: MNIST, Fashion-MNIST, scikit-learn's digits, and your own CSV or .npz files.

>>> from bprop.data import load_dataset
>>> ds = load_dataset("mnist")            # downloads once into ~/.cache/bprop/mnist
>>> X, y = ds.train                       # X float32 (50000, 784) in [0, 1], y int64 (50000,)

Importing this package is cheap: scikit-learn, tqdm and urllib are imported only by the
loader that needs them.
"""
import os

from bprop.data.dataset import Dataset
from bprop.data.idx import read_idx
from bprop.errors import DataError

__all__ = ["load_dataset", "Dataset", "read_idx", "DATASETS"]

# The named data sets; files are given as "csv:PATH" or "npz:PATH" instead.
DATASETS = {
    "digits": "scikit-learn's 1,797 8x8 handwritten digits, no download (needs scikit-learn)",
    "mnist": "70,000 28x28 handwritten digits (LeCun, Cortes, Burges); downloaded once, 11 MB",
    "fashion-mnist": "70,000 28x28 images of 10 kinds of clothing (Zalando); downloaded once, 30 MB",
}


def load_dataset(name, data_dir=None, download=True, progress=True, validation_size=None, seed=0):
    """Load a data set by name, split into train, validation and test.

    Parameters
    ----------
    name : str
        ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, ``"csv:PATH"`` (``"csv:PATH#COLUMN"``
        names the label column) or ``"npz:PATH"``.
    data_dir : str or os.PathLike, optional
        Where MNIST and Fashion-MNIST are looked for and downloaded to: ``data_dir/<name>/``
        or ``data_dir`` itself. Default: ``$BPROP_DATA``, else ``$XDG_CACHE_HOME/bprop``
        or ``~/.cache/bprop``.
    download : bool
        Download MNIST or Fashion-MNIST files that are not found (each verified by SHA-256).
    progress : bool
        Show a download progress bar, when stderr is a terminal and tqdm is installed.
    validation_size : int, float or None
        Examples held out for validation: an int count, or a fraction of the examples not
        used for testing. None takes each data set's default: MNIST-style sets use the last
        one sixth of the training file (Nielsen's 10,000 of 60,000); data without a test
        split of its own (digits, CSV, npz with only X and y) are shuffled and split
        60/20/20 into train, validation and test. 0 means no validation split.
    seed : int
        Seeds the shuffle of data sets that are split here; MNIST-style sets keep file order.

    Returns
    -------
    Dataset

    Raises
    ------
    bprop.errors.DataError
        Unknown name, missing or corrupt files, failed download, bad values, or a
        validation_size that leaves no training examples; the message says what to do.
    """
    if not isinstance(name, str):
        raise DataError(f"the data set name must be a string, got {type(name).__name__}")
    kind, _, rest = name.partition(":")
    if kind == "csv" and rest:
        from bprop.data.tabular import load_csv

        path, column = rest, None
        if not os.path.exists(path) and "#" in rest:
            path, column = rest.rsplit("#", 1)
        return load_csv(path, column, validation_size=validation_size, seed=seed, name=name)
    if kind == "npz" and rest:
        from bprop.data.npz import load_npz

        return load_npz(rest, validation_size=validation_size, seed=seed, name=name)
    if name == "digits":
        from bprop.data.digits import load_digits

        return load_digits(validation_size=validation_size, seed=seed)
    if name in ("mnist", "fashion-mnist"):
        from bprop.data.mnist import load_mnist

        return load_mnist(name, data_dir=data_dir, download=download, progress=progress,
                          validation_size=validation_size)
    known = ", ".join(DATASETS)
    raise DataError(f"unknown data set {name!r}; choose one of {known}, or csv:PATH or npz:PATH")
