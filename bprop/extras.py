"""Optional dependencies: which library each feature needs, and how to get it or do without.

The library itself needs NumPy only. The command line's plots, progress bars, bundled
digits and image input, and the sweeps, use other libraries, imported when first used.
A command checks what it will need with ``require`` before it trains or writes
anything, so a missing library is one line naming the extra to install (or the flag
that avoids it), not a traceback after the work is done.
"""
import importlib
import importlib.util

from bprop.errors import MissingDependency

# feature: (module to import, pip distribution, extra of bprop that installs it, how to do without)
FEATURES = {
    "drawing the plots": ("matplotlib", "matplotlib", "cli", "pass --no-plots"),
    "drawing the network": ("matplotlib", "matplotlib", "cli", "leave out --picture"),
    "drawing sweep.png": ("matplotlib", "matplotlib", "sweep", None),
    "a progress bar": ("tqdm", "tqdm", "cli", "pass --quiet"),
    "the digits data set": ("sklearn", "scikit-learn", "cli",
                            "choose another --dataset (mnist, fashion-mnist, csv:PATH, npz:PATH)"),
    "reading images": ("PIL", "pillow", "cli", "give .npy or .csv rows"),
    "drawing a digit in the playground": ("PIL", "pillow", "playground", None),
    "the playground's digits data set": ("sklearn", "scikit-learn", "playground", "choose another data set"),
    "running a sweep": ("distributed", "dask[distributed]", "sweep", None),
    "reading a YAML sweep spec": ("yaml", "pyyaml", "sweep", "write the spec as JSON (.json)"),
}


def message(feature):
    """One line: what is missing, the extra that installs it, and the way around it."""
    module, distribution, extra, instead = FEATURES[feature]
    line = (f"{feature} needs {distribution}, which is not installed: run "
            f"`pip install \"bprop[{extra}]\"` or `pip install {distribution}`")
    return line + (f", or {instead}" if instead else "")


def available(feature):
    """Whether the feature's library can be found, without importing it."""
    module = FEATURES[feature][0]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(feature):
    """Raise MissingDependency (one line) unless the feature's library is installed."""
    if not available(feature):
        raise MissingDependency(message(feature))


def load(feature, module=None, error=MissingDependency):
    """Import ``module`` (default: the feature's library); ``error`` (one line) if it cannot be."""
    try:
        return importlib.import_module(module or FEATURES[feature][0])
    except ImportError:
        raise error(message(feature)) from None
