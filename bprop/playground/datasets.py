"""The playground's data: toy sets made on the spot, bprop's data sets, and uploaded CSV files.

Loaded sets are kept (a few at a time) so that changing the network does not reload
MNIST. MNIST and Fashion-MNIST are used only when already on disk: the playground never
downloads anything.
"""
import itertools
import os
import tempfile
import threading

from bprop.errors import DataError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_ROWS = 20_000
MAX_UPLOAD_FEATURES = 1_000
MAX_UPLOADS = 8
_CACHED = 4

_lock = threading.Lock()
_cache = {}                 # key -> Dataset, oldest first
_uploads = {}               # id -> Dataset, oldest first
_upload_ids = itertools.count(1)


def load(data):
    """The Dataset the page's ``data`` section names (see ``config.DEFAULT``)."""
    name = data["name"]
    if name.startswith("upload:"):
        with _lock:
            dataset = _uploads.get(name)
        if dataset is None:
            raise DataError(f"no uploaded data set {name!r} (uploads last while the server runs); "
                            f"upload the CSV file again")
        return dataset
    key = (name,) if name not in ("circles", "xor", "gaussians", "spiral") else \
        (name, data["n"], data["noise"], data["validation"], data["seed"])
    with _lock:
        if key in _cache:
            return _cache[key]
    if len(key) > 1:
        from bprop.data.toy import make_toy

        dataset = make_toy(name, data["n"], data["noise"], data["validation"], data["seed"])
    else:
        from bprop import extras
        from bprop.data import load_dataset

        if name == "digits":
            extras.require("the playground's digits data set")
        dataset = load_dataset(name, download=False, progress=False)
    with _lock:
        _cache[key] = dataset
        while len(_cache) > _CACHED:
            _cache.pop(next(iter(_cache)))
    return dataset


def upload(body, filename="upload.csv"):
    """Read an uploaded CSV file (last column the label, unless named ``label``) and keep it.

    Returns the data set's name for the configuration, ``upload:N``, and the Dataset.
    """
    if len(body) > MAX_UPLOAD_BYTES:
        raise DataError(f"the CSV file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    from bprop.data import load_dataset

    with _lock:
        name = f"upload:{next(_upload_ids)}"
    with tempfile.TemporaryDirectory(prefix="bprop-playground-") as folder:
        path = os.path.join(folder, "data.csv")
        with open(path, "wb") as file:
            file.write(body)
        dataset = load_dataset(f"csv:{path}", progress=False)
    rows = sum(len(pair[1]) for pair in (dataset.train, dataset.validation, dataset.test) if pair is not None)
    if rows > MAX_UPLOAD_ROWS or dataset.n_features > MAX_UPLOAD_FEATURES:
        raise DataError(f"the playground takes up to {MAX_UPLOAD_ROWS} rows of up to "
                        f"{MAX_UPLOAD_FEATURES} features; this file has {rows} rows of {dataset.n_features}")
    dataset.name = f"{filename} ({name})"
    with _lock:
        _uploads[name] = dataset
        while len(_uploads) > MAX_UPLOADS:
            _uploads.pop(next(iter(_uploads)))
    return name, dataset
