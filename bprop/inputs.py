"""Reading examples to predict on: image files, .npy arrays and .csv rows."""
import math
import os

import numpy as np

from bprop import memory
from bprop.errors import DataError
from bprop.io import read_npy_header

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_inputs(path, n_features, image_format=None):
    """Rows of ``n_features`` float values read from ``path``, one example per row.

    A picture is prepared as ``image_format`` says the model's training images were made
    (``bprop.images``); without one, a square input gets MNIST's proportions.
    """
    return read_rows(path, n_features, image_format)[0]


def read_rows(path, n_features, image_format=None):
    """``(X, lines, header)``: the rows of ``path`` (as ``read_inputs``), the file's line
    number of each row for a CSV file (else None), and the CSV's skipped header line as
    ``(number, text)`` (else None)."""
    suffix = os.path.splitext(path)[1].lower()
    if os.path.isdir(path):
        raise DataError(f"{path} is a directory, not an input file; give an image, .npy or .csv file")
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    lines = header = None
    if suffix in IMAGE_SUFFIXES:
        X = read_image(path, n_features, image_format)[None, :]
    elif suffix == ".npy":
        X = _read_npy(path)
    elif suffix == ".csv":
        X, lines, header = _read_csv(path)
    else:
        raise DataError(f"{path}: unknown input type {suffix or '(none)'}; use an image, .npy or .csv")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path} holds {X.dtype} values; expected numbers")
    X = X.reshape(1, -1) if X.ndim == 1 or (X.ndim == 2 and X.size == n_features) else X
    if X.ndim > 2:
        X = X.reshape(len(X), -1)
    if X.shape[1] != n_features:
        raise DataError(f"{path} has {X.shape[1]} values per example but the model expects {n_features}")
    X = X.astype(np.float64)
    finite = [np.isfinite(X[start:start + 4096]).all() for start in range(0, len(X), 4096)]
    if not all(finite):
        raise DataError(f"{path} contains NaN or infinite values")
    return X, lines, header


def read_image(path, n_features, image_format=None):
    """A picture as the model's input pixels: light ink on dark, in [0, 1], MNIST-style."""
    from bprop import images

    if image_format is None:
        side = int(round(np.sqrt(n_features)))
        if side * side != n_features:
            raise DataError(f"the model's {n_features} inputs are not a square image; give .npy or .csv rows")
        image_format = images.default_format((side, side))
    return images.read_picture(path, image_format)


def _read_npy(path):
    """A .npy array of numbers, its header checked against the file before anything is read.

    The file is mapped, not read: the only copy made is the float64 one predictions need,
    and a header claiming more than the file holds is refused.
    """
    try:
        with open(path, "rb") as file:
            version, shape, _, dtype = read_npy_header(file)
            if dtype is None:
                raise ValueError(f"unknown .npy version {version}")
            data_bytes = os.fstat(file.fileno()).st_size - file.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as error:
        raise DataError(f"{path} is not a readable .npy array of numbers ({str(error)[:120]})") from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise DataError(f"{path} holds {dtype} values; expected numbers (object arrays are never loaded)")
    if not shape:
        raise DataError(f"{path} holds a single number (a 0-d array); save one example per row, "
                        "shape (m, n_features)")
    count = math.prod(shape)
    if count * dtype.itemsize > data_bytes:
        raise DataError(f"{path}: its header claims shape {shape} ({count * dtype.itemsize:,} bytes) but "
                        f"the file holds {data_bytes:,} bytes of data; it is truncated or corrupt")
    memory.require(count * 8, f"{path}'s {count:,} values (as float64)", "predict on fewer rows at a time")
    if count == 0:
        raise DataError(f"{path} is empty: shape {shape}")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path} is not a readable .npy array of numbers ({str(error)[:120]})") from None


def _read_csv(path):
    """Rows of numbers from a CSV file, with the file's line number of each.

    The header rule: the first non-blank line is a header when none of its cells is a
    number (``x1,x2,x3``); it is then skipped and reported. Any other cell that is not a
    number, in the first line or later, is an error naming its line. Values go straight
    into a float64 array (8 bytes each), never into Python lists.
    """
    X, lines, header, width = np.empty((1024, 0)), [], None, None
    n = 0
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            cells = [cell.strip() for cell in line.strip().split(",")]
            values = [_number(cell) for cell in cells]
            if header is None and not lines and all(v is None for v in values):
                header = (number, line.strip())
                continue
            bad = next((i for i, v in enumerate(values) if v is None), None)
            if bad is not None:
                first = " (a header line must hold only names)" if not lines and header is None else ""
                raise DataError(f"{path}, line {number}: cell {bad + 1} is {cells[bad]!r}, not a number{first}")
            if width is None:
                width = len(values)
                X = np.empty((1024, width))
            elif len(values) != width:
                raise DataError(f"{path}, line {number}: {len(values)} values, but line {lines[0]} has {width}")
            if n == len(X):
                X = memory.doubled(X, f"{path}'s rows (as float64)", "predict on fewer rows at a time")
            X[n] = values
            lines.append(number)
            n += 1
    if not n:
        raise DataError(f"{path} has no rows of numbers")
    return X[:n], lines, header


def _number(cell):
    try:
        return float(cell)
    except ValueError:
        return None
