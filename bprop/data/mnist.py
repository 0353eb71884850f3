"""MNIST and Fashion-MNIST: find the four IDX files, download them if missing, split them.

Where the files are looked for, in order (the first folder holding all four wins):

1. ``ROOT/<name>/``, one sub-folder per data set, where ROOT is the ``data_dir`` argument,
   else the ``BPROP_DATA`` environment variable, else ``$XDG_CACHE_HOME/bprop`` or
   ``~/.cache/bprop``;
2. ``ROOT/`` itself, unless the files there are another data set's (told apart by the
   SHA-256 of their small test-labels file): MNIST files in ROOT never stand in for
   Fashion-MNIST;
3. system folders in ``SYSTEM_DIRS`` (Debian's ``dataset-fashion-mnist`` package installs
   Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``).

Missing files are downloaded into ``ROOT/<name>/`` from the base URLs in ``MIRRORS`` (or the
ones in ``BPROP_MNIST_MIRROR`` / ``BPROP_FASHION_MNIST_MIRROR``, separated by spaces or
commas), tried in turn. Every file, downloaded or found, must match the SHA-256 in
``SHA256`` of its *decompressed* content; mirrors recompress the files differently, but the
IDX bytes inside are the canonical ones.
"""
import hashlib
import os
import struct

import numpy as np

from bprop.data.dataset import Dataset, resolve_validation_size, split_tail
from bprop.data.idx import IDX_TYPES, read_idx
from bprop.errors import DataError

__all__ = ["load_mnist", "data_root", "FILES", "MIRRORS", "SHA256", "SYSTEM_DIRS"]

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}

MIRROR_ENV = {"mnist": "BPROP_MNIST_MIRROR", "fashion-mnist": "BPROP_FASHION_MNIST_MIRROR"}

# SHA-256 of each decompressed IDX file. MNIST: the canonical files (their MD5s are the
# ones torchvision and TFDS check). Fashion-MNIST: computed from Debian's
# dataset-fashion-mnist 0.0~git20200523.55506a9-1.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

SYSTEM_DIRS = {
    "mnist": [],
    "fashion-mnist": ["/usr/share/datasets/fashion-mnist"],
}

CLASS_NAMES = {
    "mnist": [str(digit) for digit in range(10)],
    "fashion-mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}


def load_mnist(name="mnist", data_dir=None, download=True, progress=True, validation_size=None):
    """Load MNIST or Fashion-MNIST with Nielsen's split.

    The first 50,000 training images train, the last 10,000 validate (``validation_size``:
    an int count or a fraction of the 60,000; None means one sixth, Nielsen's 10,000; 0
    means no validation split), and the 10,000 t10k images test. Pixels are scaled to
    [0, 1] float32, one 784-pixel row per image.
    """
    title = TITLES[name]
    root = data_root(data_dir)
    directory, paths = _locate(name, root)
    if directory is None:
        directory = os.path.join(root, name)
        paths = _find_files(directory)
        missing = [base for base in FILES if paths[base] is None]
        if not download:
            raise DataError(
                f"{title} files not found (looked in {', '.join(_search_dirs(name, root))}); "
                f"put {_file_list()} in {directory}, or pass download=True"
            )
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            raise DataError(
                f"cannot create {directory} to download {title} into ({error.strerror}); "
                "pass data_dir= or set BPROP_DATA to a writable folder"
            ) from None
        for base in missing:
            paths[base] = _download(name, base, directory, progress)

    arrays = {}
    for base in FILES:
        arrays[base] = read_idx(paths[base])
        _verify(name, base, paths[base], arrays[base], os.path.join(root, name))
    X_train, y_train = _examples(arrays, "train", paths)
    X_test, y_test = _examples(arrays, "t10k", paths)

    n_validation = resolve_validation_size(validation_size, len(y_train), len(y_train) // 6, title)
    train, validation = split_tail(X_train, y_train, n_validation)
    return Dataset(
        name, train, validation, (X_test, y_test),
        class_names=CLASS_NAMES[name], image_shape=arrays["train-images-idx3-ubyte"].shape[1:],
        source=directory,
    )


def data_root(data_dir=None):
    """The folder data sets live in: data_dir, else $BPROP_DATA, else the per-user cache."""
    if data_dir is not None:
        return os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
    if os.environ.get("BPROP_DATA"):
        return os.path.abspath(os.path.expanduser(os.environ["BPROP_DATA"]))
    cache = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(cache):  # the XDG spec says to ignore a relative path
        cache = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "bprop")


def mirrors(name):
    """Base URLs to download ``name`` from: the environment's override, else MIRRORS."""
    override = os.environ.get(MIRROR_ENV[name], "")
    listed = override.replace(",", " ").split()
    return listed or list(MIRRORS[name])


def _search_dirs(name, root):
    return [os.path.join(root, name), root, *SYSTEM_DIRS[name]]


def _locate(name, root):
    """The first search folder holding all four files, with their paths; else (None, None).

    ROOT itself is passed over when its files are another data set's.
    """
    for directory in _search_dirs(name, root):
        paths = _find_files(directory)
        if not all(paths.values()):
            continue
        if directory == root and _identify(paths) not in (None, name):
            continue
        return directory, paths
    return None, None


def _identify(paths):
    """The data set whose test-labels file is at ``paths`` (by its content), or None."""
    base = "t10k-labels-idx1-ubyte"
    try:
        digest = _digest(read_idx(paths[base]))
    except DataError:
        return None
    return next((name for name, sums in SHA256.items() if sums.get(base) == digest), None)


def _find_files(directory):
    """Map each of FILES to its path in directory (gzipped or not), or None."""
    paths = {}
    for base in FILES:
        dotted = base.replace("-idx", ".idx")  # some copies are named train-images.idx3-ubyte
        candidates = (base + ".gz", base, dotted + ".gz", dotted)
        paths[base] = next(
            (os.path.join(directory, c) for c in candidates if os.path.isfile(os.path.join(directory, c))),
            None,
        )
    return paths


def _file_list():
    return ", ".join(base + ".gz" for base in FILES)


def _download(name, base, directory, progress):
    from bprop.data.download import DownloadFailed, fetch

    destination = os.path.join(directory, base + ".gz")
    failures = []
    for mirror in mirrors(name):
        url = mirror.rstrip("/") + "/" + base + ".gz"
        try:
            fetch(url, destination, SHA256[name].get(base), progress=progress)
            return destination
        except DownloadFailed as error:
            failures.append(f"{url}: {error}")
        except OSError as error:  # the folder itself: full disk, no permission
            raise DataError(
                f"cannot write {destination} ({error.strerror}); free space or pass a writable data_dir="
            ) from None
    raise DataError(
        f"could not download {TITLES[name]} ({'; '.join(failures)}); "
        f"put {_file_list()} in {directory} and run again"
    )


def _verify(name, base, path, array, own_folder):
    """Check the file's decompressed content against SHA256, rebuilt from the parsed array.

    A file that is another data set's (MNIST's where Fashion-MNIST's was looked for) is
    named as such, and the user is told where this data set's files go, never to delete it.
    """
    expected = SHA256[name].get(base)
    if expected is None:
        return
    digest = _digest(array)
    if digest == expected.lower():
        return
    other = next((other for other, sums in SHA256.items()
                  if other != name and sums.get(base) == digest), None)
    if other is not None:
        raise DataError(
            f"{path} is the {TITLES[other]} file {base}, not {TITLES[name]}'s; keep it, and put "
            f"{TITLES[name]}'s files in their own folder, {own_folder}"
        )
    raise DataError(
        f"{path} is not the {TITLES[name]} file {base} (its SHA-256 differs); "
        "delete it to download it again, or point data_dir at the right folder"
    )


def _digest(array):
    """SHA-256 (hex) of the IDX file an array was read from, rebuilt from the array."""
    type_code = next(code for code, dtype in IDX_TYPES.items() if dtype == array.dtype.newbyteorder(">"))
    digest = hashlib.sha256(bytes([0, 0, type_code, array.ndim]))
    digest.update(struct.pack(f">{array.ndim}I", *array.shape))
    digest.update(np.ascontiguousarray(array, dtype=IDX_TYPES[type_code]))
    return digest.hexdigest()


def _examples(arrays, prefix, paths):
    images, labels = arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"]
    images_path, labels_path = paths[f"{prefix}-images-idx3-ubyte"], paths[f"{prefix}-labels-idx1-ubyte"]
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{images_path}: expected unsigned-byte images of shape (n, rows, columns), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(f"{labels_path}: expected unsigned-byte labels of shape (n,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; the files do not belong together"
        )
    if len(labels) == 0:
        raise DataError(f"{images_path}: holds no images")
    if labels.max() > 9:
        raise DataError(f"{labels_path}: label {labels.max()} is not a class 0..9; the file is corrupt")
    X = images.reshape(len(images), images.shape[1] * images.shape[2]).astype(np.float32)
    X /= 255.0
    return X, labels.astype(np.int64)
