"""The training loop: shuffle, cut into mini-batches, backprop, update, evaluate, repeat.

``fit`` is what ``Network.fit`` calls. ``Trainer`` holds everything that changes
while training (optimizer and schedule state, random-number generators, the position
in the epoch, the history) so that a checkpoint can capture it and a resumed run ends
bit-identical to an uninterrupted one.
"""
import contextlib
import math
import time

import numpy as np

from bprop import kernels, memory, options, validation
from bprop.callbacks import Callback
from bprop.errors import DivergenceError, InputError


def monitor_for(monitor, has_labels):
    """The quantity watched for the best epoch: ``monitor``, else validation accuracy when
    there are class labels and validation cost otherwise."""
    if monitor is not None:
        return monitor
    return "validation_accuracy" if has_labels else "validation_cost"


def validation_score(record, monitor="validation_accuracy"):
    """What 'better' means on validation data, as a value where higher is better (None
    without validation data): ``(accuracy, -cost)`` for ``validation_accuracy``, so equal
    accuracies are told apart by the cost, and ``(-cost,)`` for ``validation_cost``. Records
    without an accuracy are scored by their cost."""
    cost, accuracy = record.get("validation_cost"), record.get("validation_accuracy")
    if cost is None:
        return None
    if monitor == "validation_accuracy" and accuracy is not None:
        return (accuracy, -cost)
    return (-cost,)


def best_epoch(history, monitor="validation_accuracy"):
    """The record of the best epoch by ``validation_score`` (ties: the earlier), or None."""
    best = None
    for record in history:
        score = validation_score(record, monitor)
        if score is not None and (best is None or score > validation_score(best, monitor)):
            best = record
    return best


class History(list):
    """One dict per epoch: ``epoch``, ``cost``, ``accuracy``, ``validation_cost``,
    ``validation_accuracy`` (None without validation data), ``learning_rate``, ``seconds``.

    ``cost`` and ``accuracy`` are means over the epoch's mini-batches as they were trained
    on; the costs are the data cost only, without L2's (λ/2n) Σ w² term.
    """

    def column(self, key):
        """The values of ``key`` over the epochs, e.g. ``history.column("validation_accuracy")``."""
        return [record.get(key) for record in self]


class _FunctionCallback(Callback):
    """A plain function ``f(record)`` called after each epoch; returning True stops training."""

    def __init__(self, function):
        self.function = function

    def on_epoch_end(self, trainer, record):
        if self.function(record) is True:
            trainer.stop = True


def fit(network, X, y, epochs=30, batch_size=10, learning_rate=None, momentum=0.0,
        nesterov=False, optimizer="sgd", l2=0.0, dropout=0.0, schedule="constant",
        validation_data=None, early_stopping=None, monitor=None, restore_best=True, callbacks=(),
        seed=None, kernels="auto", verbose=1):
    """Train ``network`` by mini-batch gradient descent on (X, y).

    The options, their defaults and their checks are the table ``bprop.options.TRAINING``.

    Parameters
    ----------
    X : array (n, n_in), one example per row.
    y : class indices (n,), one-hot or target rows (n, n_out), or values (n,) for one output.
    epochs, batch_size : int
    learning_rate : float
        η. Default 0.1 for SGD, 0.001 for Adam.
    momentum, nesterov : momentum coefficient μ for ``optimizer="sgd"``, and its Nesterov form.
    optimizer : {"sgd", "adam"}
    l2 : float
        λ of L2 regularisation in Nielsen's form: C = C_0 + (λ / 2n) Σ w², so each step
        also shrinks w by η λ / n (biases are not regularised). n is the training set size.
    dropout : float in [0, 1)
        Probability of dropping each hidden neuron per example (inverted dropout).
    schedule : {"constant", "step", "plateau"} or a schedule object (see ``schedules``).
    validation_data : (X_val, y_val), optional. Evaluated after each epoch.
    early_stopping : int, optional
        Stop after this many epochs without a better validation score (Keras's patience).
    monitor : {"validation_accuracy", "validation_cost"}, optional
        What "better" means: a higher validation accuracy, or an equal one with a lower
        validation cost; or a lower validation cost. Ties keep the earlier epoch. Default:
        validation_accuracy when y holds classes, else validation_cost.
    restore_best : bool
        With ``early_stopping``, end with the best epoch's weights (default); False keeps
        the last epoch's (Keras's ``restore_best_weights``).
    callbacks : list of ``Callback`` or functions ``f(record)`` (return True to stop).
    seed : int, optional
        Seeds shuffling and dropout. Default: the network's seed.
    kernels : {"auto", "numpy", "numba"}
        Which code trains. ``numpy``: the reference path of ``network.py``. ``numba``: the
        compiled kernels of ``bprop.kernels`` (the same arithmetic, equal to rounding error;
        needs numba). ``auto``: the environment variable ``BPROP_KERNELS`` if set, else
        numba when installed and the training is long enough to repay compiling
        (``bprop.kernels.choose``). ``Trainer.kernels_used`` says which ran, and
        ``Trainer.blas_used`` whose matrix products (``bprop.kernels.blas``).
    verbose : {0, 1, 2}
        0 prints nothing; 1 (default) a line per epoch, and a progress bar over the
        mini-batches on a terminal; 2 a line per epoch only.

    Returns
    -------
    History : one dict per epoch (see ``History``).
    """
    given = locals()  # the signature spells out options.TRAINING; a test keeps them equal
    trainer = Trainer(network, **{name: given[name] for name in options.names("trainer")})
    return trainer.run(X, y, validation_data)


class Trainer:
    """Mini-batch training of one network with one set of options; see ``fit``."""

    def __init__(self, network, epochs=30, batch_size=10, learning_rate=None, momentum=0.0,
                 nesterov=False, optimizer="sgd", l2=0.0, dropout=0.0, schedule="constant",
                 early_stopping=None, monitor=None, restore_best=True, callbacks=(), seed=None,
                 kernels="auto", verbose=1):
        given = locals()  # the signature spells out options.TRAINING; a test keeps them equal
        checked = options.check({name: given[name] for name in options.names("trainer")})
        values = checked.values
        self.network = network
        self.epochs, self.batch_size = values["epochs"], values["batch_size"]
        self.optimizer, self.schedule = checked.optimizer, checked.schedule
        self.l2, self.dropout = values["l2"], values["dropout"]
        self.early_stopping = values["early_stopping"]
        self.kernels = values["kernels"]
        self.kernels_used = None  # "numpy" or "numba", once run() has chosen
        self.blas_used = None     # whose matrix products: "numpy", or "mkl" or "scipy" (numba)
        self._compiled = None
        self.monitor, self.restore_best = values["monitor"], bool(values["restore_best"])
        callbacks = () if values["callbacks"] is None else values["callbacks"]
        if not all(isinstance(c, Callback) or callable(c) for c in callbacks):
            raise InputError("callbacks must be bprop.Callback objects or functions f(record)")
        self.callbacks = [c if isinstance(c, Callback) else _FunctionCallback(c) for c in callbacks]
        for callback in self.callbacks:
            interval = callback.batch_interval
            if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int)
                                         or interval < 1):
                raise InputError(f"{type(callback).__name__}.batch_interval must be None or a "
                                 f"whole number of at least 1; got {interval!r}")
        self.verbose = values["verbose"]
        if self.verbose:
            from bprop.progress import ProgressReporter

            self.callbacks.append(ProgressReporter(bar=None if self.verbose == 1 else False))
        seed = network.seed if values["seed"] is None else values["seed"]
        self.seed = seed
        self.shuffle_rng = np.random.default_rng(seed)
        self.dropout_rng = np.random.default_rng(None if seed is None else [seed, 1])
        self.history = History()
        self.epoch = 0          # epochs finished
        self.batch = 0          # mini-batches finished in the current epoch
        self.epoch_shuffle_state = None
        self.running = {"cost": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.best = None        # (score, epoch, weights, biases) for early stopping
        self.stop = False

    # ---- the loop -------------------------------------------------------------------
    def run(self, X, y, validation_data=None):
        network = self.network
        self.kernels_used = self.blas_used = None      # until this run has chosen
        X = validation.inputs(X, network.sizes[0], network.dtype)
        Y, labels = validation.targets(y, len(X), network.sizes[-1], network.dtype,
                                       network.is_classifier, cost=network.cost)
        validation_set = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise InputError("validation_data must be a pair (X_val, y_val)")
            X_val = validation.inputs(validation_data[0], network.sizes[0], network.dtype, "X_val")
            Y_val, labels_val = validation.targets(validation_data[1], len(X_val), network.sizes[-1],
                                                   network.dtype, network.is_classifier, "y_val",
                                                   cost=network.cost)
            validation_set = (X_val, Y_val, labels_val)
        if self.early_stopping and validation_set is None:
            raise InputError("early_stopping needs validation_data to watch")
        if getattr(self.schedule, "name", None) == "plateau" and (validation_set is None or validation_set[2] is None):
            raise InputError("the 'plateau' schedule watches validation accuracy: pass "
                             "validation_data with class labels")
        self.has_labels = labels is not None
        self.monitor = monitor_for(self.monitor, self.has_labels)
        n = len(X)
        batch_size = min(self.batch_size, n)
        self._require_memory(n, batch_size)
        self.kernels_used = kernels.choose(self.kernels, network.sizes, n, self.epochs, batch_size)
        quiet = contextlib.nullcontext()
        if self.kernels_used == "numba":   # NumPy's BLAS on one thread (see blas.py)
            from bprop.kernels.blas import numpy_blas_one_thread

            quiet = numpy_blas_one_thread()
        with quiet:
            return self._run(X, Y, labels, n, batch_size, validation_set)

    def _run(self, X, Y, labels, n, batch_size, validation_set):
        network = self.network
        # (inside the hold: its one product leaves no OpenBLAS threads spinning on the loop's cores)
        validation.warn_if_unscaled(X, network.weights[0], network.biases[0], network.activations[0].name)
        n_batches = math.ceil(n / batch_size)
        self._compiled = None
        if self.kernels_used == "numba":
            self._compiled = kernels.compiled_training(network, self.optimizer, self.l2, n,
                                                       batch_size, self.dropout)
        self.blas_used = self._compiled.blas if self._compiled is not None else "numpy"
        params = [p for pair in zip(network.weights, network.biases) for p in pair]
        for callback in self.callbacks:
            callback.on_train_begin(self)
        batch_callbacks = [c for c in self.callbacks
                           if type(c).on_batch_end is not Callback.on_batch_end]
        # z^L of every example as it was trained on; the epoch's training cost and accuracy
        # are computed from it in bulk (see _tally) rather than batch by batch.
        self._outputs = np.empty((n, network.sizes[-1]), network.dtype)
        self._data = (Y, labels)

        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below, once
            self._loop(X, Y, params, n, batch_size, n_batches, batch_callbacks, validation_set)
        if self.best is not None and self.restore_best:
            network.set_parameters(self.best[2], self.best[3])
        for callback in self.callbacks:
            callback.on_train_end(self)
        self.release_data()
        return self.history

    def _require_memory(self, n, m):
        """Refuse, before allocating, a run that needs more memory than the machine has.

        The weights, their gradients, a copy of the last good weights
        (restored on divergence), the optimizer's state (momentum: one array per
        parameter, Adam: two), the best weights with early stopping, the mini-batch
        buffers (z, a, δ and dropout's a ⊙ mask per layer, m rows each) and the outputs of
        the n training examples.
        """
        network = self.network
        parameters = memory.parameter_count(network.sizes)
        copies = 3 + {"adam": 2}.get(self.optimizer.name, 1 if getattr(self.optimizer, "momentum", 0) else 0)
        copies += 1 if self.early_stopping else 0
        rows = 4 * m * sum(network.sizes[1:]) + n * network.sizes[-1]
        memory.require((copies * parameters + rows) * network.dtype.itemsize,
                       f"training a network of sizes {network.sizes} with mini-batches of {m} "
                       f"(weights, gradients, optimizer state and mini-batch buffers)",
                       "choose smaller layers or mini-batches")

    def release_data(self):
        """Drop the buffers that hold the last ``run``'s data (its targets, shuffled order and
        outputs), keeping everything needed to continue: a kept trainer (an estimator's,
        for ``partial_fit``) then weighs about its network and optimizer state."""
        if getattr(self, "_order", None) is not None and self.batch:
            self._tally(min(self.batch * self.batch_size, len(self._order)))
        self._outputs = self._data = self._order = None

    def _loop(self, X, Y, params, n, batch_size, n_batches, batch_callbacks, validation_set):
        network = self.network
        last_good = network.copy_parameters()
        while self.epoch < self.epochs and not self.stop:
            if self.batch == 0:
                self.epoch_shuffle_state = self.shuffle_rng.bit_generator.state
            else:  # resuming mid-epoch: replay this epoch's shuffle
                self.shuffle_rng.bit_generator.state = self.epoch_shuffle_state
            self._order = order = self.shuffle_rng.permutation(n)
            self._tallied = self.batch * batch_size
            started = time.perf_counter() - self.running["seconds"]
            if self._compiled is not None and self._compiled.whole_loop:
                self._whole_loop(X, Y, order, n_batches, last_good, started, batch_callbacks)
                batches = ()   # the epoch's mini-batches are done, or a callback stopped it
            else:
                batches = range(self.batch, n_batches)
            for batch in batches:
                start = batch * batch_size
                rows = order[start:start + batch_size]
                z_output = self._step(X, Y, rows, params, n)
                if not math.isfinite(z_output.sum()):
                    self._diverged(batch, n_batches, last_good)
                self._outputs[start:start + len(rows)] = z_output
                self.batch = batch + 1
                self.running["seconds"] = time.perf_counter() - started
                for callback in batch_callbacks:
                    callback.on_batch_end(self, batch, n_batches)
                if self.stop:
                    break
            self._tally(min(self.batch * batch_size, n))
            if self.batch < n_batches:  # stopped mid-epoch by a callback
                break
            record = self._end_epoch(validation_set)
            if all(np.isfinite(p).all() for p in network.weights + network.biases):
                last_good = network.copy_parameters()
            for callback in self.callbacks:
                callback.on_epoch_end(self, record)

    def _diverged(self, batch, n_batches, last_good):
        self.network.set_parameters(*last_good)
        raise DivergenceError(
            f"the cost became NaN or infinite in epoch {self.epoch + 1}, mini-batch "
            f"{batch + 1} of {n_batches}; try a smaller learning rate (now "
            f"{self.schedule.learning_rate:g}) or check the data for extreme values"
        )

    def _whole_loop(self, X, Y, order, n_batches, last_good, started, batch_callbacks):
        """The rest of the epoch as compiled loops (``bprop.kernels``), each over as many
        mini-batches as the batch callbacks' ``batch_interval`` allow: all of them without
        batch callbacks, else about 1/50 of the epoch at a time (progress bars, stop requests)."""
        intervals = [c.batch_interval for c in batch_callbacks if c.batch_interval]
        chunk = max(1, n_batches // 50) if batch_callbacks else n_batches
        while self.batch < n_batches and not self.stop:
            first = self.batch
            last = min([n_batches, first + chunk] + [(first // k + 1) * k for k in intervals])
            done, diverged, cost, correct = self._compiled.run(
                X, Y, self._data[1], order, first, last, self.schedule.learning_rate, self._outputs)
            if diverged:
                self._diverged(first + done - 1, n_batches, last_good)
            self.batch = last                      # the run tallied its examples as it trained
            tallied = min(last * self._compiled.batch_size, len(order))
            self.running["cost"] += cost
            self.running["correct"] += correct
            self.running["seen"] += tallied - self._tallied
            self._tallied = tallied
            self.running["seconds"] = time.perf_counter() - started
            for callback in batch_callbacks:
                callback.on_batch_end(self, last - 1, n_batches)

    def _step(self, X, Y, rows, params, n):
        """One mini-batch: backprop, L2, update. Returns the batch's z^L (a workspace buffer)."""
        network = self.network
        m = len(rows)
        if self._compiled is not None:  # the same step, by the kernels of bprop.kernels.step
            masks = self._dropout_masks(m) if self.dropout else None
            return self._compiled.step(X, Y, rows, self.schedule.learning_rate, masks)
        workspace = network.workspace(m)
        X_batch, Y_batch = workspace.gather(X, Y, rows)
        masks = self._dropout_masks(m) if self.dropout else None

        # Gradients summed over the mini-batch; the update divides by m (Nielsen's eq. 20).
        network.backward(X_batch, Y_batch, workspace, masks, mean=False)
        nabla_w, nabla_b = workspace.nabla_w, workspace.nabla_b

        if self.l2:
            shrink = m * self.l2 / n
            for w, nabla in zip(network.weights, nabla_w):
                nabla += shrink * w                       # m × ∂/∂w of (λ/2n) Σ w²
        grads = [g for pair in zip(nabla_w, nabla_b) for g in pair]
        self.optimizer.step(params, grads, self.schedule.learning_rate, m)
        return workspace.zs[-1]

    def _tally(self, done):
        """Add the cost and correct count of the examples trained on since the last tally.

        Each example counts with the z^L it had when its mini-batch was trained on, so the
        epoch's figures are the mean over its mini-batches, as seen during training.
        """
        start, self._tallied = self._tallied, done
        if done <= start:
            return
        Y, labels = self._data
        rows = self._order[start:done]
        z = self._outputs[start:done]
        network = self.network
        if self._compiled is not None:  # the same sums (added in float64), by bprop.kernels.tally
            cost, correct = self._compiled.tally(z, Y, rows, labels)
        else:
            a = network.activations[-1].forward(z, np.empty_like(z))
            cost = float(network.cost.value(z, a, Y[rows]).sum())
            correct = int((network.classes(a) == labels[rows]).sum()) if labels is not None else 0
        self.running["cost"] += cost
        self.running["correct"] += correct
        self.running["seen"] += done - start

    def _dropout_masks(self, m):
        """Inverted dropout: keep each hidden neuron with probability 1 - p, scaled by 1/(1 - p)."""
        keep = 1.0 - self.dropout
        dtype = self.network.dtype
        masks = []
        for n_units in self.network.sizes[1:-1]:
            mask = self.dropout_rng.random((m, n_units), dtype=dtype) < keep
            masks.append(mask.astype(dtype) / dtype.type(keep))
        return masks + [None]

    def _end_epoch(self, validation_set):
        network, running = self.network, self.running
        record = {
            "epoch": self.epoch + 1,
            "cost": running["cost"] / running["seen"],
            "accuracy": running["correct"] / running["seen"] if self.has_labels else None,
            "validation_cost": None,
            "validation_accuracy": None,
            "learning_rate": self.schedule.learning_rate,
            "seconds": running["seconds"],
        }
        if validation_set is not None:
            result = network.score(*validation_set)
            record["validation_cost"], record["validation_accuracy"] = result["cost"], result["accuracy"]
        self.history.append(record)
        self.epoch += 1
        self.batch = 0
        self.running = {"cost": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        if self.schedule.epoch_end(record):
            self.stop = True
        if self.early_stopping and validation_set is not None:
            score = validation_score(record, self.monitor)
            if self.best is None or score > tuple(self.best[0]):
                self.best = (score, record["epoch"], *network.copy_parameters())
            elif record["epoch"] - self.best[1] >= self.early_stopping:
                self.stop = True
        return record

    # ---- checkpoints -------------------------------------------------------------------
    def state(self):
        """Everything needed to continue exactly: (arrays, JSON-able info)."""
        if getattr(self, "_order", None) is not None and self.batch:
            self._tally(min(self.batch * self.batch_size, len(self._order)))
        optimizer_arrays, optimizer_info = self.optimizer.state()
        arrays = {f"optimizer/{key}": value for key, value in optimizer_arrays.items()}
        best = None
        if self.best is not None:
            best = {"score": list(self.best[0]), "epoch": self.best[1]}
            for l, (w, b) in enumerate(zip(self.best[2], self.best[3])):
                arrays[f"best/w{l}"], arrays[f"best/b{l}"] = w, b
        info = {
            "epochs": self.epochs, "batch_size": self.batch_size, "l2": self.l2,
            "dropout": self.dropout, "early_stopping": self.early_stopping, "seed": self.seed,
            "optimizer": optimizer_info, "schedule": self.schedule.state(),
            "epoch": self.epoch, "batch": self.batch,
            "epoch_shuffle_state": self.epoch_shuffle_state,
            "shuffle_state": self.shuffle_rng.bit_generator.state,
            "dropout_state": self.dropout_rng.bit_generator.state,
            "running": self.running, "history": list(self.history), "best": best,
            "stop": self.stop,
        }
        return arrays, info

    def load_state(self, arrays, info):
        """Restore what ``state`` captured (the network's parameters are restored separately)."""
        self.optimizer.load_state(
            {key.split("/", 1)[1]: value for key, value in arrays.items() if key.startswith("optimizer/")},
            info["optimizer"])
        self.schedule.load_state(info["schedule"])
        for key in ("batch_size", "l2", "dropout"):
            if info[key] != getattr(self, key):
                raise InputError(f"the checkpoint was trained with {key}={info[key]!r}, not "
                                 f"{getattr(self, key)!r}; resume with the same options")
        self.epoch, self.batch = int(info["epoch"]), int(info["batch"])
        self.stop = bool(info.get("stop", False))
        self.epoch_shuffle_state = info["epoch_shuffle_state"]
        self.shuffle_rng.bit_generator.state = info["shuffle_state"]
        self.dropout_rng.bit_generator.state = info["dropout_state"]
        self.running = dict(info["running"])
        self.history = History(info["history"])
        if info["best"] is not None:
            L = self.network.n_layers
            score = info["best"]["score"]
            self.best = (tuple(score) if isinstance(score, list) else (score,), info["best"]["epoch"],
                         [arrays[f"best/w{l}"].copy() for l in range(L)],
                         [arrays[f"best/b{l}"].copy() for l in range(L)])
