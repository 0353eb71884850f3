"""One page's training: a network, its data, and bprop's own Trainer running in a thread.

The trainer runs as ``fit`` runs it; a ``Callback`` is the only addition. It copies the
parameters out every ``PUBLISH_EVERY`` seconds (the page draws from the copy, on a twin
network, in another thread) and stops the trainer's run when the page asks for a pause,
one mini-batch or one epoch; the next run continues exactly where it stopped. Everything
the page sees is computed from a published copy, so drawing never touches the network
being trained.
"""
import threading
import time

import numpy as np

from bprop import images
from bprop.errors import BpropError, InputError
from bprop.network import Network
from bprop.playground import datasets, views
from bprop.training import Callback, Trainer

MAX_EPOCHS = 1_000_000    # the trainer's epoch budget: the page pauses it long before
PUBLISH_EVERY = 0.05      # seconds between parameter copies while training
SAMPLE = 1000             # examples of each split the live curves are evaluated on
EVALUATION_SHARE = 0.05   # of the wall time, at most, spent evaluating curves while training
MAX_CURVE_POINTS = 2000   # older points are thinned to keep the page's curve small
MODES = ("play", "pause", "batch", "epoch")
KEPT_RECORDS = 1000       # epochs of the trainer's history kept (the page shows the last)
LONG_EPOCH = 100          # mini-batches: longer epochs are watched after every mini-batch


class Session:
    """A network in training for one page; ``control`` drives it, ``frame`` shows it."""

    def __init__(self, config, model=None):
        self.config = config
        self.model = model
        self.dataset = datasets.load(config["data"])
        self.lock = threading.Condition()
        self.twin_lock = threading.Lock()   # the twin draws for the event stream and for Draw
        self.thread = None
        self.closed = False
        self.halting = False
        self.streams = 0          # event streams open on this session
        self._build()

    # ---- building -------------------------------------------------------------------
    def _build(self):
        """A fresh network (the same seed gives the same weights) and a fresh trainer."""
        dataset, network_options, training = self.dataset, self.config["network"], dict(self.config["training"])
        self.speed = training.pop("speed")
        if self.model is not None:
            network = self.model.copy()
            if network.sizes[0] != dataset.n_features:
                raise InputError(f"the model takes {network.sizes[0]} inputs but {dataset.name} has "
                                 f"{dataset.n_features} features; choose a matching data set")
        else:
            n_out = 1 if dataset.n_classes == 2 and network_options["output"] == "sigmoid" else dataset.n_classes
            sizes = [dataset.n_features, *network_options["hidden"], n_out]
            init = None if network_options["init"] == "auto" else network_options["init"]
            dtype = "float32" if dataset.n_features > 64 else "float64"
            network = Network(sizes, [*network_options["activations"], network_options["output"]],
                              network_options["cost"], init=init, dtype=dtype, seed=training["seed"])
            # as `bprop train` records it: Draw and the downloaded model prepare pictures this way
            network.image_format = images.format_for(dataset.name, dataset.image_shape)
        self.network = network
        self.trainer = Trainer(network, **{"epochs": MAX_EPOCHS, "verbose": 0, **training})
        self.n_batches = -(-len(dataset.train[1]) // min(self.trainer.batch_size, len(dataset.train[1])))
        self.per_batch = False
        X, y = dataset.train
        # The targets pass the library's checks now, so a bad pairing is a 400, not a dead thread.
        network.evaluate(X[:2], y[:2])
        self.twin = network.copy()
        rng = np.random.default_rng(0)
        self.samples = {}
        for split in ("train", "validation"):
            pair = getattr(dataset, split)
            if pair is not None:
                rows = np.sort(rng.permutation(len(pair[1]))[:SAMPLE])
                self.samples[split] = (pair[0][rows], pair[1][rows])
        self.gradient_rng = np.random.default_rng(1)
        self.extent = views.extent_of(X) if dataset.n_features == 2 else None
        self.mode = "pause"
        self.error = None
        self.finished = False
        self.progress = 0.0           # epochs done, with the fraction of the current one
        self.batches = 0
        self.examples = 0
        self.last_record = None       # the trainer's record of the last epoch finished
        self.curve = []
        self.version = 0
        self.next_evaluation = 0.0
        self.next_publish = 0.0
        self._publish()

    def describe(self):
        """What the page needs once: the data, the network's shape, the classes."""
        dataset, network = self.dataset, self.network
        info = {
            "data": {"name": dataset.name, "n_features": dataset.n_features, "classes": dataset.class_names,
                     "image_shape": dataset.image_shape, "train": len(dataset.train[1]),
                     "validation": 0 if dataset.validation is None else len(dataset.validation[1])},
            "network": {"sizes": network.sizes, "activations": [s.name for s in network.activations],
                        "cost": network.cost.name, "init": network.init, "dtype": network.dtype.name,
                        "from_model": self.model is not None},
        }
        if self.extent is not None:
            info["points"] = {split: {"x": np.round(pair[0].astype(np.float64), 4).tolist(), "y": pair[1].tolist()}
                              for split, pair in self.samples.items()}
            info["extent"] = list(self.extent)
        return info

    # ---- control ----------------------------------------------------------------------
    def control(self, action):
        """``play``, ``pause``, ``batch`` (one mini-batch), ``epoch`` (to the end of the epoch) or ``reset``."""
        if action == "reset":
            self._halt()
            with self.lock:
                self._build()
            return
        if action not in MODES:
            raise InputError(f"unknown action {action!r}; use play, pause, batch, epoch or reset")
        with self.lock:
            if self.closed:
                raise InputError("this session is closed; reload the page")
            self.mode = action
            if action != "pause" and self.finished:
                self.error = "training has stopped; press reset to start again"
                self.mode = "pause"
            elif action != "pause" and self.thread is None:
                self.thread = threading.Thread(target=self._train, name="bprop-playground-training", daemon=True)
                self.thread.start()
            self.version += 1
            self.lock.notify_all()

    def close(self):
        """Stop training for good: the page is gone."""
        with self.lock:
            self.closed = True
        self._halt()

    def _halt(self):
        """Stop the training thread (it finishes its mini-batch) and wait for it."""
        with self.lock:
            self.halting = True
            self.lock.notify_all()
            thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self.lock:
            self.thread = None
            self.halting = False
            self.lock.notify_all()

    def _train(self):
        """Run the trainer whenever the page wants it running; pauses happen between runs.

        ``Trainer.run`` continues where the last run stopped (its state is its own). A run
        stops (``trainer.stop``) at a pause, at the end of the step the page asked for, or
        to change how closely it is watched: after every mini-batch (one mini-batch at a
        time, or epochs longer than ``LONG_EPOCH`` mini-batches, so the page still updates
        ten times a second) or only after each epoch, which lets the trainer run a whole
        epoch as one compiled loop, as ``fit`` does.
        """
        dataset = self.dataset
        try:
            while True:
                with self.lock:
                    while self.mode == "pause" and not (self.closed or self.halting):
                        self.lock.wait()
                    if self.closed or self.halting:
                        break
                    self.per_batch = self._wants_per_batch()
                self.trainer.callbacks = [_BatchControl(self) if self.per_batch else _EpochControl(self)]
                self.trainer.stop = False
                self.trainer.run(*dataset.train, validation_data=dataset.validation)
                if self.trainer.epoch >= self.trainer.epochs:
                    self.error = f"trained the most epochs the playground runs ({self.trainer.epochs}); press reset"
                    break
        except BpropError as error:   # divergence: the trainer restored the last finite weights
            self.error = str(error)
        except Exception as error:    # a bug: keep the server and the network, say what happened
            self.error = f"training stopped: {type(error).__name__}: {error}"
        with self.lock:
            self.finished = not (self.closed or self.halting)
            self.mode = "pause"
            self.thread = None if self.finished else self.thread
        self._publish()

    def _wants_per_batch(self):
        return self.mode == "batch" or self.n_batches > LONG_EPOCH

    # ---- called by the trainer's thread -----------------------------------------------
    def _count(self, trainer):
        self.batches = trainer.epoch * self.n_batches + trainer.batch
        self.progress = trainer.epoch + trainer.batch / self.n_batches

    def _after_batch(self, trainer):
        self._count(trainer)
        self._step_done("batch")
        self._stop_if_needed(trainer)

    def _after_epoch(self, trainer, record):
        self.last_record = dict(record)
        if len(trainer.history) > 2 * KEPT_RECORDS:   # thousands of toy epochs a second: keep memory bounded
            del trainer.history[:-KEPT_RECORDS]
        self._count(trainer)
        if self.speed and self.mode == "play":
            time.sleep(1.0 / self.speed)
        self._step_done("epoch")
        self._stop_if_needed(trainer, epoch_end=True)

    def _step_done(self, step):
        """Publish when due, and always before pausing at the end of the step the page asked for."""
        if self.mode == step:
            with self.lock:             # one new version: the step's parameters, paused
                if self.mode == step:
                    self.mode = "pause"
                self._publish()
        elif time.perf_counter() >= self.next_publish:
            self._publish()

    def _stop_if_needed(self, trainer, epoch_end=False):
        with self.lock:
            if self.mode == "pause" or self.closed or self.halting or \
                    (epoch_end and self._wants_per_batch() != self.per_batch):
                trainer.stop = True

    def _publish(self):
        """Copy the parameters out for the page (in the training thread, between mini-batches)."""
        weights, biases = self.network.copy_parameters()
        with self.lock:
            self.published = (weights, biases, self.progress, self.batches, self.last_record)
            self.version += 1
            self.lock.notify_all()
        self.next_publish = time.perf_counter() + PUBLISH_EVERY

    # ---- called by the page's event stream ----------------------------------------------
    def wait(self, seen, timeout):
        """Block until there is something newer than version ``seen``; returns the version."""
        with self.lock:
            if self.version == seen and not self.closed:
                self.lock.wait(timeout)
            return self.version

    def frame(self):
        """What the page draws now: progress, a curve point, the parameters, heat maps, ..."""
        with self.lock:
            weights, biases, progress, batches, record = self.published
            state = {"mode": self.mode, "running": self.mode != "pause", "error": self.error,
                     "finished": self.finished}
        with self.twin_lock:
            self.twin.set_parameters(weights, biases)
            return self._frame(self.twin, state, progress, batches, record)

    def _frame(self, twin, state, progress, batches, record):
        """The frame at the published weights. Evaluating the curves, the confusion matrix,
        the first layer's images and ∂C/∂w is paced so that it takes at most ``EVALUATION_SHARE`` of the
        time while training (every frame on toy data, every second or so on MNIST)."""
        now = time.perf_counter()
        fresh = not state["running"]
        frame = {"state": state, "epoch": progress, "batches": batches,
                 "history": [] if record is None else [record]}
        if fresh or now >= self.next_evaluation:
            started = time.perf_counter()
            point = {"epoch": progress}
            for split, (X, y) in self.samples.items():
                result = twin.evaluate(X, y)
                prefix = "" if split == "train" else "validation_"
                point[prefix + "cost"], point[prefix + "accuracy"] = result["cost"], result["accuracy"]
            if not self.curve or self.curve[-1]["epoch"] != progress:
                self.curve.append(point)
                if len(self.curve) > MAX_CURVE_POINTS:
                    self.curve = self.curve[::2]
            frame["point"] = point
            if self.dataset.image_shape is not None:
                frame["images"] = views.first_layer_images(twin, self.dataset.image_shape)
            if self.dataset.n_classes <= 20:
                X, y = self.samples.get("validation", self.samples["train"])
                frame["confusion"] = views.confusion(twin, X, y, self.dataset.n_classes)
            X, y = self.samples["train"]
            rows = self.gradient_rng.integers(0, len(y), min(self.trainer.batch_size, len(y)))
            frame["gradients"] = views.gradients(twin, X[rows], y[rows])
            self.next_evaluation = now + (time.perf_counter() - started) / EVALUATION_SHARE
        frame["parameters"] = views.parameters(twin)
        if self.extent is not None:
            frame["heatmaps"] = views.heat_maps(twin, self.extent)
        return frame

    def curve_so_far(self):
        return list(self.curve)

    def look(self, X):
        """Every layer's activations for the rows of X, and the predicted classes, at the
        weights last published."""
        with self.lock:
            weights, biases = self.published[:2]
        with self.twin_lock:
            self.twin.set_parameters(weights, biases)
            return views.layer_activations(self.twin, X), self.twin.predict(X)

    def save(self, path):
        """Write the network as last published to a ``.npz`` model file (``bprop.load`` reads it)."""
        with self.lock:
            weights, biases = self.published[:2]
        with self.twin_lock:
            self.twin.set_parameters(weights, biases)
            self.twin.save(path)


class _EpochControl(Callback):
    """The trainer's hook into the session after each epoch: publish, pause, stop."""

    def __init__(self, session):
        self.session = session

    def on_epoch_end(self, trainer, record):
        self.session._after_epoch(trainer, record)


class _BatchControl(_EpochControl):
    """The same after every mini-batch too (the trainer then steps batch by batch)."""

    def on_batch_end(self, trainer, batch, n_batches):
        self.session._after_batch(trainer)
