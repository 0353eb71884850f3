"""Checks at the boundary: every public entry point turns its input into clean arrays here, once.

Each check raises ``InputError`` (a ValueError) with a message that names what is wrong
and what was expected, so no user meets a NumPy broadcasting traceback.
"""
import numbers
import os

import numpy as np

from bprop.errors import InputError


def inputs(X, n_features, dtype, name="X"):
    """X as a C-contiguous (m, n_features) array of ``dtype``; one example per row."""
    try:
        X = np.asarray(X)
    except (ValueError, TypeError) as error:
        raise InputError(f"{name} is not a numeric array: {error}") from None
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise InputError(f"{name} must hold numbers, not {X.dtype} values")
    if np.iscomplexobj(X):
        raise InputError(f"{name} must hold real numbers, not complex ones")
    if X.ndim == 1 and n_features is not None and X.shape[0] == n_features:
        X = X[None, :]  # a single example
    if X.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D array with one example per row, shape (m, {n_features}); "
            f"got shape {X.shape}"
        )
    if X.shape[0] == 0:
        raise InputError(f"{name} is empty: it has no examples (rows)")
    if n_features is not None and X.shape[1] != n_features:
        raise InputError(
            f"{name} has {X.shape[1]} features per row but the network's input layer expects "
            f"{n_features}"
        )
    X = np.ascontiguousarray(X, dtype=dtype)
    if not _all_finite(X):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise InputError(
            f"{name} contains NaN or infinite values (first at row {bad[0]}, column {bad[1]}); "
            "remove or impute them before training"
        )
    return X


SATURATED_Z = 30.0  # σ(30) = 1 - 1e-13: a sigmoid or tanh unit this far out has no gradient left


def warn_if_unscaled(X, w, b, activation="sigmoid", rows=256):
    """Warn (``UserWarning``) when the features are so large that the first layer starts saturated.

    Looks at the first layer's weighted inputs z = x w^T + b on up to ``rows`` examples:
    when their median |z| exceeds ``SATURATED_Z``, sigmoid and tanh units are stuck at
    their limits (σ' ≈ 0, so nothing learns) and ReLU-like units produce huge outputs.
    """
    import warnings

    sample = X[:rows]
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.abs(sample @ w.T + b)
    median = float(np.median(z))
    if median > SATURATED_Z or not np.isfinite(median):
        column = int(np.argmax(np.abs(sample).max(axis=0)))
        largest = float(np.abs(sample[:, column]).max())
        warnings.warn(
            f"the features are large (up to {largest:.3g}, in column {column}): the first layer's "
            f"weighted inputs z start at a median |z| of {median:.3g}, so its {activation} units "
            f"{'saturate and training stalls' if activation in ('sigmoid', 'tanh') else 'give huge outputs and training is unstable'}; "
            "scale the features first (e.g. to mean 0 and variance 1)",
            UserWarning, stacklevel=_outside_bprop())


def _outside_bprop():
    """The ``stacklevel`` for a warning raised here that names the first caller outside
    the bprop package, however deep the call (as matplotlib's ``warn_external``): the
    user's own line when they call bprop, a library's when it does (scikit-learn's
    ``Pipeline``, say)."""
    import sys

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1     # level 1: the function that calls warnings.warn
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


SHARED_CHECK_BYTES = 16 << 20  # data at least this large is checked on several threads


def _all_finite(X, rows=4096):
    """np.isfinite(X).all(), a block of rows at a time: no boolean copy of the whole data set.

    The check runs at the speed memory is read. From ``SHARED_CHECK_BYTES`` on, the blocks
    are shared out over one thread per CPU this process may run on (its affinity; at most
    4): NumPy releases the GIL in ``isfinite``, and two cores check 314 MB of float64 in
    21-24 ms instead of 40-46 ms, most of what fit does before its first step on
    MNIST-sized data. The threads stop at the first block that is not finite.
    """
    starts = range(0, len(X), rows)
    threads = min(_usable_cpus(), 4, len(starts)) if X.nbytes >= SHARED_CHECK_BYTES else 1
    if threads < 2:
        return all(np.isfinite(X[start:start + rows]).all() for start in starts)
    import threading
    from concurrent.futures import ThreadPoolExecutor

    found = threading.Event()                    # a block that is not finite: the rest may stop

    def finite(start):
        if not found.is_set() and not np.isfinite(X[start:start + rows]).all():
            found.set()

    with ThreadPoolExecutor(threads, thread_name_prefix="bprop-check") as pool:
        for _ in pool.map(finite, starts):
            pass
    return not found.is_set()


def _usable_cpus():
    """How many CPUs this process may run on."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:           # no affinity on this system (macOS, Windows)
        return os.cpu_count() or 1


def targets(y, m, n_outputs, dtype, classifier, name="y", cost=None):
    """Targets as an (m, n_outputs) matrix Y of ``dtype``, plus class indices when they exist.

    Accepted forms:

    - class indices, shape (m,), integers in [0, n_outputs) (for n_outputs > 1);
    - one-hot or target rows, shape (m, n_outputs);
    - for a single output unit, shape (m,) floats (regression) or 0/1 labels.

    Returns ``(Y, labels)``; ``labels`` is the int array of class indices when the
    targets are classes (so accuracy can be counted), else None. ``cost``, when given,
    checks that the target rows are ones it is defined for (``Cost.check_targets``).
    """
    Y, labels = _targets(y, m, n_outputs, dtype, classifier, name)
    if cost is not None:
        cost.check_targets(Y, name)
    return Y, labels


def _targets(y, m, n_outputs, dtype, classifier, name):
    try:
        y = np.asarray(y)
    except (ValueError, TypeError) as error:
        raise InputError(f"{name} is not a numeric array: {error}") from None
    if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise InputError(f"{name} must hold numbers, not {y.dtype} values")
    if y.ndim == 0 or y.ndim > 2:
        raise InputError(
            f"{name} must be class indices of shape ({m},) or target rows of shape "
            f"({m}, {n_outputs}); got shape {y.shape}"
        )
    if y.shape[0] != m:
        raise InputError(f"X has {m} examples but {name} has {y.shape[0]}; they must match")
    if not np.isfinite(y).all():
        raise InputError(f"{name} contains NaN or infinite values")

    if y.ndim == 2 and y.shape[1] == 1:  # a column: one value or one class index per example
        y = y[:, 0]
    if y.ndim == 1 and n_outputs > 1:
        labels = _class_indices(y, n_outputs, name)
        Y = np.zeros((m, n_outputs), dtype=dtype)
        Y[np.arange(m), labels] = 1
        return Y, labels
    if y.ndim == 1:  # one output unit: regression values or 0/1 labels
        Y = np.ascontiguousarray(y, dtype=dtype).reshape(m, 1)
        labels = None
        if classifier:
            if not np.isin(y, (0, 1)).all():
                raise InputError(
                    f"{name} must hold 0/1 labels for a network with one sigmoid output unit; "
                    f"found values like {_example_outside(y, (0, 1))}"
                )
            labels = y.astype(np.int64)
        return Y, labels
    if y.shape[1] != n_outputs:
        raise InputError(
            f"{name} has {y.shape[1]} columns but the network's output layer has "
            f"{n_outputs} units; pass one-hot rows of width {n_outputs} or class indices of shape ({m},)"
        )
    Y = np.ascontiguousarray(y, dtype=dtype)
    labels = None
    if classifier and np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all():
        labels = y.argmax(axis=1)  # one-hot rows
    return Y, labels


def _class_indices(y, n_classes, name):
    if not np.issubdtype(y.dtype, np.integer):
        if y.dtype == bool or not np.equal(np.mod(y, 1), 0).all():
            raise InputError(
                f"{name} must hold integer class indices in [0, {n_classes}); "
                f"found {y[np.mod(y, 1) != 0][:1].tolist() or y[:1].tolist()}"
            )
    outside = (y < 0) | (y >= n_classes)
    if outside.any():
        raise InputError(
            f"{name} holds class index {y[outside][0]:g} but the network has {n_classes} "
            f"output units, so labels must be in [0, {n_classes - 1}]"
        )
    return y.astype(np.int64)


def _example_outside(values, allowed):
    return values[~np.isin(values, allowed)][:3].tolist()


def positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def non_negative(value, name, upper=None, upper_open=False):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number; got {value!r}") from None
    if not np.isfinite(value) or value < 0 or (upper is not None and (
            value >= upper if upper_open else value > upper)):
        bound = f" and {'<' if upper_open else '<='} {upper}" if upper is not None else ""
        raise InputError(f"{name} must be a finite number >= 0{bound}; got {value!r}")
    return value


def positive(value, name):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number; got {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise InputError(f"{name} must be a finite number > 0; got {value!r}")
    return number


def seed(value, name="seed"):
    """None or a non-negative integer, as NumPy's random generators take."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise InputError(f"{name} must be a non-negative integer or None; got {value!r}")
    return int(value)


def choice(value, name, choices):
    if value not in choices:
        raise InputError(f"unknown {name} {value!r}; expected one of {', '.join(map(str, choices))}")
    return value
