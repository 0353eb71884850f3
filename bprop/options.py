"""The training options, in one table: names, defaults, checks and help text.

Everything that takes training options is built from ``TRAINING``: ``fit`` and
``Trainer`` (their signatures stay spelled out for readers; a test holds them to this
table), the flags of ``bprop train`` and their help, run configurations
(``bprop.runs``) and so sweeps, and the scikit-learn estimators.

Three kinds of caller start from different defaults, and the table says which:

- ``default``: ``fit`` and ``Trainer``, the book's setting (plain SGD, mini-batches of 10);
- ``run_default``: ``bprop train``, run configurations and sweeps (SGD with momentum 0.9,
  mini-batches of 32, seed 0);
- ``estimator_default``: ``BPClassifier`` and ``BPRegressor`` (Adam and 100 epochs, like
  scikit-learn's ``MLPClassifier``).

Importing this module loads nothing but the standard library (``bprop --help`` builds
its flags from it); a check imports ``bprop.validation`` when it runs.
"""
from typing import Any, Callable, NamedTuple, Optional


class _Absent:
    """Marks an option a kind of caller does not take (e.g. callbacks in a run config)."""

    def __repr__(self):
        return "ABSENT"


ABSENT = _Absent()
SAME = object()  # run_default / estimator_default: the same as ``default``


class Option(NamedTuple):
    """One training option.

    ``check(value)`` returns the value as training uses it or raises InputError (None:
    checked where the option meets the others, in ``check``). ``default_text`` says what
    a default of None stands for. ``flags``, ``type``, ``choices`` and ``metavar`` make
    its ``bprop train`` flag (no flags: not on the command line).
    """

    name: str
    default: Any
    help: str
    check: Optional[Callable] = None
    run_default: Any = SAME
    estimator_default: Any = SAME
    trainer: bool = True
    default_text: Optional[str] = None
    flags: tuple = ()
    type: Any = None
    choices: Optional[tuple] = None
    metavar: Optional[str] = None
    run_default_text: Optional[str] = None  # what a run's default of None stands for, if it differs

    def default_for(self, caller):
        """The default of ``caller``: ``"fit"``, ``"trainer"``, ``"run"`` or ``"estimator"``."""
        if caller == "trainer" and not self.trainer:
            return ABSENT
        value = {"fit": self.default, "trainer": self.default, "run": self.run_default,
                 "estimator": self.estimator_default}[caller]
        return self.default if value is SAME else value

    def describe_default(self, caller):
        """The default as a reader should see it: ``0.0``, ``'sgd'``, or what None stands for."""
        value = self.default_for(caller)
        if value is None and self.default_text:
            return self.default_text
        return repr(value)


# ---- the checks (each imports the validators only when it runs) ------------------------
def _positive_int(name):
    def check(value):
        from bprop import validation

        return validation.positive_int(value, name)
    return check


def _optional_positive_int(name):
    def check(value):
        from bprop import validation

        return None if value is None else validation.positive_int(value, name)
    return check


def _optional_positive(name):
    def check(value):
        from bprop import validation

        return None if value is None else validation.positive(value, name)
    return check


def _fraction(name, upper=None):
    def check(value):
        from bprop import validation

        return validation.non_negative(value, name, upper=upper, upper_open=upper is not None)
    return check


def _seed(value):
    from bprop import validation

    return validation.seed(value)


def _verbose(value):
    from bprop.errors import InputError

    if value not in (0, 1, 2) or isinstance(value, float):
        raise InputError(f"verbose must be 0 (silent), 1 (a line per epoch, and a progress bar "
                         f"on a terminal) or 2 (a line per epoch); got {value!r}")
    return int(value)


def _monitor(value):
    from bprop import validation

    return None if value is None else validation.choice(value, "monitor", MONITORS)


OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "plateau")
MONITORS = ("validation_accuracy", "validation_cost")
KERNELS = ("auto", "numpy", "numba")  # bprop.kernels.CHOICES, without importing the package


def _kernels(value):
    from bprop import validation

    return validation.choice(value, "kernels", KERNELS)

TRAINING = {option.name: option for option in [
    Option("epochs", 30, "passes over the training data", _positive_int("epochs"),
           estimator_default=100, flags=("--epochs",), type=int),
    Option("batch_size", 10, "examples per mini-batch", _positive_int("batch_size"),
           run_default=32, estimator_default=32, flags=("--batch-size",), type=int),
    Option("learning_rate", None, "η", _optional_positive("learning_rate"),
           default_text="0.1 for SGD, 0.001 for Adam",
           run_default_text="0.1 for SGD (0.01 on fashion-mnist), 0.001 for Adam",
           flags=("--lr", "--learning-rate"), type=float),
    # momentum and nesterov are checked by the optimizer they configure (see ``check``).
    Option("momentum", 0.0, "μ for SGD", run_default=None,
           default_text="0.9; Adam uses none", flags=("--momentum",), type=float),
    Option("nesterov", False, "Nesterov momentum", flags=("--nesterov",), type=bool),
    Option("optimizer", "sgd", "the update rule", estimator_default="adam",
           flags=("--optimizer",), choices=OPTIMIZERS),
    Option("l2", 0.0, "λ, L2 regularisation (Nielsen's form)", _fraction("l2"),
           flags=("--l2",), type=float),
    Option("dropout", 0.0, "probability of dropping a hidden neuron", _fraction("dropout", upper=1),
           flags=("--dropout",), type=float),
    Option("schedule", "constant", "learning-rate schedule", flags=("--schedule",), choices=SCHEDULES),
    Option("validation_data", None, "(X_val, y_val), evaluated after each epoch",
           run_default=ABSENT, estimator_default=ABSENT, trainer=False),
    Option("early_stopping", None, "stop after this many epochs without a better validation score",
           _optional_positive_int("early_stopping"), flags=("--early-stopping",), type=int,
           metavar="EPOCHS"),
    Option("monitor", None, "the validation quantity early stopping and the best model watch; "
           "an epoch is better when its validation accuracy is higher, or equal with a lower "
           "validation cost (validation_accuracy), or when its validation cost is lower "
           "(validation_cost); ties keep the earlier epoch", _monitor,
           default_text="validation_accuracy for classes, else validation_cost",
           estimator_default=ABSENT, flags=("--monitor",), choices=MONITORS),
    Option("restore_best", True, "with early_stopping, end with the best epoch's weights "
           "(False: the last epoch's)", run_default=ABSENT, estimator_default=ABSENT),
    # callbacks are checked by the Trainer, which wraps the functions among them.
    Option("callbacks", (), "Callback objects or functions f(record)",
           run_default=ABSENT, estimator_default=ABSENT),
    Option("seed", None, "seeds shuffling and dropout (and, in a run, the initial weights)", _seed,
           default_text="the network's seed",
           run_default=0, estimator_default=ABSENT, flags=("--seed",), type=int),
    Option("kernels", "auto", "numpy: the reference; numba: compiled kernels (same results "
           "to rounding); auto: numba for long trainings, or $BPROP_KERNELS", _kernels,
           estimator_default=ABSENT, flags=("--kernels",), choices=KERNELS),
    Option("verbose", 1, "0 silent; 1 a line per epoch, and a progress bar on a terminal; "
           "2 a line per epoch", _verbose, run_default=ABSENT, estimator_default=0),
]}


def names(caller):
    """The options ``caller`` takes, in the table's order (see ``Option.default_for``)."""
    return [name for name, option in TRAINING.items() if option.default_for(caller) is not ABSENT]


def defaults(caller):
    """``{name: default}`` for ``caller``."""
    return {name: TRAINING[name].default_for(caller) for name in names(caller)}


def float_options():
    """Options that hold floats: a run config stores them as floats, so 1 and 1.0 are one run."""
    return [name for name, option in TRAINING.items() if option.type is float]


# A run's η for SGD by data set, where 0.1 does not train well (measured in the README,
# "Defaults per data set"): on Fashion-MNIST, with momentum 0.9 and batches of 32, η = 0.1
# leaves validation accuracy jumping by ten points from epoch to epoch.
DATASET_SGD_LEARNING_RATES = {"fashion-mnist": 0.01}


def default_learning_rate(optimizer, dataset=None):
    """η when none is given: 0.1 for SGD, 0.001 for Adam; a run on ``dataset`` may differ
    (``DATASET_SGD_LEARNING_RATES``)."""
    if getattr(optimizer, "name", optimizer) == "adam":
        return 0.001
    return DATASET_SGD_LEARNING_RATES.get(dataset, 0.1)


def default_momentum(optimizer):
    """μ of a run config when none is given: 0.9 for SGD; Adam keeps its own moments."""
    return 0.9 if optimizer == "sgd" else 0.0


class Checked(NamedTuple):
    """What ``check`` returns: the checked values, and the optimizer and schedule they make."""

    values: dict
    optimizer: Any
    schedule: Any


def check(values):
    """Check training options (a mapping name -> value, any of ``names("trainer")``); raises InputError.

    Options left out take ``Trainer``'s defaults. Returns ``Checked``: every option's
    value as training uses it (``learning_rate`` filled in for the optimizer), and the
    optimizer and schedule objects built from them, which check the options that only
    make sense together (momentum and nesterov for SGD, η for the schedule).
    """
    from bprop import optimizers, schedules
    from bprop.errors import InputError

    unknown = sorted(set(values) - set(names("trainer")))
    if unknown:
        raise InputError(f"unknown training option(s) {', '.join(unknown)}; "
                         f"known: {', '.join(names('trainer'))}")
    checked = {**defaults("trainer"), **values}
    for name, option in TRAINING.items():
        if name in checked and option.check is not None:
            checked[name] = option.check(checked[name])
    optimizer = optimizers.get(checked["optimizer"], checked["momentum"], checked["nesterov"])
    if checked["learning_rate"] is None:
        checked["learning_rate"] = default_learning_rate(optimizer)
    schedule = schedules.get(checked["schedule"], checked["learning_rate"])
    return Checked(checked, optimizer, schedule)


def add_flags(group):
    """Add ``bprop train``'s training flags to an argparse group; every default is None
    (the run configuration fills it in), the help says what it will be."""
    for option in TRAINING.values():
        if not option.flags:
            continue
        kwargs = {"dest": option.name, "default": None, "help": cli_help(option)}
        if option.type is bool:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(type=option.type, choices=option.choices, metavar=option.metavar)
        group.add_argument(*option.flags, **{k: v for k, v in kwargs.items() if v is not None or k == "default"})


def cli_help(option):
    """The flag's help: the option's help text and its run default."""
    default = option.default_for("run")
    if (default is None and not option.default_text) or option.type is bool:
        return option.help
    shown = (option.run_default_text or option.default_text) if default is None else (
        default if isinstance(default, str) else repr(default))
    return f"{option.help} (default {shown})"
