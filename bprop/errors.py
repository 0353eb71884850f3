"""The errors bprop raises on purpose.

Every one is a one-line message that says what is wrong and what to do. They subclass
the built-in type a caller would expect (``ValueError`` for bad input), so
``except ValueError`` keeps working, and ``BpropError`` catches them all.
"""


class BpropError(Exception):
    """Base class of every error bprop raises deliberately."""


class InputError(BpropError, ValueError):
    """Bad arguments or data passed to a public function: shapes, NaN/inf, labels, names."""


class UsageError(InputError):
    """A command was given an option value it cannot use (the command line exits with 2)."""


class DataError(BpropError, ValueError):
    """A data set file is missing, corrupt, truncated or of the wrong kind."""


class ModelFileError(BpropError, ValueError):
    """A model or checkpoint file is corrupt, hostile, from the future or does not match."""


class DivergenceError(BpropError, ArithmeticError):
    """Training produced a NaN or infinite cost."""


class TrainingInterrupted(BpropError):
    """Training was stopped (Ctrl-C, SIGTERM) after the last checkpoint was written.

    ``exit_status`` is what the command exits with: 128 + the signal's number (130 for
    Ctrl-C, 143 for SIGTERM), as a shell reports a process ended by that signal.
    """

    def __init__(self, message, exit_status=130):
        super().__init__(message)
        self.exit_status = exit_status

    def __reduce__(self):  # keep exit_status when pickled (e.g. across Dask)
        return type(self), (str(self), self.exit_status)


class MissingDependency(BpropError, ImportError):
    """An optional library a feature needs is not installed (see ``bprop.extras``)."""


class FolderInUseError(BpropError):
    """A run or sweep folder is held by another process that is still running."""
