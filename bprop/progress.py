"""Showing training as it happens: a progress bar over mini-batches and a line per epoch.

The bar is tqdm's, drawn only when the stream is a terminal; otherwise (a log file, a
pipe, CI) only the plain per-epoch lines are written.
"""
import sys

from bprop.callbacks import Callback


def epoch_line(record, epochs):
    parts = [f"epoch {record['epoch']:>{len(str(epochs))}}/{epochs}", f"cost {record['cost']:.4f}"]
    if record.get("accuracy") is not None:
        parts.append(f"train {record['accuracy']:.2%}")
    if record.get("validation_cost") is not None:
        parts.append(f"val cost {record['validation_cost']:.4f}")
    if record.get("validation_accuracy") is not None:
        parts.append(f"val {record['validation_accuracy']:.2%}")
    parts.append(f"η {record['learning_rate']:g}")
    seconds = record["seconds"]
    parts.append(f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s")
    return "  ".join(parts)


class ProgressReporter(Callback):
    """A tqdm bar over each epoch's mini-batches (stderr, on a terminal) and one line per epoch (stdout)."""

    batch_interval = None   # the bar moves by as many mini-batches as were done

    def __init__(self, stream=None, bar_stream=None, bar=None):
        self.stream = stream or sys.stdout
        self.bar_stream = bar_stream or sys.stderr
        self.bar_wanted = self.bar_stream.isatty() if bar is None else bar
        self.bar = None

    def on_batch_end(self, trainer, batch, n_batches):
        if not self.bar_wanted:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=n_batches, initial=batch, file=self.bar_stream, leave=False,
                            desc=f"epoch {trainer.epoch + 1}/{trainer.epochs}", unit="batch")
        self.bar.update(batch + 1 - self.bar.n)

    def on_epoch_end(self, trainer, record):
        self._close_bar()
        print(epoch_line(record, trainer.epochs), file=self.stream, flush=True)

    def on_train_end(self, trainer):
        self._close_bar()

    def _close_bar(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
