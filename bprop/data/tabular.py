"""Numeric CSV files: one example per row, one column of class labels."""
import csv
import os

import numpy as np

from bprop import memory
from bprop.data.dataset import Dataset, check_features, encode_labels, opening, split_shuffled
from bprop.errors import DataError, InputError

__all__ = ["load_csv"]

LABEL_NAMES = ("label", "class", "target")


def load_csv(path, column=None, validation_size=None, seed=0, name=None):
    """Load a comma-separated file of numbers and labels.

    Parameters
    ----------
    path : str
        The file, UTF-8, comma-separated, optionally with a header row. The first row is
        a header when none of its cells is a number (``sepal_length,...,species``); any
        other non-number in a feature column is an error naming its line.
    column : str or int, optional
        The label column: a header name, or a 0-based index (negative counts from the
        end). Default: the column named ``label``, ``class`` or ``target`` if there is a
        header, else the last column.
    validation_size, seed
        The rows are shuffled with ``seed`` and split 60/20/20 into train, validation and
        test; ``validation_size`` (an int count, or a fraction of the 80% not held out
        for testing) changes the validation part.

    Every other column is a feature and must hold numbers; they are returned as float32,
    unscaled. Labels may be integers or names; they become class indices 0..k-1 in sorted
    order and ``class_names`` keeps the originals.
    """
    name = name or f"csv:{path}"
    rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path}: the file holds no rows; it needs one example per row")
    first_line, first = rows[0]
    has_header = _looks_like_header(first, rows[1][1] if len(rows) > 1 else None)
    headers = [cell.strip() for cell in first] if has_header else None
    data = rows[1:] if has_header else rows
    width = len(first)
    for line, row in data:
        if len(row) != width:
            raise DataError(
                f"{path}: row {line} has {len(row)} cells but row {first_line} has {width}; "
                "every row needs the same columns"
            )
    if not data:
        raise DataError(f"{path}: the file has a header but no examples")
    label_index = _label_column(path, column, headers, width)
    feature_indices = [i for i in range(width) if i != label_index]
    if not feature_indices:
        raise DataError(f"{path}: the only column is the label; the examples need feature columns")

    X = np.empty((len(data), len(feature_indices)), dtype=np.float64)
    for r, (line, row) in enumerate(data):
        for f, i in enumerate(feature_indices):
            try:
                X[r, f] = float(row[i])
            except ValueError:
                raise DataError(
                    f"{path}: row {line}, column {_column_name(headers, i)}: {row[i]!r} is not a "
                    "number; features must be numeric (name the label column with csv:PATH#COLUMN)"
                ) from None
    X = check_features(X, path)
    y, class_names = encode_labels(_label_values(path, data, label_index, headers), path)
    train, validation, test = split_shuffled(X, y, validation_size, seed, path)
    return Dataset(name, train, validation, test, class_names=class_names, source=path)


# Parsed in memory, a CSV's cells take about 11 bytes per byte of text (measured: 100,000
# rows of 11 numbers, 9.2 MB of text, peaked at 98.5 MB while loading).
MEMORY_PER_BYTE = 12


def _read_rows(path):
    """(line number, cells) of every non-blank row."""
    with opening(path, "a CSV file"):
        handle = open(path, newline="", encoding="utf-8-sig")
    try:
        memory.require(MEMORY_PER_BYTE * os.fstat(handle.fileno()).st_size,
                       f"reading {path} (about {MEMORY_PER_BYTE} bytes of memory per byte of CSV text)",
                       "save the data with np.savez and load it as npz:PATH")
    except InputError as error:
        handle.close()
        raise DataError(str(error)) from None
    try:
        with handle:
            reader = csv.reader(handle)
            return [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); save the CSV as UTF-8") from None
    except (csv.Error, OSError) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from None


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _looks_like_header(first, second=None):
    """The header rule: the first row is a header when none of its cells is a number.

    So a typo or an empty cell in the first row of a headerless file is an error naming
    line 1, never a row silently dropped as a "header".
    """
    return not any(_is_number(cell) for cell in first)


def _label_column(path, column, headers, width):
    if column is None:
        if headers is not None:
            lowered = [h.lower() for h in headers]
            for label_name in LABEL_NAMES:
                if label_name in lowered:
                    return lowered.index(label_name)
        return width - 1
    column = str(column).strip()
    if headers is not None and column in headers:
        return headers.index(column)
    try:
        index = int(column)
    except ValueError:
        choices = ", ".join(headers) if headers is not None else "no header row, so give a 0-based index"
        raise DataError(f"{path}: no column {column!r} ({choices})") from None
    if not -width <= index < width:
        raise DataError(f"{path}: column index {index} is out of range for {width} columns")
    return index % width


def _column_name(headers, index):
    return repr(headers[index]) if headers is not None else f"index {index}"


def _label_values(path, data, label_index, headers):
    labels = []
    for line, row in data:
        label = row[label_index].strip()
        if not label:
            raise DataError(
                f"{path}: row {line}, column {_column_name(headers, label_index)}: the label is empty"
            )
        labels.append(label)
    if all(_is_number(label) for label in labels):
        return np.array([float(label) for label in labels])
    return np.array(labels)
