"""Model and checkpoint files: one ``.npz`` of arrays plus a JSON header. Never pickle.

Layout of an archive: a ``header`` entry holding UTF-8 JSON bytes (``format``,
``version``, ``kind`` and the kind's own fields) and one entry per array
(``w0``, ``b0``, ``w1``, ...). Reading treats the file as untrusted: pickle is
disabled, every array's shape and dtype is checked against the header before its data
is read (so a hostile size claim is refused without allocating), and any problem is a
``ModelFileError`` of one line. Writing is atomic: a temporary file in the same
folder, flushed and fsynced, then renamed over the target.
"""
import contextlib
import json
import math
import os
import tempfile
import zipfile
import zlib

import numpy as np

from bprop.errors import ModelFileError

TEMPORARY_PREFIX = ".bprop-"  # what a write killed mid-way (SIGKILL) can leave behind
FORMAT = "bprop"
VERSION = 1
_ARRAY_DTYPES = ("float32", "float64")


# ---- writing ---------------------------------------------------------------------------
def write_archive(path, kind, arrays, info):
    """Atomically write ``arrays`` (name → ndarray) and the JSON-able ``info`` to ``path``."""
    header = {"format": FORMAT, "version": VERSION, "kind": kind, **info}
    payload = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    payload.update({name: np.ascontiguousarray(a) for name, a in arrays.items()})
    with atomic_file(path) as file:
        np.savez(file, **payload)


def write_text(path, text):
    """Atomically write a text file (UTF-8)."""
    with atomic_file(path) as file:
        file.write(text.encode("utf-8"))


@contextlib.contextmanager
def atomic_file(path):
    """A binary file that appears at ``path`` complete or not at all.

    Written to a temporary file in the same folder, flushed and fsynced, then renamed
    over ``path``; on any error the temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=TEMPORARY_PREFIX, suffix=".tmp")
    except OSError as error:  # name the file the user asked for, not the temporary one
        raise OSError(error.errno, error.strerror, path) from None
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def _umask():
    """The process's umask, read once (reading it means setting it, so not on every write)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


_UMASK = None


def remove_stale_temporaries(folder):
    """Delete temporary files left in ``folder`` by writes that were killed mid-way."""
    for name in os.listdir(folder):
        if name.startswith(TEMPORARY_PREFIX) and name.endswith(".tmp"):
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:
                pass


def _fsync_folder(folder):
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def save(network, path):
    """Write ``network`` to ``path`` (a ``.npz`` file), atomically. ``bprop.load`` reads it
    (in ``bprop/network.py``: this module knows the file format, not the Network class)."""
    if os.path.isdir(path):
        from bprop.errors import InputError

        raise InputError(f"{os.fspath(path)} is a directory; save to a file in it, like "
                         f"{os.path.join(os.fspath(path), 'model.npz')}")
    write_archive(path, "model", network_arrays(network), model_info(network))


def model_info(network):
    """The header fields that describe a model: its architecture (with each activation's
    parameters), its class names and how its input images were made."""
    image_format = network.image_format
    return {"network": network.config(),
            "class_names": None if network.class_names is None else list(network.class_names),
            "image_format": None if image_format is None else image_format.to_json()}


def network_arrays(network):
    arrays = {}
    for l, (w, b) in enumerate(zip(network.weights, network.biases)):
        arrays[f"w{l}"], arrays[f"b{l}"] = w, b
    return arrays


# ---- reading -----------------------------------------------------------------------------
def read_archive(path, kinds, expected_shapes=None):
    """Read and check an archive; returns ``(arrays, header)``.

    Only the members the kind holds are read: ``w{l}``/``b{l}`` with the shapes
    ``header["network"]`` implies (required), plus ``expected_shapes`` (required) and,
    in a checkpoint, the trainer's optimizer and best-weights arrays of the same shapes
    (optional). Before any array is decompressed, every member is checked: an unknown
    member is refused, a member's claimed uncompressed size must fit its shape, and the
    arrays together must fit in memory. So a file's memory use is bounded by what its
    architecture needs, not by what its members claim.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    if os.path.isdir(path):
        raise ModelFileError(f"{path} is a directory, not a model file; give the .npz file's path")
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            if "header.npy" not in members:
                raise ModelFileError(f"{name} is not a bprop file: it has no header")
            if members["header.npy"].file_size > _HEADER_BYTES:
                raise ModelFileError(f"{name}: header is implausibly large")
            header = _read_header(archive, members["header.npy"], name)
            if header.get("kind") not in kinds:
                raise ModelFileError(f"{name} holds a {header.get('kind')!r}, expected one of {', '.join(kinds)}")
            shapes = dict(expected_shapes or {})
            shapes.update(_network_shapes(header, name))
            allowed = dict(shapes)
            if header["kind"] == "checkpoint":
                allowed.update(_trainer_shapes(header["network"]["sizes"]))
            itemsize = 4 if header["network"].get("dtype") == "float32" else 8
            _check_members(members, allowed, itemsize, name, header["kind"])
            arrays = {}
            for member, info in members.items():
                if member != "header.npy":
                    key = member[:-4]
                    arrays[key] = _read_array(archive, info, key, allowed[key], name)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, KeyError,
            OSError, RuntimeError, NotImplementedError, zlib.error) as error:
        raise ModelFileError(f"{name} is corrupt or not a bprop file ({type(error).__name__}: "
                             f"{str(error)[:120]})") from None
    missing = [key for key in shapes if key not in arrays]
    if missing:
        raise ModelFileError(f"{name} is missing arrays {', '.join(missing[:5])}")
    return arrays, header


_HEADER_BYTES = 1 << 24      # the JSON header
_NPY_HEADER_BYTES = 1 << 16  # a .npy member's own header, before its data
_DEFLATE_RATIO = 1100        # deflate cannot expand data more than about 1032-fold


def _check_members(members, allowed, itemsize, name, kind):
    """Refuse unknown members and size claims the shapes do not allow, before decompressing."""
    from bprop import memory

    total = 0
    for member, info in members.items():
        if member == "header.npy":
            continue
        key = member[:-4] if member.endswith(".npy") else None
        if key not in allowed:
            raise ModelFileError(f"{name}: unexpected entry {member!r}; a bprop {kind} file holds "
                                 f"only its header and the arrays its architecture needs")
        nbytes = math.prod(allowed[key]) * 8  # the largest dtype a member may have
        if info.file_size > _NPY_HEADER_BYTES + nbytes:
            raise ModelFileError(f"{name}: entry {key!r} claims {info.file_size:,} bytes, more than an "
                                 f"array of shape {allowed[key]} holds")
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > _DEFLATE_RATIO * max(1, info.compress_size):
            raise ModelFileError(f"{name}: entry {key!r} claims to expand {info.compress_size:,} bytes "
                                 f"to {info.file_size:,}, more than compression can")
        total += math.prod(allowed[key]) * itemsize
    try:
        memory.require(total, f"{name}'s arrays")
    except ValueError as error:
        raise ModelFileError(str(error)) from None


def _read_header(archive, info, name):
    with archive.open(info) as file:
        array = _read_npy(file, None, name, "header", allowed=("uint8",), stored_size=info.file_size)
    try:
        header = json.loads(array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{name}: header is not valid JSON") from None
    except RecursionError:
        raise ModelFileError(f"{name}: header's JSON is nested too deeply to be a bprop header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{name} is not a bprop file (no bprop header)")
    version = header.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{name}: header has no valid format version (an integer >= 1)")
    if version > VERSION:
        raise ModelFileError(
            f"{name} was written in format version {version}, newer than this bprop reads "
            f"({VERSION}); upgrade bprop to load it"
        )
    return header


def _network_shapes(header, name):
    config = header.get("network")
    if not isinstance(config, dict):
        raise ModelFileError(f"{name}: header does not describe a network")
    sizes = config.get("sizes")
    if (not isinstance(sizes, list) or not 2 <= len(sizes) <= 1000
            or not all(isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 1 << 24 for n in sizes)):
        raise ModelFileError(f"{name}: header's layer sizes {str(sizes)[:60]} are not valid")
    shapes = {}
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        shapes[f"w{l}"], shapes[f"b{l}"] = (n_out, n_in), (n_out,)
    return shapes


def _trainer_shapes(sizes):
    """The arrays a checkpoint's trainer may hold: optimizer state per parameter, best weights."""
    parameters = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        parameters += [(n_out, n_in), (n_out,)]
    shapes = {}
    for i, shape in enumerate(parameters):  # SGD's velocities v{i}, Adam's moments m{i} and v{i}
        shapes[f"trainer/optimizer/v{i}"] = shapes[f"trainer/optimizer/m{i}"] = shape
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        shapes[f"trainer/best/w{l}"], shapes[f"trainer/best/b{l}"] = (n_out, n_in), (n_out,)
    return shapes


def _read_array(archive, info, key, shape, name):
    with archive.open(info) as file:
        return _read_npy(file, shape, name, key, allowed=_ARRAY_DTYPES, stored_size=info.file_size)


def read_npy_header(file):
    """The magic and header of a .npy stream, reading no data: (version, shape, fortran_order, dtype).

    For a version bprop does not read (only 1.0, 2.0 and 3.0 exist), shape, fortran_order and
    dtype are None, so each caller can name the problem in its own words.
    """
    fmt = np.lib.format
    version = fmt.read_magic(file)
    if version == (1, 0):
        return (version, *fmt.read_array_header_1_0(file))
    if version in ((2, 0), (3, 0)):
        return (version, *fmt.read_array_header_2_0(file))
    return version, None, None, None


def _read_npy(file, shape, name, key, allowed, stored_size=None):
    """One .npy entry, checking dtype and shape from its header before reading any data.

    Big-endian arrays are read and byte-swapped to the machine's order.
    """
    version, found_shape, fortran, dtype = read_npy_header(file)
    if dtype is None:
        raise ModelFileError(f"{name}: entry {key!r} has unknown .npy version {version}")
    if dtype.hasobject or dtype.name not in allowed:
        raise ModelFileError(f"{name}: entry {key!r} has dtype {dtype}, expected {' or '.join(allowed)} "
                             "(object arrays are never loaded)")
    if shape is not None and tuple(found_shape) != tuple(shape):
        raise ModelFileError(f"{name}: {key} has shape {tuple(found_shape)} but the header's "
                             f"architecture needs {tuple(shape)}")
    count = math.prod(found_shape)
    nbytes = count * dtype.itemsize
    if stored_size is not None and nbytes > stored_size:
        raise ModelFileError(f"{name}: {key} claims {nbytes:,} bytes but the entry holds {stored_size:,}")
    array = np.empty(count, dtype=dtype)
    view, filled = memoryview(array).cast("B"), 0
    while filled < nbytes:
        got = file.readinto(view[filled:])
        if not got:
            raise ModelFileError(f"{name}: {key} is truncated ({filled:,} of {nbytes:,} bytes)")
        filled += got
    if not dtype.isnative:
        array = array.byteswap().view(dtype.newbyteorder("="))
    array = array.reshape(found_shape, order="F" if fortran else "C")
    return np.ascontiguousarray(array)  # owned, C-ordered (a copy only for Fortran order)


def class_names_from(header, n_outputs, name):
    """The header's class names, checked against the network's outputs (None if absent)."""
    names = header.get("class_names")
    if names is None:
        return None
    if (not isinstance(names, list) or not all(isinstance(c, str) and len(c) <= 1000 for c in names)
            or len(names) != (2 if n_outputs == 1 else n_outputs)):
        raise ModelFileError(f"{name}: header's class names do not fit the network's {n_outputs} outputs")
    return names


def image_format_from(header, n_inputs, name):
    """The header's image format (``bprop.images.ImageFormat``), checked (None if absent)."""
    value = header.get("image_format")
    if value is None:
        return None
    from bprop.images import ImageFormat

    try:
        image_format = ImageFormat.from_json(value)
    except ValueError as error:
        raise ModelFileError(f"{name}: header's image format is invalid ({error})") from None
    if image_format.shape[0] * image_format.shape[1] != n_inputs:
        raise ModelFileError(f"{name}: header's image shape {image_format.shape} does not hold "
                             f"the network's {n_inputs} inputs")
    return image_format
