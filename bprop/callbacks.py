"""The hooks a training loop calls: ``Callback``, in a module of its own so that what
watches training (``bprop.progress``, a run's recorder) and the loop itself
(``bprop.training``) both build on it without importing each other."""


class Callback:
    """Hooks called during training; override what you need. Set ``trainer.stop = True`` to stop.

    ``batch_interval``: how often ``on_batch_end`` must at least be called within an
    epoch. 1 (the default): after every mini-batch. k (a whole number): after every k-th
    and the epoch's last, and perhaps in between. None: as often as the trainer likes.
    Compiled training runs many mini-batches per call (``bprop.kernels``) and calls
    ``on_batch_end`` after each run, with ``batch`` the run's last.
    """

    batch_interval = 1

    def on_train_begin(self, trainer):
        pass

    def on_batch_end(self, trainer, batch, n_batches):
        pass

    def on_epoch_end(self, trainer, record):
        pass

    def on_train_end(self, trainer):
        pass
