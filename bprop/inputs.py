"""Reading examples to predict on: image files, .npy arrays and .csv rows."""
import os

import numpy as np

from bprop.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_inputs(path, n_features):
    """Rows of ``n_features`` float values read from ``path``, one example per row."""
    suffix = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    if suffix in IMAGE_SUFFIXES:
        X = read_image(path, n_features)[None, :]
    elif suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise DataError(f"{path} is not a readable .npy array of numbers ({error})") from None
    elif suffix == ".csv":
        X = _read_csv(path)
    else:
        raise DataError(f"{path}: unknown input type {suffix or '(none)'}; use an image, .npy or .csv")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path} holds {X.dtype} values; expected numbers")
    X = X.reshape(1, -1) if X.ndim == 1 or (X.ndim == 2 and X.size == n_features) else X
    if X.ndim > 2:
        X = X.reshape(len(X), -1)
    if X.shape[1] != n_features:
        raise DataError(f"{path} has {X.shape[1]} values per example but the model expects {n_features}")
    if not np.isfinite(X).all():
        raise DataError(f"{path} contains NaN or infinite values")
    return X.astype(np.float64)


def read_image(path, n_features):
    """An image as MNIST-like pixels: grayscale, square, [0, 1], light strokes on dark."""
    side = int(round(np.sqrt(n_features)))
    if side * side != n_features:
        raise DataError(f"the model's {n_features} inputs are not a square image; give .npy or .csv rows")
    from bprop import extras

    Image = extras.load("reading images", "PIL.Image", error=DataError)
    UnidentifiedImageError = Image.UnidentifiedImageError
    try:
        with Image.open(path) as image:
            image = image.convert("L").resize((side, side), Image.LANCZOS)
            pixels = np.asarray(image, dtype=np.float64) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"{path} is not a readable image ({error})") from None
    if pixels.mean() > 0.5:  # dark strokes on a light background: invert to MNIST's convention
        pixels = 1.0 - pixels
    return pixels.reshape(-1)


def _read_csv(path):
    rows = []
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, 1):
            cells = [cell.strip() for cell in line.strip().split(",")]
            if not line.strip():
                continue
            try:
                rows.append([float(cell) for cell in cells])
            except ValueError:
                if number == 1:
                    continue  # a header row
                raise DataError(f"{path}, line {number}: non-numeric cell in {line.strip()[:60]!r}") from None
    if not rows:
        raise DataError(f"{path} has no rows of numbers")
    if len({len(row) for row in rows}) != 1:
        raise DataError(f"{path}: rows have different numbers of values")
    return np.array(rows)
