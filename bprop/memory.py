"""How much memory something needs, checked before it is allocated.

A network, a model file or an input file that claims more memory than the machine has is
refused with one line saying how much it needs (``InputError``), instead of failing
half-way with a MemoryError traceback, or driving the machine into swap.
"""
import os

from bprop.errors import InputError


def physical_bytes():
    """The machine's RAM in bytes, or the container's memory limit (cgroup v2) if lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        total = None
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as file:
            limit = int(file.read().strip())  # "max" (no limit) is not an int
        total = limit if total is None else min(total, limit)
    except (OSError, ValueError):
        pass
    return total


def limit_bytes():
    """The most one allocation may take: the machine's (or container's) RAM, or
    ``$BPROP_MEMORY_LIMIT`` bytes when set."""
    given = os.environ.get("BPROP_MEMORY_LIMIT")
    if given:
        try:
            return int(float(given))
        except ValueError:
            raise InputError(f"BPROP_MEMORY_LIMIT must be a number of bytes; got {given!r}") from None
    return physical_bytes()


def human(nbytes):
    """``1.5 GB`` style: decimal units, three significant digits."""
    value = float(nbytes)
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if value < 1000 or unit == "PB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1000
    return f"{value:.3g} EB"


def require(nbytes, what, advice=""):
    """Raise InputError if ``what`` needs more than ``limit_bytes()``; ``advice`` says what to do."""
    limit = limit_bytes()
    if limit is not None and nbytes > limit:
        raise InputError(f"{what} needs {human(nbytes)} of memory, more than this machine has "
                         f"({human(limit)}){'; ' + advice if advice else ''}")


def doubled(X, what, advice=""):
    """``X`` with room for twice its rows (its own first), once ``require`` allows the two:
    for a matrix filled row by row from a file whose row count is not known ahead."""
    import numpy as np

    require(2 * X.nbytes, what, advice)
    return np.concatenate([X, np.empty_like(X)])


def parameter_count(sizes):
    """Weights and biases of a fully connected network with these layer sizes."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
