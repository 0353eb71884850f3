"""Read IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number, one big-endian 32-bit size per dimension, then the
items row-major, most significant byte first::

    00 00 TT NN | d_1 (4 bytes) ... d_N (4 bytes) | d_1 * ... * d_N items of type TT

The reader trusts nothing in the header: it compares the size the header claims with the
bytes actually there before it allocates, reads gzip streams incrementally, and refuses
truncated files and trailing data, so a corrupt or hostile file costs at most its own size.
"""
import gzip
import os
import struct
import zlib

import numpy as np

from bprop.data.dataset import opening
from bprop.errors import DataError

__all__ = ["read_idx", "IDX_TYPES", "MAX_BYTES"]

# Type code (third magic byte) -> NumPy dtype; multi-byte types are big-endian in the file.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Largest payload read_idx accepts unless told otherwise. Fashion-MNIST's training images
# are 47 MB; the cap only bounds what a small, highly compressed gzip file can expand to.
MAX_BYTES = 2**30

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def read_idx(path, *, max_bytes=MAX_BYTES):
    """Read an IDX file, gzipped or plain, into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip is recognised by its magic bytes (1f 8b), not by the file name.
    max_bytes : int, optional
        Refuse a file whose header claims more data than this (default 1 GiB).

    Returns
    -------
    numpy.ndarray
        Shape ``(d_1, ..., d_N)`` from the header, native byte order; dtype uint8, int8,
        int16, int32, float32 or float64 by the header's type code.

    Raises
    ------
    bprop.errors.DataError
        The file is missing, not IDX, of an unsupported type, truncated, has trailing
        data, or is corrupt gzip. The message names the file and the problem.
    """
    name = os.fspath(path)
    with opening(name, "an IDX file"):
        raw = open(name, "rb")
    try:
        with raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _read(stream, name, None, max_bytes)
            return _read(raw, name, os.fstat(raw.fileno()).st_size, max_bytes)
    except EOFError:
        raise DataError(
            f"{name}: the gzip stream is truncated (an interrupted download?); "
            "delete the file and fetch it again"
        ) from None
    except (OSError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise DataError(
            f"{name}: corrupt gzip data ({error}); delete the file and fetch it again"
        ) from None


def _read(stream, name, file_size, max_bytes):
    """Parse header and payload from an open binary stream; file_size is None for gzip."""
    magic = _read_up_to(stream, 4)
    if len(magic) < 4:
        raise DataError(f"{name}: {len(magic)} bytes is too short for an IDX header; is it an IDX file?")
    zero_0, zero_1, type_code, ndim = magic
    if zero_0 or zero_1:
        raise DataError(
            f"{name}: not an IDX file (magic number {magic.hex()} should start with 0000); "
            "check that this is an MNIST-style IDX file"
        )
    if type_code not in IDX_TYPES:
        codes = ", ".join(f"0x{code:02X}" for code in IDX_TYPES)
        raise DataError(f"{name}: unsupported IDX type code 0x{type_code:02X}; bprop reads {codes}")
    if ndim == 0:
        raise DataError(f"{name}: the IDX header declares 0 dimensions; the file is corrupt")
    dims_bytes = _read_up_to(stream, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise DataError(
            f"{name}: truncated IDX header ({ndim} dimensions need {4 * ndim} bytes, "
            f"found {len(dims_bytes)}); the file is corrupt or cut short"
        )
    shape = struct.unpack(f">{ndim}I", dims_bytes)
    dtype = IDX_TYPES[type_code]
    n_bytes = dtype.itemsize
    for d in shape:
        n_bytes *= d  # Python int: no overflow, however large the claim
    extent = dtype.itemsize
    for d in shape:
        extent *= max(d, 1)
    if extent > np.iinfo(np.intp).max:  # NumPy refuses such a shape even when a size is 0
        raise DataError(f"{name}: the header's shape {shape} is too large for any array; the file is corrupt")
    if n_bytes > max_bytes:
        raise DataError(
            f"{name}: the header claims shape {shape} = {n_bytes} bytes, more than the "
            f"{max_bytes}-byte limit; the file is corrupt, or pass a larger max_bytes"
        )

    if file_size is not None:
        available = file_size - 4 - 4 * ndim
        if available < n_bytes:
            raise DataError(
                f"{name}: truncated: the header claims shape {shape} = {n_bytes} bytes of data "
                f"but the file holds {available}; fetch the file again"
            )
        if available > n_bytes:
            raise DataError(
                f"{name}: {available - n_bytes} bytes of trailing data after the {n_bytes} the "
                f"header claims for shape {shape}; the file is corrupt or not IDX"
            )
        buffer = bytearray(n_bytes)
        view, filled = memoryview(buffer), 0
        while filled < n_bytes:
            got = stream.readinto(view[filled:])
            if not got:
                raise DataError(f"{name}: the file shrank while being read; try again")
            filled += got
    else:
        # Grow the buffer only as decompressed data really arrives: a header that lies
        # about the size fails at the end of the stream, not in a huge allocation.
        buffer = bytearray()
        while len(buffer) < n_bytes:
            chunk = stream.read(min(_CHUNK, n_bytes - len(buffer)))
            if not chunk:
                raise DataError(
                    f"{name}: truncated: the header claims shape {shape} = {n_bytes} bytes of "
                    f"data but the gzip stream holds {len(buffer)}; fetch the file again"
                )
            buffer += chunk
        # Reading past the payload also makes gzip check the stream's end marker and CRC.
        if stream.read(1):
            raise DataError(
                f"{name}: trailing data after the {n_bytes} bytes the header claims for "
                f"shape {shape}; the file is corrupt or not IDX"
            )

    array = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _read_up_to(stream, n):
    """Read n bytes, fewer only at end of stream."""
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data
