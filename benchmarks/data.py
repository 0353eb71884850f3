"""The benchmark's data: Fashion-MNIST when Debian's ``dataset-fashion-mnist`` is installed,
else random data of the same shape (the report says which).

The parent process loads the data once and writes it as ``.npy`` files into a scratch
folder; each worker subprocess maps those files, so no worker pays for decompression and
every implementation trains on byte-identical arrays.
"""
import gzip
import struct
from pathlib import Path

import numpy as np

FASHION_MNIST_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
N_FEATURES = 784
N_CLASSES = 10


def read_idx(path):
    """Read one IDX file (gzip or plain) into an array: the format of (Fashion-)MNIST.

    Header: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then
    each dimension as a big-endian uint32.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, type_code, n_dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or type_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(f">{n_dims}I", raw[4 : 4 + 4 * n_dims])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: holds {data.size} bytes of data, header says {shape}")
    return data.reshape(shape)


def _find_fashion_mnist():
    for folder in FASHION_MNIST_DIRS:
        names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        paths = []
        for name in names:
            for candidate in (folder / (name + ".gz"), folder / name):
                if candidate.exists():
                    paths.append(candidate)
                    break
        if len(paths) == 4:
            return folder, paths
    return None, None


def _load_with_bprop_data():
    """Use ``bprop.data.load_dataset``; None when it is missing or cannot find the files."""
    try:
        from bprop.data import load_dataset

        dataset = load_dataset("fashion-mnist", download=False, progress=False)
        X_train, y_train = dataset.train
        X_test, y_test = dataset.test
    except Exception:  # not there, no files, or an API in flux: fall back to our reader
        return None
    if X_train.ndim != 2 or X_train.shape[1] != N_FEATURES:
        return None
    return X_train, y_train, X_test, y_test


def load(source="auto", n_train=50_000, n_test=10_000, seed=0):
    """Return ``(X_train, y_train, X_test, y_test, description)``.

    X is float32 in [0, 1], one example per row; y holds int64 class indices. ``source``
    is ``"auto"`` (Fashion-MNIST if installed, else random), ``"fashion-mnist"`` or
    ``"random"``.
    """
    if source not in ("auto", "fashion-mnist", "random"):
        raise ValueError(f"data source {source!r}: choose auto, fashion-mnist or random")
    if source in ("auto", "fashion-mnist"):
        folder, paths = _find_fashion_mnist()
        if folder is not None:
            from_bprop = _load_with_bprop_data()
            if from_bprop is not None:
                X_train, y_train, X_test, y_test = from_bprop
                how = "bprop.data.load_dataset"
            else:
                X_train, y_train, X_test, y_test = (read_idx(p) for p in paths)
                X_train = X_train.reshape(len(X_train), -1)
                X_test = X_test.reshape(len(X_test), -1)
                how = "the benchmark's own IDX reader"
            X_train = _as_unit_float32(X_train)[:n_train]
            X_test = _as_unit_float32(X_test)[:n_test]
            description = {
                "source": "fashion-mnist",
                "path": str(folder),
                "loaded_with": how,
                "n_train": len(X_train),
                "n_test": len(X_test),
                "note": f"first {len(X_train)} of the 60,000 training images; test set: {len(X_test)} images",
            }
            return (X_train, y_train[:n_train].astype(np.int64),
                    X_test, y_test[:n_test].astype(np.int64), description)
        if source == "fashion-mnist":
            raise FileNotFoundError("Fashion-MNIST not found: apt-get install dataset-fashion-mnist")
    rng = np.random.default_rng(seed)
    X_train = rng.random((n_train, N_FEATURES), dtype=np.float32)
    X_test = rng.random((n_test, N_FEATURES), dtype=np.float32)
    y_train = rng.integers(0, N_CLASSES, n_train)
    y_test = rng.integers(0, N_CLASSES, n_test)
    description = {
        "source": "random",
        "n_train": n_train,
        "n_test": n_test,
        "note": "uniform random pixels and labels of Fashion-MNIST's shape (not installed); "
                "timings are valid, accuracies are not",
    }
    return X_train, y_train, X_test, y_test, description


def _as_unit_float32(X):
    X = np.asarray(X)
    if X.dtype == np.uint8:
        return X.astype(np.float32) / np.float32(255.0)
    X = X.astype(np.float32, copy=False)
    return X / np.float32(255.0) if X.max() > 1.0 else X


def save(folder, X_train, y_train, X_test, y_test):
    folder = Path(folder)
    for name, array in (("X_train", X_train), ("y_train", y_train),
                        ("X_test", X_test), ("y_test", y_test)):
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array))


def load_saved(folder, dtype):
    """The worker's side: the arrays written by :func:`save`, X cast to ``dtype``."""
    folder = Path(folder)
    X_train = np.load(folder / "X_train.npy").astype(dtype, copy=False)
    X_test = np.load(folder / "X_test.npy").astype(dtype, copy=False)
    return (np.ascontiguousarray(X_train), np.load(folder / "y_train.npy"),
            np.ascontiguousarray(X_test), np.load(folder / "y_test.npy"))
