"""Numeric CSV files: one example per row, one column of class labels."""
import csv
import itertools
import os
import stat

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
    with opening(path, "a CSV file"):
        handle = open(path, newline="", encoding="utf-8-sig")
    try:
        with handle:
            X, labels, headers, label_index = _read(path, handle, column)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start}); save the CSV as UTF-8") from None
    except (csv.Error, OSError) as error:
        raise DataError(f"{path}: not a readable CSV file ({error})") from None
    except InputError as error:   # memory.require: more than the machine has
        raise DataError(str(error)) from None
    X = check_features(X, path)
    y, class_names = encode_labels(_label_array(labels), path)
    train, validation, test = split_shuffled(X, y, validation_size, seed, path)
    return Dataset(name, train, validation, test, class_names=class_names, source=path)


# Memory that loading takes: per feature, the matrix and the shuffled split's copy of it,
# with NumPy's temporaries (measured: 8.6 bytes a feature on 20,000 rows of 784); per
# row, besides, the label (a Python string; repeated class names share one) and its share
# of the labels' arrays (measured: 57 bytes on 100,000 rows of 2 numbers and 2 classes).
BYTES_PER_FEATURE = 9
BYTES_PER_ROW = 96
ADVICE = "save the data with np.savez and load it as npz:PATH"


def _read(path, handle, column):
    """Stream the rows of the open CSV ``handle`` into a float32 matrix as they are read:
    (X, the label cells, the headers or None, the label column's index). Only the
    features' matrix and the labels are kept, never the rows' text."""
    rows = _rows(csv.reader(handle))
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: the file holds no rows; it needs one example per row")
    first_line, first_cells = first
    headers = [cell.strip() for cell in first_cells] if _looks_like_header(first_cells) else None
    width = len(first_cells)
    label_index = _label_column(path, column, headers, width)
    feature_indices = [i for i in range(width) if i != label_index]
    if not feature_indices:
        raise DataError(f"{path}: the only column is the label; the examples need feature columns")
    capacity = _line_count(path, handle)   # None for a pipe: the matrix grows as rows come
    memory.require((capacity or 0) * (BYTES_PER_FEATURE * len(feature_indices) + BYTES_PER_ROW),
                   f"reading {path} (up to {capacity or 0:,} rows of {len(feature_indices)} features)",
                   ADVICE)
    X = np.empty((capacity or 1024, len(feature_indices)), np.float32)
    labels, names, longest = [], {}, 0
    n = 0
    for line, row in (rows if headers is not None else itertools.chain([first], rows)):
        if len(row) != width:
            raise DataError(
                f"{path}: row {line} has {len(row)} cells but row {first_line} has {width}; "
                "every row needs the same columns"
            )
        if n == len(X):
            X = memory.doubled(X, f"{path}'s rows (as float32)", ADVICE)
        try:
            with np.errstate(over="ignore"):   # too large for float32: inf, refused by check_features
                X[n] = [float(row[i]) for i in feature_indices]
        except ValueError:
            i = next(i for i in feature_indices if not _is_number(row[i]))
            raise DataError(
                f"{path}: row {line}, column {_column_name(headers, i)}: {row[i]!r} is not a "
                "number; features must be numeric (name the label column with csv:PATH#COLUMN)"
            ) from None
        label = row[label_index].strip()
        if not label:
            raise DataError(
                f"{path}: row {line}, column {_column_name(headers, label_index)}: the label is empty"
            )
        if label not in names:
            names[label] = label
            longest = max(longest, len(label))
        labels.append(names[label])
        n += 1
    if n == 0:
        raise DataError(f"{path}: the file has a header but no examples")
    # The labels become arrays of their longest name (4 bytes a character, three copies).
    memory.require(12 * longest * n, f"the labels of {path} ({n:,}, up to {longest} characters)", ADVICE)
    return X[:n], labels, headers, label_index


def _rows(reader):
    """(line number, cells) of every non-blank row."""
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _line_count(path, handle, chunk=1 << 18):
    """An upper bound on the rows of ``path``, open as ``handle``: its line count, lines
    ended by \\n, \\r\\n or a lone \\r, plus a last line without an end. None if it is not
    a regular file (a pipe can be read only once)."""
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        return None
    newlines = returns = 0
    last = b"\n"
    with open(path, "rb") as f:                     # a second reader: the CSV reader's stays put
        while block := f.read(chunk):
            newlines += block.count(b"\n")
            returns += block.count(b"\r")
            last = block[-1:]
    return max(newlines, returns) + (last not in (b"\n", b"\r"))


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


def _label_array(labels):
    """The labels as numbers if every one is a number, else as strings."""
    if all(_is_number(label) for label in set(labels)):
        return np.array([float(label) for label in labels])
    return np.array(labels)
