"""bprop: backpropagation done as real software.

A small, fast NumPy implementation of fully connected feed-forward networks trained
by the four equations of backpropagation, in Nielsen's notation.
"""
from bprop.errors import (BpropError, DataError, DivergenceError, InputError, ModelFileError,
                          TrainingInterrupted)
from bprop.gradcheck import gradcheck
from bprop.io import load
from bprop.network import Dense, Network
from bprop.training import Callback, History, Trainer

__version__ = "0.1.0"


def trace(*args, **kwargs):
    """One training step, every number labelled by its equation; see ``bprop.trace_step``."""
    from bprop.tracing import trace as _trace

    return _trace(*args, **kwargs)


__all__ = [
    "Network", "Dense", "load", "gradcheck", "trace", "Trainer", "Callback", "History",
    "BpropError", "InputError", "DataError", "ModelFileError", "DivergenceError",
    "TrainingInterrupted",
]
