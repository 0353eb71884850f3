"""bprop: backpropagation done as real software.

A small, fast NumPy implementation of fully connected feed-forward networks trained
by the four equations of backpropagation, in Nielsen's notation.

The public names below are loaded on first use, so ``import bprop`` (and ``bprop --help``)
stay quick.
"""
import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "Network": "bprop.network", "Dense": "bprop.network",
    "load": "bprop.network", "gradcheck": "bprop.finite_differences", "trace": "bprop.tracing",
    "Trainer": "bprop.training", "Callback": "bprop.training", "History": "bprop.training",
    "BpropError": "bprop.errors", "InputError": "bprop.errors", "DataError": "bprop.errors",
    "ModelFileError": "bprop.errors", "DivergenceError": "bprop.errors",
    "TrainingInterrupted": "bprop.errors",
}

__all__ = list(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bprop' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
