"""One training run as a folder: configuration, metrics, checkpoints, models and plots.

``train_run(config, run_dir)`` is what ``bprop train`` (and each trial of a sweep) does:

1. resolve the configuration (defaults < preset < given options) and check it;
2. load the data set and build the network;
3. train, writing after every epoch (and every N mini-batches when asked) an atomic
   checkpoint that holds everything needed to continue bit for bit, the metrics so
   far, and the best model;
4. evaluate on the test set and draw the plots.

A run folder holds ``config.json``, ``metrics.csv``, ``checkpoint.npz``,
``model-best.npz``, ``model-last.npz``, ``summary.json``, PNG plots, and ``.lock``, held
by the process that trains the run (see ``bprop.locks``).
``train_run(..., resume=True)`` continues a run from its checkpoint.
"""
import contextlib
import csv
import io as _stringio
import json
import os
import signal
import time

import numpy as np

from bprop import checkpoints, images, io, kernels, options, validation
from bprop.errors import DataError, FolderInUseError, InputError, ModelFileError, TrainingInterrupted, UsageError
from bprop.data.dataset import check_classes
from bprop.locks import LOCK_FILE, FolderLock, new_folder
from bprop.network import Network, load, network_from
from bprop.training import Callback, Trainer, best_epoch, validation_score

# The data set, the network and the checkpoints; the training options and their run
# defaults come from the one table, bprop.options.TRAINING.
DEFAULTS = {
    "dataset": "digits", "data_dir": None, "sizes": None, "hidden": [100],
    "activation": "relu", "output_activation": None, "cost": "cross_entropy",
    "init": None, "dtype": "float32",
    **options.defaults("run"),
    "checkpoint_every": None,
}

SPLIT_SEED = 0
FLOAT_OPTIONS = tuple(options.float_options())

PRESETS = {
    # Nielsen, chapter 1: network.py on MNIST, ~95% after 30 epochs.
    "nielsen-ch1": {"dataset": "mnist", "hidden": [30], "activation": "sigmoid",
                    "output_activation": "sigmoid", "cost": "quadratic", "optimizer": "sgd",
                    "learning_rate": 3.0, "momentum": 0.0, "batch_size": 10, "epochs": 30,
                    "init": "large", "dtype": "float64"},
    # Nielsen, chapter 3: network2.py, cross-entropy and L2, ~98% on MNIST.
    "nielsen-ch3": {"dataset": "mnist", "hidden": [100], "activation": "sigmoid",
                    "output_activation": "sigmoid", "cost": "cross_entropy", "optimizer": "sgd",
                    "learning_rate": 0.5, "momentum": 0.0, "l2": 5.0, "batch_size": 10,
                    "epochs": 30, "init": "nielsen", "dtype": "float64"},
}

CHECKPOINT = "checkpoint.npz"


# Options a resumed run may change: they do not alter what is computed, only how long,
# where the data is read from and how often a checkpoint is written. Every other option
# is fixed by the run's config.json and refused on resume when it differs.
RESUMABLE = ("epochs", "checkpoint_every", "data_dir")

# Options whose default follows others; a value in a config file that equals the default
# it had there is taken as that default, so it follows again (--config with --optimizer adam
# gets Adam's η, not the file's SGD η).
DERIVED = ("learning_rate", "momentum", "output_activation", "monitor")


def resolve_config(given, preset=None, base=None):
    """Defaults, then the preset's values, then ``base`` (a run's config.json, for
    ``--config``), then every given option that is not None.

    Each layer overrides the ones below it, so any flag beside a preset or a config file
    applies. ``hidden`` and ``sizes`` replace each other: a layer that gives one drops the
    other from the layers below. Defaults that follow other options (η follows the
    optimizer and the data set, μ the optimizer, the output activation the cost) are
    filled in last.
    """
    if preset is not None and preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    preset = preset or given.get("preset")
    config = dict(DEFAULTS)
    if preset:
        _apply(config, PRESETS[validation.choice(preset, "preset", list(PRESETS))], "preset")
    if base is not None:
        _apply(config, _as_base(base), "config file")
    _apply(config, {key: value for key, value in given.items() if key != "preset"}, "run option")
    if preset:
        config["preset"] = preset
    for key in DERIVED:
        if config[key] is None:
            config[key] = _derived(config, key)
    for key in FLOAT_OPTIONS:  # one canonical form: 1 and 1.0 are the same run
        if isinstance(config[key], int) and not isinstance(config[key], bool):
            config[key] = float(config[key])
    return config


def _apply(config, layer, what):
    unknown = sorted(set(layer) - set(DEFAULTS) - {"preset"})
    if unknown:
        raise InputError(f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    layer = {key: value for key, value in layer.items() if value is not None and key != "preset"}
    if "hidden" in layer and "sizes" not in layer:
        config["sizes"] = None
    if "sizes" in layer and "hidden" not in layer:
        config["hidden"] = None
    config.update(layer)


def _derived(config, key):
    """The default of ``key`` given the rest of the configuration."""
    if key == "learning_rate":
        return options.default_learning_rate(config["optimizer"], config["dataset"])
    if key == "momentum":  # momentum belongs to SGD; Adam keeps its own moments
        return options.default_momentum(config["optimizer"])
    if key == "output_activation":
        return "softmax" if config["cost"] == "cross_entropy" else "sigmoid"
    return "validation_accuracy"  # monitor: a run's data sets always have classes


def _as_base(stored):
    """A run's config.json as a layer for a new run: the architecture as hidden layers (the
    data set gives the input and output sizes), and stored defaults left to follow again."""
    if not isinstance(stored, dict):
        raise InputError("a run configuration must be a mapping of option names to values")
    layer = {key: value for key, value in stored.items() if key != "preset"}
    sizes = layer.pop("sizes", None)
    if isinstance(sizes, list) and len(sizes) >= 2:
        layer["hidden"] = sizes[1:-1]
    complete = {**DEFAULTS, **layer}
    for key in DERIVED:
        if key in layer and layer[key] == _derived(complete, key):
            layer[key] = None
    return layer


SUMMARY_METRICS = ("validation_accuracy", "best_validation_accuracy", "test_accuracy",
                   "best_test_accuracy", "test_cost", "train_accuracy", "epochs_run", "seconds")


def check_config(config):
    """Check a resolved config's names and values without loading any data.

    The training options are checked by ``bprop.options.check``, as the trainer will
    check them; the network's by a throwaway network of the config's depth (input and
    output sizes stand in for the data set's). Raises InputError.
    """
    hidden = [] if config["sizes"] else [validation.positive_int(n, "each hidden layer size")
                                         for n in config["hidden"]]
    sizes = config["sizes"] or [2, *hidden, 2]
    [validation.positive_int(n, "each layer size") for n in sizes]
    # Names and values only: a stand-in of the same depth with tiny layers (the real sizes
    # are checked, memory included, when the network is built for the data).
    build_network({**config, "sizes": None, "hidden": [2] * len(sizes[1:-1])}, 2, 2)
    options.check({name: config[name] for name in options.names("run")})
    if config["checkpoint_every"] is not None:
        validation.positive_int(config["checkpoint_every"], "checkpoint_every")
    if not isinstance(config["dataset"], str):
        raise InputError(f"dataset must be a name or csv:PATH / npz:PATH; got {config['dataset']!r}")
    if config["data_dir"] is not None and not isinstance(config["data_dir"], str):
        raise InputError(f"data_dir must be a folder's path; got {config['data_dir']!r}")


def require_extras(config, progress=False, plots=True):
    """Check, before any training, that the optional libraries this run will use are there.

    Raises MissingDependency with one line naming the extra to install or the flag that
    avoids it: the plots need matplotlib, a progress bar tqdm, the digits scikit-learn.
    """
    from bprop import extras

    if plots:
        extras.require("drawing the plots")
    if progress:
        extras.require("a progress bar")
    if config["dataset"] == "digits":
        extras.require("the digits data set")


def build_network(config, n_features, n_classes):
    sizes = config["sizes"] or [n_features, *config["hidden"], n_classes]
    sizes = [validation.positive_int(n, "each layer size") for n in sizes]
    if sizes[0] != n_features or sizes[-1] != n_classes:
        raise InputError(
            f"sizes {sizes} do not fit the data set: it has {n_features} features and "
            f"{n_classes} classes, so sizes must start with {n_features} and end with {n_classes}"
        )
    activations = [config["activation"]] * (len(sizes) - 2) + [config["output_activation"]]
    return Network(sizes, activations, config["cost"], init=config["init"],
                   dtype=config["dtype"], seed=config["seed"])


def make_trainer(network, config, callbacks=()):
    # A run keeps both models (model-best.npz and model-last.npz), so its network ends with
    # the last epoch's weights, and it prints through its own ProgressReporter.
    return Trainer(network, callbacks=callbacks, restore_best=False, verbose=0,
                   **{name: config[name] for name in options.names("run")})


def train_run(config, run_dir, progress=False, quiet=True, resume=False, plots=True, stop_file=None,
              announce=None, made=False):
    """Train one run into ``run_dir``; returns the summary dict (also in ``summary.json``).

    ``config`` holds run options (see ``DEFAULTS``; ``preset`` may name one of
    ``PRESETS``). With ``resume=True`` the folder's own ``config.json`` and
    ``checkpoint.npz`` are used; ``config`` may then change only the ``RESUMABLE``
    options (``epochs`` extends the run, ending as one run of that many epochs would),
    and any other option given with a different value is refused, naming it.

    The folder is locked for the run's life (``bprop.locks``): another run into it raises
    ``FolderInUseError``. Ctrl-C or SIGTERM (or, with ``stop_file``, that file appearing)
    ends the mini-batch, writes a checkpoint and raises ``TrainingInterrupted``. A new run
    that fails before writing config.json (its data did not load) removes the folder it made
    (``made=True``: the caller has just made ``run_dir`` for it, with ``free_folder``).
    ``announce(run_dir)``, if given, is called once the folder is held and the options have
    passed their checks, before the data loads.
    """
    run_dir = os.fspath(run_dir)
    created = False
    if resume:
        changes = {key: value for key, value in config.items() if value is not None}
        config = _read_config(run_dir)
        _check_resume_changes(config, changes, run_dir)
        config.update({key: changes[key] for key in RESUMABLE if key in changes})
        check_config(config)
        require_extras(config, progress=progress and not quiet, plots=plots)
        lock = FolderLock(run_dir, "run").acquire()  # before touching anything in it
    else:
        config = resolve_config(config)
        check_config(config)  # before the folder is claimed or any data is loaded
        require_extras(config, progress=progress and not quiet, plots=plots)
        lock, created = _claim_folder(run_dir, made)
    with lock, stop_on_signals(StopRequest(stop_file)) as stop:
        try:
            return _train_claimed(config, run_dir, progress, quiet, resume, plots, stop, announce)
        except BaseException:
            if created:  # still held: no other run can be using the folder
                _remove_unstarted(run_dir)
            raise


def _train_claimed(config, run_dir, progress, quiet, resume, plots, stop, announce):
    """``train_run`` once the folder is held by this process."""
    from bprop.data import load_dataset

    if resume:
        io.remove_stale_temporaries(run_dir)
        checkpoint = os.path.join(run_dir, CHECKPOINT)
        # Killed before the first checkpoint: nothing was kept, so start from the beginning.
        state = read_checkpoint(checkpoint) if os.path.exists(checkpoint) else None
        epoch, batch = (state[2].get("epoch"), state[2].get("batch")) if state is not None else (None, None)
        if type(epoch) is int and type(batch) is int:  # before config.json takes the new value
            done = epoch + (1 if batch else 0)         # (a damaged state is refused further on)
            if config["epochs"] < done:
                raise UsageError(f"the run has already trained {state[2]['epoch']} epochs; --epochs "
                                 f"must be at least {done} to resume it")
    else:
        state = None
    if announce is not None:
        announce(run_dir)
    # The split of data sets without their own test set uses a fixed seed, not the run's:
    # runs that differ only in seed are compared on the same validation and test examples.
    data = load_dataset(config["dataset"], data_dir=config["data_dir"], progress=progress,
                        seed=SPLIT_SEED)
    check_classes(data, "name the label column with csv:PATH#COLUMN"
                  if config["dataset"].startswith("csv:") else "")
    network = build_network(config, data.n_features, len(data.class_names))
    network.class_names = list(data.class_names)
    network.image_format = images.format_for(data.name, data.image_shape)
    # One description of the architecture: sizes from the data, hidden agreeing with them.
    config.update({"sizes": network.sizes, "hidden": network.sizes[1:-1], "init": network.init})
    if not resume:  # the path that trains, not "auto": a rerun or resume takes the same one
        n_train = len(data.train[0])
        config["kernels"] = kernels.choose(config["kernels"], network.sizes, n_train,
                                           config["epochs"], min(config["batch_size"], n_train))
    # On resume too: a new --epochs, --checkpoint-every or --data-dir is the run's from now on.
    io.write_text(os.path.join(run_dir, "config.json"), json.dumps(config, indent=2) + "\n")

    recorder = RunRecorder(run_dir, config, stop)
    callbacks = [recorder]
    if not quiet:
        from bprop.progress import ProgressReporter

        callbacks.append(ProgressReporter(bar=None if progress else False))
    trainer = make_trainer(network, config, callbacks)
    if state is not None:
        network_info, arrays, trainer_info = state
        ours = network.config()
        differ = [key for key in ("sizes", "activations", "cost", "dtype") if network_info.get(key) != ours[key]]
        if differ:
            key = differ[0]
            raise ModelFileError(
                f"{run_dir}: the checkpoint's network has {key} {network_info.get(key)!r} but config.json "
                f"gives {ours[key]!r}; they must agree (restore the run's own config.json)")
        network.set_parameters([arrays[f"w{l}"] for l in range(network.n_layers)],
                               [arrays[f"b{l}"] for l in range(network.n_layers)])
        trainer_arrays = {k[8:]: v for k, v in arrays.items() if k.startswith("trainer/")}
        checkpoints.check_trainer_state(trainer_info, trainer_arrays, network, CHECKPOINT)
        try:
            trainer.load_state(trainer_arrays, trainer_info)
        except InputError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError) as error:
            raise ModelFileError(f"{CHECKPOINT}: its training state is invalid ({type(error).__name__}: "
                                 f"{error}); resume from a good copy or start the run again") from None
        recorder.resumed(trainer)

    trainer.run(*data.train, validation_data=data.validation)
    if recorder.interrupted and trainer.epoch < trainer.epochs:
        where = (f"after epoch {trainer.epoch}" if trainer.batch == 0 else
                 f"in epoch {trainer.epoch + 1} after mini-batch {trainer.batch}")
        raise TrainingInterrupted(
            f"stopped by {stop.reason} {where}; checkpoint written: resume with "
            f"`bprop train --resume {run_dir}`", exit_status=stop.exit_status
        )
    return finish_run(network, data, trainer, run_dir, config, plots)


def finish_run(network, data, trainer, run_dir, config, plots=True):
    """Save the last model, evaluate on the test set, write summary.json and the plots.

    The summary leads with the best model (model-best.npz, the best epoch by the run's
    ``monitor``) and gives the last one's test accuracy beside it; the plots show the
    model the summary leads with, and say which.
    """
    from bprop import metrics

    network.save(os.path.join(run_dir, "model-last.npz"))   # the last epoch's weights
    history = trainer.history
    monitor = config.get("monitor") or "validation_accuracy"
    summary = {"run_dir": run_dir, "dataset": data.name, "data_source": data.source,
               "sizes": network.sizes, "epochs_run": len(history),
               "train_accuracy": history[-1]["accuracy"] if history else None,
               "validation_accuracy": history[-1]["validation_accuracy"] if history else None,
               "monitor": monitor, "best_epoch": None, "test_accuracy": None, "test_cost": None,
               "seconds": sum(record["seconds"] for record in history),
               "kernels": trainer.kernels_used, "blas": trainer.blas_used}
    best = best_epoch(history, monitor)  # the rule that chose model-best.npz
    best_path = os.path.join(run_dir, "model-best.npz")
    shown, shown_name = network, f"model-last.npz (epoch {len(history)})"
    if best is not None:
        summary["best_epoch"], summary["best_validation_accuracy"] = best["epoch"], best["validation_accuracy"]
        summary["best_validation_cost"] = best["validation_cost"]
        if os.path.exists(best_path):
            shown, shown_name = load(best_path), f"model-best.npz (epoch {best['epoch']})"
    summary["plots_show"] = shown_name
    matrix = predicted = None
    if data.test is not None:
        X_test, y_test = data.test
        result = network.evaluate(X_test, y_test)  # the last model (model-last.npz)
        summary["test_accuracy"], summary["test_cost"] = result["accuracy"], result["cost"]
        if shown is not network:
            summary["best_test_accuracy"] = shown.evaluate(X_test, y_test)["accuracy"]
        predicted = shown.classes(shown.feedforward(X_test))
        matrix = metrics.confusion_matrix(y_test, predicted, len(data.class_names))
    io.write_text(os.path.join(run_dir, "summary.json"), json.dumps(summary, indent=2) + "\n")
    if plots:
        draw_plots(run_dir, shown, shown_name, data, history, matrix, predicted,
                   best["epoch"] if best is not None else None)
    return summary


def draw_plots(run_dir, network, model_name, data, history, matrix, predicted, best=None):
    """The run's PNGs; those of one model (``network``, named ``model_name``) say which."""
    from bprop import plots

    title = f"{data.name}  {network.sizes}"
    if history:
        plots.learning_curves(history, os.path.join(run_dir, "learning_curves.png"), title,
                              best_epoch=best)
    if matrix is not None:
        plots.confusion_matrix(matrix, data.class_names, os.path.join(run_dir, "confusion_matrix.png"),
                               title=f"Confusion matrix, test set: {model_name}")
    if data.image_shape is not None:
        plots.first_layer_weights(network.weights[0], data.image_shape,
                                  os.path.join(run_dir, "first_layer_weights.png"), model_name=model_name)
        if predicted is not None:
            X_test, y_test = data.test
            plots.misclassified(X_test, y_test, predicted, data.image_shape, data.class_names,
                                os.path.join(run_dir, "misclassified.png"), model_name=model_name)


# ---- what happens in the folder during training -------------------------------------
class RunRecorder(Callback):
    """Writes the checkpoint, metrics.csv and model-best.npz as training goes."""

    def __init__(self, run_dir, config, stop=None):
        self.run_dir, self.config = run_dir, config
        self.every = config.get("checkpoint_every")
        self.batch_interval = self.every or None   # stop requests are seen after each call
        self.monitor = config.get("monitor") or "validation_accuracy"
        self.best_score = None
        self.stop = stop if stop is not None else StopRequest()
        self.interrupted = False

    def resumed(self, trainer):
        best = best_epoch(trainer.history, self.monitor)
        self.best_score = None if best is None else validation_score(best, self.monitor)

    def on_batch_end(self, trainer, batch, n_batches):
        if self.stop.requested:
            self.write_checkpoint(trainer)
            self.interrupted = trainer.stop = True
        elif self.every and trainer.batch % self.every == 0 and trainer.batch < n_batches:
            self.write_checkpoint(trainer)

    def on_epoch_end(self, trainer, record):
        network = trainer.network
        score = validation_score(record, self.monitor)
        if score is None or self.best_score is None or score > self.best_score:
            self.best_score = score
            network.save(os.path.join(self.run_dir, "model-best.npz"))
        write_metrics(os.path.join(self.run_dir, "metrics.csv"), trainer.history)
        self.write_checkpoint(trainer)
        if self.stop.requested:
            self.interrupted = trainer.stop = True

    def write_checkpoint(self, trainer):
        network = trainer.network
        if not all(np.isfinite(p).all() for p in network.weights + network.biases):
            return  # never replace the last good checkpoint with a diverged one
        write_checkpoint(os.path.join(self.run_dir, CHECKPOINT), trainer)


def write_checkpoint(path, trainer):
    arrays, info = trainer.state()
    payload = io.network_arrays(trainer.network)
    payload.update({f"trainer/{key}": value for key, value in arrays.items()})
    io.write_archive(path, "checkpoint", payload, {**io.model_info(trainer.network), "trainer": info})


def read_checkpoint(path):
    """(network config, arrays, trainer info) from a checkpoint file, checked."""
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no checkpoint to resume from (the run has not finished an epoch)")
    arrays, header = io.read_archive(path, kinds=("checkpoint",))
    trainer_info = header.get("trainer")
    if not isinstance(trainer_info, dict):
        raise ModelFileError(f"{os.path.basename(path)}: checkpoint has no training state")
    network_from(header["network"], arrays, path)  # checks the parameters themselves
    return header["network"], arrays, trainer_info


def write_metrics(path, history):
    columns = ["epoch", "cost", "accuracy", "validation_cost", "validation_accuracy",
               "learning_rate", "seconds"]
    buffer = _stringio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in history:
        writer.writerow(["" if record.get(c) is None else record[c] for c in columns])
    io.write_text(path, buffer.getvalue())


def free_folder(path):
    """Create ``path``, or ``path-2``, ``path-3``, ...: the first that did not exist (atomically).

    Two runs started in the same second with the same default name get different folders.
    """
    return new_folder(path)


def _claim_folder(run_dir, made=False):
    """Create the run folder, lock it, and prove it writable, before any data is loaded.

    Returns the held ``FolderLock`` and whether this process created the folder, here or
    (``made``) just before (only then may a failed start remove it). A folder another
    process holds, or one that already holds a run, is refused.
    """
    try:
        parent = os.path.dirname(os.path.abspath(run_dir))
        os.makedirs(parent, exist_ok=True)
        try:
            os.mkdir(run_dir)  # atomic: of two runs started together, one creates it
            created = True
        except FileExistsError:
            if not os.path.isdir(run_dir):
                raise
            created = made
    except FileExistsError:
        raise InputError(f"{run_dir} is a file, not a folder; choose another --out") from None
    except OSError as error:
        raise InputError(f"cannot write to the run folder {run_dir}: {error.strerror or error}") from None
    try:
        lock = FolderLock(run_dir, "run").acquire()
    except FolderInUseError:
        raise
    except OSError as error:
        raise InputError(f"cannot write to the run folder {run_dir}: {error.strerror or error}") from None
    try:
        if os.path.exists(os.path.join(run_dir, "config.json")):
            raise InputError(
                f"{run_dir} already holds a run; choose another --out, or continue it with --resume {run_dir}"
            )
        try:
            io.remove_stale_temporaries(run_dir)
            io.write_text(os.path.join(run_dir, ".write-test"), "ok")
            os.unlink(os.path.join(run_dir, ".write-test"))
        except OSError as error:
            raise InputError(f"cannot write to the run folder {run_dir}: {error.strerror or error}") from None
    except BaseException:
        if created:
            _remove_unstarted(run_dir)
        lock.release()
        raise
    return lock, created


def _check_resume_changes(config, changes, run_dir):
    """Refuse, naming it, any option given on resume that differs from the run's own."""
    for key, value in changes.items():
        if key in RESUMABLE or key == "preset" and value == config.get("preset"):
            continue
        if key == "preset":
            raise UsageError(f"--preset cannot be given when resuming {run_dir}; its options are "
                             "in its config.json")
        ours = config.get("hidden") if key == "hidden" else config.get(key)
        if key in FLOAT_OPTIONS and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
        if value != ours:
            flag = "--" + key.replace("_", "-")
            raise UsageError(
                f"{flag} cannot change when resuming: {run_dir} was trained with {key}={ours!r}; "
                f"start a new run with `bprop train --config {os.path.join(run_dir, 'config.json')} "
                f"{flag} ...` instead (on resume only --epochs, --checkpoint-every, --data-dir, "
                f"--quiet and --no-plots apply)")


def _remove_unstarted(run_dir):
    """Remove a run folder this process created, when the run failed before config.json.
    Called with the folder's lock held, so no other run is using it."""
    if os.path.exists(os.path.join(run_dir, "config.json")):
        return
    try:
        io.remove_stale_temporaries(run_dir)
        if os.path.exists(os.path.join(run_dir, LOCK_FILE)):
            os.unlink(os.path.join(run_dir, LOCK_FILE))
        os.rmdir(run_dir)  # only if empty: never anything someone else put there
    except OSError:
        pass


def read_config_file(path):
    """A run's config.json (for ``--config``), as a dict; one-line errors."""
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except FileNotFoundError:
        raise InputError(f"{path}: no such config file (give a run folder's config.json)") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder; give the run's config.json inside it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise InputError(f"{path} does not hold a run configuration (a JSON object)")
    return config


def _read_config(run_dir):
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path, encoding="utf-8") as file:
            config = json.load(file)
    except (FileNotFoundError, NotADirectoryError):
        what = "a file, not a run folder" if os.path.isfile(run_dir) else "not a run folder (it has no config.json)"
        raise InputError(f"{run_dir} is {what}") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory, not a run configuration") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path} is not valid JSON: {error}") from None
    except RecursionError:
        raise DataError(f"{path} is nested too deeply to be a run configuration") from None
    if not isinstance(config, dict):
        raise DataError(f"{path} does not hold a run configuration")
    config.setdefault("kernels", "numpy")  # folders from before the option trained with NumPy
    try:  # as strictly as a new run's options: a bad value is one line, not a TypeError later
        resolved = resolve_config({k: v for k, v in config.items() if k != "preset"})
        check_config(resolved)
    except (InputError, TypeError, ValueError, KeyError, AttributeError) as error:
        raise DataError(f"{path} holds an invalid run configuration: {error}") from None
    if config.get("preset"):
        resolved["preset"] = config["preset"]
    if resolved["sizes"]:  # older runs wrote the default hidden beside a preset's sizes
        resolved["hidden"] = resolved["sizes"][1:-1]
    return resolved


class StopRequest:
    """A request to stop a run at the end of its mini-batch: by Ctrl-C, SIGTERM or a stop file.

    ``stop_file``, when given, is a path whose existence asks for the same stop (a sweep
    writes it to stop every trial on its workers); it is looked at about once a second.
    """

    def __init__(self, stop_file=None):
        self.reason = None          # "Ctrl-C", "SIGTERM" or "a stop request"
        self.exit_status = 130
        self.stop_file = stop_file
        self._next_look = 0.0

    @property
    def requested(self):
        if self.reason is None and self.stop_file is not None:
            now = time.monotonic()
            if now >= self._next_look:
                self._next_look = now + 1.0
                if os.path.exists(self.stop_file):
                    self.reason, self.exit_status = "a stop request", 143
        return self.reason is not None

    def ask(self, signum):
        self.reason = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self.exit_status = 128 + int(signum)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(request):
    """First Ctrl-C or SIGTERM: ``request.ask`` (the run finishes its mini-batch, writes a
    checkpoint and stops). A second one stops at once. Outside the main thread (e.g. on a
    Dask worker) signals are left alone."""
    def ask(signum, frame):
        if request.reason is not None:
            raise KeyboardInterrupt
        request.ask(signum)

    previous = {}
    try:
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, ask)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
