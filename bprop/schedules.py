"""Learning-rate schedules: η for the next epoch, given how training has gone.

Each schedule has ``learning_rate`` (η now), ``epoch_end(record)`` which updates η
after an epoch and returns True when training should stop, and ``state()`` /
``load_state(info)`` (plain JSON values) for checkpoints.
"""
from bprop import validation
from bprop.errors import InputError


class Constant:
    """η stays as given."""

    name = "constant"

    def __init__(self, learning_rate):
        self.initial = self.learning_rate = validation.positive(learning_rate, "learning_rate")

    def epoch_end(self, record):
        return False

    def state(self):
        return {"name": self.name, "learning_rate": self.learning_rate}

    def load_state(self, info):
        self.learning_rate = float(info["learning_rate"])


class StepDecay(Constant):
    """η → factor · η every ``step`` epochs."""

    name = "step"

    def __init__(self, learning_rate, step=10, factor=0.5):
        super().__init__(learning_rate)
        self.step = validation.positive_int(step, "schedule step")
        self.factor = validation.positive(factor, "schedule factor")
        self.epochs = 0

    def epoch_end(self, record):
        self.epochs += 1
        if self.epochs % self.step == 0:
            self.learning_rate *= self.factor
        return False

    def state(self):
        return {**super().state(), "epochs": self.epochs}

    def load_state(self, info):
        super().load_state(info)
        self.epochs = int(info["epochs"])


class HalveOnPlateau(Constant):
    """Nielsen's chapter-3 schedule: halve η when validation accuracy has not improved
    for ``patience`` epochs; stop once η has fallen to ``1/stop_below`` of its start.
    """

    name = "plateau"

    def __init__(self, learning_rate, patience=10, factor=0.5, stop_below=128):
        super().__init__(learning_rate)
        self.patience = validation.positive_int(patience, "schedule patience")
        self.factor = validation.positive(factor, "schedule factor")
        self.stop_below = validation.positive(stop_below, "schedule stop_below")
        self.best = None
        self.waited = 0

    def epoch_end(self, record):
        score = record.get("validation_accuracy")
        if score is None:
            raise InputError("the 'plateau' schedule watches validation accuracy: pass validation_data with class labels")
        if self.best is None or score > self.best:
            self.best, self.waited = score, 0
            return False
        self.waited += 1
        if self.waited >= self.patience:
            self.learning_rate *= self.factor
            self.waited = 0
        return self.learning_rate <= self.initial / self.stop_below

    def state(self):
        return {**super().state(), "best": self.best, "waited": self.waited}

    def load_state(self, info):
        super().load_state(info)
        self.best, self.waited = info["best"], int(info["waited"])


SCHEDULES = {cls.name: cls for cls in (Constant, StepDecay, HalveOnPlateau)}


def get(schedule, learning_rate):
    """A schedule from a name (``constant``, ``step``, ``plateau``) or a schedule object."""
    if hasattr(schedule, "epoch_end"):
        return schedule
    validation.choice(schedule, "schedule", list(SCHEDULES))
    return SCHEDULES[schedule](learning_rate)
