"""NumPy .npz archives of examples and labels, loaded without pickle.

Each member is read by NumPy's own .npy reader with ``allow_pickle=False`` (what
``np.load(path, allow_pickle=False)`` does), but only after its header has been checked
against the zip's record of the member's size: a header claiming a huge shape is refused
before anything is allocated, and an object array (which would need pickle) is refused.
"""
import os
import zipfile
import zlib

import numpy as np

from bprop.data.dataset import Dataset, check_features, encode_labels, opening, resolve_validation_size
from bprop.data.dataset import split_shuffled, split_tail
from bprop import memory
from bprop.errors import DataError, InputError
from bprop.io import read_npy_header

__all__ = ["load_npz"]

VALIDATION_ALIASES = (("x_val", "y_val"), ("x_valid", "y_valid"), ("x_validation", "y_validation"))
WANTED = {"x", "y", "x_train", "y_train", "x_test", "y_test", "class_names",
          *(name for pair in VALIDATION_ALIASES for name in pair)}
EXPECTED = "X and y, or x_train and y_train (optionally x_test, y_test, x_val, y_val; any case)"

# Deflate cannot expand data more than about 1032-fold; a member claiming more is lying.
_MAX_RATIO = 1100
_PARSE_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError,
                 NotImplementedError, RuntimeError, OverflowError, IndexError, TypeError)


def load_npz(path, validation_size=None, seed=0, name=None):
    """Load examples and labels from an .npz file written by ``np.savez``.

    The arrays looked for (names compared case-insensitively):

    * ``x_train``, ``y_train`` and optionally ``x_test``, ``y_test`` and ``x_val``,
      ``y_val`` (or ``x_valid``/``x_validation``). Without a validation split, the last
      ``validation_size`` training examples validate (None: one sixth, as Nielsen's
      10,000 of MNIST's 60,000; 0: none).
    * ``X`` and ``y``: shuffled with ``seed`` and split 60/20/20 (see ``split_shuffled``).
    * optionally ``class_names``: strings naming the integer labels 0..k-1.

    Images of shape ``(n, h, w)`` (or ``(n, h, w, 1)``) are flattened and ``image_shape``
    is set; uint8 features are read as 0..255 pixel values and scaled to [0, 1].
    Labels are integers or strings of shape ``(n,)``.
    """
    name = name or f"npz:{path}"
    arrays = _read_npz(path)
    lookup = {key.lower(): key for key in arrays}

    def pair(x_name, y_name):
        if x_name in lookup and y_name in lookup:
            return arrays[lookup[x_name]], arrays[lookup[y_name]], (lookup[x_name], lookup[y_name])
        if x_name in lookup or y_name in lookup:
            present, absent = (x_name, y_name) if x_name in lookup else (y_name, x_name)
            raise DataError(f"{path}: has {lookup[present]} but no {absent}; save both")
        return None

    if "x_train" in lookup or "y_train" in lookup:
        splits = {"train": pair("x_train", "y_train"), "test": pair("x_test", "y_test"), "validation": None}
        for x_name, y_name in VALIDATION_ALIASES:
            splits["validation"] = splits["validation"] or pair(x_name, y_name)
    elif "x" in lookup and "y" in lookup:
        splits = {"all": pair("x", "y")}
    else:
        found = ", ".join(sorted(arrays)) or "no arrays"
        raise DataError(f"{path}: holds {found}; bprop looks for {EXPECTED}")

    features, image_shape = {}, None
    for split, (X, y, (x_key, y_key)) in ((s, p) for s, p in splits.items() if p is not None):
        X, shape = _flatten_images(X, f"{path} array {x_key}")
        if split in ("train", "all"):
            image_shape = shape
        y = _label_vector(y, f"{path} array {y_key}")
        if len(X) != len(y):
            raise DataError(
                f"{path}: {x_key} has {len(X)} examples but {y_key} has {len(y)} labels; "
                "save one label per example"
            )
        features[split] = (X, y)
    if len(features.get("train", features.get("all"))[1]) == 0:
        raise DataError(f"{path}: holds no training examples")

    order = list(features)
    all_labels = np.concatenate([features[s][1] for s in order]) if len(order) > 1 else features[order[0]][1]
    y_all, class_names = _labels(all_labels, arrays, lookup, path)
    bounds = np.cumsum([0] + [len(features[s][1]) for s in order])
    labelled = {s: (features[s][0], y_all[bounds[i]:bounds[i + 1]]) for i, s in enumerate(order)}

    if "all" in labelled:
        X, y = labelled["all"]
        train, validation, test = split_shuffled(X, y, validation_size, seed, path)
    else:
        test = labelled.get("test")
        if "validation" in labelled:
            if validation_size is not None:
                raise DataError(
                    f"{path}: the file has its own validation split; leave validation_size=None"
                )
            train, validation = labelled["train"], labelled["validation"]
        else:
            X, y = labelled["train"]
            n_validation = resolve_validation_size(validation_size, len(y), len(y) // 6, path)
            train, validation = split_tail(X, y, n_validation)
    return Dataset(name, train, validation, test, class_names=class_names,
                   image_shape=image_shape, source=path)


def _read_npz(path):
    """Every array in the archive, by name, after checking each header against its member."""
    try:
        with opening(path, "an .npz file"), open(path, "rb") as handle:
            start = handle.read(6)
            archive_size = os.fstat(handle.fileno()).st_size
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from None
    if start == b"\x93NUMPY":
        raise DataError(f"{path}: is an .npy file holding one array; save X and y with np.savez")
    if start[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise DataError(f"{path}: not an .npz file (no zip signature); save the arrays with np.savez")

    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            # Only the arrays bprop looks for are read (others are skipped undecompressed),
            # each checked against its member first, and all of them against memory.
            wanted = [info for info in archive.infolist()
                      if info.filename.endswith(".npy") and info.filename[:-4].lower() in WANTED]
            total = sum(_check_member(path, archive, info, archive_size) for info in wanted)
            memory.require(total, f"{path}'s arrays")
            for info in wanted:
                with archive.open(info) as member:
                    arrays[info.filename[:-4]] = np.lib.format.read_array(member, allow_pickle=False)
            if not arrays:  # name what the file holds in the error below
                arrays = {info.filename[:-4]: None for info in archive.infolist() if info.filename.endswith(".npy")}
    except DataError:
        raise
    except InputError as error:  # memory.require: more than the machine has
        raise DataError(str(error)) from None
    except _PARSE_ERRORS as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise DataError(f"{path}: holds pickled Python objects, which bprop never loads; "
                            "save plain numeric arrays") from None
        raise DataError(f"{path}: corrupt .npz file ({type(error).__name__}: {error})") from None
    return arrays


def _check_member(path, archive, info, archive_size):
    key = info.filename[:-4]
    if info.compress_size > archive_size or info.file_size > _MAX_RATIO * info.compress_size + 1024:
        raise DataError(f"{path}: array {key!r} claims an impossible size; the file is corrupt")
    with archive.open(info) as member:
        version, shape, _, dtype = read_npy_header(member)
        if version not in ((1, 0), (2, 0)):
            raise DataError(f"{path}: array {key!r} uses .npy format {version}, which bprop does not read")
        header_size = member.tell()
    if dtype.hasobject:
        raise DataError(
            f"{path}: array {key!r} holds Python objects (pickled data), which bprop never "
            "loads; save plain numeric or string arrays"
        )
    n_bytes = dtype.itemsize
    for d in shape:
        n_bytes *= d
    if header_size + n_bytes != info.file_size:
        raise DataError(
            f"{path}: array {key!r} claims shape {shape} ({n_bytes} bytes) but its member holds "
            f"{info.file_size - header_size}; the file is corrupt"
        )
    return n_bytes


def _flatten_images(X, where):
    """(n, features) float32 and the image shape, or None for tabular data."""
    X = np.asarray(X)
    image_shape = None
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim == 3:
        image_shape = X.shape[1:]
        X = X.reshape(len(X), X.shape[1] * X.shape[2])
    elif X.ndim != 2:
        raise DataError(f"{where}: shape {X.shape}; expected (n, features) or images (n, height, width)")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{where}: features must be numbers, got dtype {X.dtype}")
    scale = X.dtype == np.uint8
    X = check_features(X, where)
    if scale:
        X /= np.float32(255.0)
    return X, image_shape


def _label_vector(y, where):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(
            f"{where}: labels have shape {y.shape}; save class labels of shape (n,) "
            "(for one-hot rows, save y.argmax(axis=1))"
        )
    return y


def _labels(labels, arrays, lookup, path):
    """Class indices and names: from the file's class_names if it has them, else encode_labels."""
    if "class_names" not in lookup:
        return encode_labels(labels, path)
    names = arrays[lookup["class_names"]]
    if names.ndim != 1 or names.dtype.kind not in "US" or len(names) == 0:
        raise DataError(f"{path}: class_names must be a 1-D array of strings")
    if labels.dtype.kind not in "iu" or (len(labels) and (labels.min() < 0 or labels.max() >= len(names))):
        raise DataError(
            f"{path}: with class_names, labels must be integers 0..{len(names) - 1}"
        )
    decoded = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names.tolist()]
    return labels.astype(np.int64), decoded
