"""Fetch one file over HTTP(S), verify it, and write it atomically.

The bytes go to a temporary file beside the destination, which is fsynced, checked and
only then renamed over the destination with ``os.replace``; on any failure the temporary
file is deleted, so a partial or unverified download never takes the real name.
"""
import gzip
import hashlib
import os
import sys
import tempfile
import zlib

__all__ = ["fetch", "DownloadFailed", "MAX_DOWNLOAD_BYTES"]

# No MNIST-style file is near this; it stops a misbehaving server from filling the disk.
MAX_DOWNLOAD_BYTES = 256 * 2**20
TIMEOUT_SECONDS = 30
_CHUNK = 1 << 16


class DownloadFailed(Exception):
    """One URL could not be fetched or did not verify; the caller tries the next mirror."""


def fetch(url, destination, sha256=None, *, progress=False, timeout=TIMEOUT_SECONDS):
    """Download ``url`` to ``destination``, verifying the content's SHA-256.

    Parameters
    ----------
    url : str
    destination : str
        Final path; its directory must exist.
    sha256 : str or None
        Expected SHA-256 (hex) of the *decompressed* content when the file is gzip,
        of the file itself otherwise; checking the content rather than the gzip bytes lets
        mirrors that recompressed the files verify too. None skips the check.
    progress : bool
        Show a tqdm progress bar on stderr (only if stderr is a terminal and tqdm is installed).

    Raises
    ------
    DownloadFailed
        Network error, HTTP error, truncated transfer, oversized file or checksum mismatch.
        The message says which; nothing is left at ``destination`` or beside it.
    """
    import http.client
    import urllib.error
    import urllib.request

    directory = os.path.dirname(os.path.abspath(destination))
    handle, temporary = tempfile.mkstemp(
        prefix="." + os.path.basename(destination) + ".", suffix=".part", dir=directory
    )
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(handle, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        with os.fdopen(handle, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "bprop"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    _copy(response, out, url, progress)
            except urllib.error.HTTPError as error:
                raise DownloadFailed(f"HTTP {error.code} {error.reason}") from None
            except urllib.error.URLError as error:
                raise DownloadFailed(str(error.reason)) from None
            except DownloadFailed:
                raise
            except (OSError, ValueError, http.client.HTTPException) as error:  # resets, timeouts, IncompleteRead
                raise DownloadFailed(f"{type(error).__name__}: {error}".rstrip(": ")) from None
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None:
            actual = content_sha256(temporary)
            if actual != sha256.lower():
                raise DownloadFailed(
                    f"SHA-256 mismatch (got {actual[:16]}..., expected {sha256[:16]}...; "
                    "the download was deleted)"
                )
        os.replace(temporary, destination)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def content_sha256(path):
    """SHA-256 (hex) of a file's content, decompressed first if it is gzip.

    Raises DownloadFailed if the gzip stream is corrupt or truncated.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        try:
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            for chunk in iter(lambda: stream.read(_CHUNK), b""):
                digest.update(chunk)
        except EOFError:
            raise DownloadFailed("truncated gzip stream (the download was deleted)") from None
        except (OSError, zlib.error) as error:
            raise DownloadFailed(f"corrupt gzip data: {error} (the download was deleted)") from None
    return digest.hexdigest()


def _copy(response, out, url, progress):
    declared = response.headers.get("Content-Length")
    total = int(declared) if declared and declared.isdigit() else None
    if total is not None and total > MAX_DOWNLOAD_BYTES:
        raise DownloadFailed(f"the server announces {total} bytes, more than the {MAX_DOWNLOAD_BYTES} allowed")
    bar = _progress_bar(total, os.path.basename(url), progress)
    received = 0
    try:
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            received += len(chunk)
            if received > MAX_DOWNLOAD_BYTES:
                raise DownloadFailed(f"the file is larger than the {MAX_DOWNLOAD_BYTES} bytes allowed")
            out.write(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    if total is not None and received != total:
        raise DownloadFailed(f"the transfer stopped after {received} of {total} bytes")


def _progress_bar(total, description, progress):
    if not progress or not _stderr_is_terminal():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024,
                leave=False, file=sys.stderr)


def _stderr_is_terminal():
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _fsync_directory(directory):
    """Make the rename durable; not every platform can open a directory, so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
