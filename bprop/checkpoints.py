"""What a checkpoint's training state must look like, checked before a run resumes from it.

A checkpoint is read as strictly as a model file (``bprop.io`` checks its arrays'
names, shapes and sizes); this module checks the JSON half, the trainer's state
(``Trainer.state``), against the network it will continue: every count an integer in
range, every number finite, every array present with the network's dtype, the history
as long as the epochs it claims. A corrupt or hand-edited checkpoint is then one line
(``ModelFileError``) before training starts, never a KeyError or a ZeroDivisionError
half-way through an epoch.
"""
import math
import numbers

import numpy as np

from bprop.errors import ModelFileError

HISTORY_NUMBERS = ("cost", "learning_rate", "seconds")                          # always there
HISTORY_OPTIONAL = ("accuracy", "validation_cost", "validation_accuracy")       # None without labels or validation data


def check_trainer_state(info, arrays, network, name):
    """Raise ModelFileError unless ``info`` (JSON) and ``arrays`` (``optimizer/...``,
    ``best/...``) are a training state ``Trainer.load_state`` can continue ``network`` from."""
    def fail(what):
        raise ModelFileError(f"{name}: its training state is invalid ({what}); the file is damaged "
                             f"or was edited: resume from a good copy or start the run again")

    def integer(key, value, minimum=0):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            fail(f"{key} must be an integer >= {minimum}, not {value!r}")
        return int(value)

    def number(key, value, minimum=None, optional=False):
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
                or (minimum is not None and value < minimum):
            fail(f"{key} must be a finite number{f' >= {minimum}' if minimum is not None else ''}, not {value!r}")
        return value

    def mapping(key, value):
        if not isinstance(value, dict):
            fail(f"{key} must be a mapping, not {type(value).__name__}")
        return value

    missing = [key for key in ("epochs", "batch_size", "l2", "dropout", "optimizer", "schedule", "epoch",
                               "batch", "epoch_shuffle_state", "shuffle_state", "dropout_state", "running",
                               "history", "best") if key not in info]
    if missing:
        fail(f"it has no {', '.join(missing)}")
    integer("epochs", info["epochs"], 1)
    integer("batch_size", info["batch_size"], 1)
    number("l2", info["l2"], 0)
    if not 0 <= number("dropout", info["dropout"], 0) < 1:
        fail(f"dropout must be in [0, 1), not {info['dropout']!r}")
    epoch, batch = integer("epoch", info["epoch"]), integer("batch", info["batch"])
    if not isinstance(info.get("stop", False), bool):
        fail("stop must be true or false")

    # the optimizer: its name, its step count, and one state array per parameter (or none yet)
    optimizer = mapping("optimizer", info["optimizer"])
    if optimizer.get("name") not in ("sgd", "adam"):
        fail(f"unknown optimizer {optimizer.get('name')!r}")
    n_parameters = 2 * network.n_layers
    families = ("m", "v") if optimizer["name"] == "adam" else ("v",)
    if optimizer["name"] == "adam":
        integer("the optimizer's step count t", optimizer.get("t"))
    for family in families:
        present = [i for i in range(n_parameters) if f"optimizer/{family}{i}" in arrays]
        if present and len(present) != n_parameters:
            fail(f"it holds optimizer arrays {family}{present[0]}.. for {len(present)} of the "
                 f"{n_parameters} parameters")
    for key, array in arrays.items():
        if array.dtype != network.dtype:
            fail(f"{key} is {array.dtype} but the network is {network.dtype}")

    schedule = mapping("schedule", info["schedule"])
    if number("the schedule's learning_rate", schedule.get("learning_rate"), 0) <= 0:
        fail("the schedule's learning_rate must be > 0")
    for key in ("epochs", "waited"):
        if key in schedule:
            integer(f"the schedule's {key}", schedule[key])
    if "best" in schedule:
        number("the schedule's best", schedule["best"], optional=True)

    running = mapping("running", info["running"])
    number("running cost", running.get("cost"))
    integer("running correct", running.get("correct"))
    seen = integer("running seen", running.get("seen"))
    number("running seconds", running.get("seconds"), 0)
    if batch > 0 and seen == 0:
        fail(f"it is {batch} mini-batches into an epoch but has counted no examples")

    history = info["history"]
    if not isinstance(history, list) or len(history) != epoch:
        fail(f"it has finished {epoch} epochs but its history holds "
             f"{len(history) if isinstance(history, list) else 'no list of'} records")
    for i, record in enumerate(history, 1):
        record = mapping(f"history record {i}", record)
        if record.get("epoch") != i:
            fail(f"history record {i} is numbered {record.get('epoch')!r}")
        for key in HISTORY_NUMBERS + HISTORY_OPTIONAL:
            number(f"history record {i}'s {key}", record.get(key), optional=key in HISTORY_OPTIONAL)

    for key in ("shuffle_state", "dropout_state", "epoch_shuffle_state"):
        state = info[key]
        if state is None and key == "epoch_shuffle_state":
            continue
        try:
            np.random.default_rng().bit_generator.state = mapping(key, state)
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            fail(f"{key} is not a random generator's state ({error})")

    best = info["best"]
    if best is not None:
        best = mapping("best", best)
        score = best.get("score")  # (accuracy, -cost) or (-cost,); a number in older checkpoints
        if isinstance(score, list) and 1 <= len(score) <= 2:
            for value in score:
                number("best score", value)
        else:
            number("best score", score)
        if not 1 <= integer("best epoch", best.get("epoch"), 1) <= max(epoch, 1):
            fail(f"its best epoch {best['epoch']} is after the {epoch} epochs it has run")
        absent = [f"best/{p}{l}" for l in range(network.n_layers) for p in "wb"
                  if f"best/{p}{l}" not in arrays]
        if absent:
            fail(f"it names a best epoch but has no {absent[0]}")
