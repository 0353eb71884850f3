"""scikit-learn estimators around ``bprop.Network``: ``BPClassifier`` and ``BPRegressor``.

>>> from bprop.sklearn import BPClassifier
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> model = make_pipeline(StandardScaler(), BPClassifier(hidden=(30,), random_state=0))
>>> model.fit(X_train, y_train).score(X_test, y_test)            # doctest: +SKIP

They follow scikit-learn's estimator conventions: every parameter is stored unchanged by
``__init__`` and checked at ``fit``; learned attributes end in ``_``; ``fit`` and
``partial_fit`` return ``self``. So they work in ``Pipeline``, ``GridSearchCV``,
``cross_val_score``, ``clone`` and pickle (pickling the estimator object is the
ecosystem's convention; bprop's own model files, ``network_.save(path)``, stay pickle-free).

Importing this module imports scikit-learn; ``import bprop`` does not.
"""
import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from bprop import options, validation
from bprop.network import Network
from bprop.training import Callback, Trainer

__all__ = ["BPClassifier", "BPRegressor"]

_SEED_LIMIT = 2**31 - 1


class _BaseBP(BaseEstimator):
    """What the classifier and the regressor share: parameters, network, training loop."""

    def __init__(self, hidden=(100,), activation="relu", output_activation=None, cost=None,
                 init=None, optimizer="adam", learning_rate=None, momentum=0.0, nesterov=False,
                 l2=0.0, dropout=0.0, batch_size=32, epochs=100, schedule="constant",
                 early_stopping=None, validation_fraction=0.1, random_state=None,
                 dtype="float64", verbose=0):
        self.hidden = hidden
        self.activation = activation
        self.output_activation = output_activation
        self.cost = cost
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.l2 = l2
        self.dropout = dropout
        self.batch_size = batch_size
        self.epochs = epochs
        self.schedule = schedule
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.dtype = dtype
        self.verbose = verbose

    # ---- what the two estimators fill in ----------------------------------------------
    _default_cost = None
    _default_output_activation = None

    def _targets_for_network(self, y):
        """y as the network's targets (class indices or value rows)."""
        raise NotImplementedError

    def _validation_scorer(self, X_val, y_val):
        """A Callback that records one validation score per epoch, or None."""
        return None

    # ---- building and training ------------------------------------------------------------
    def _hidden_sizes(self):
        hidden = self.hidden
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = (hidden,)
        try:
            hidden = list(hidden)
        except TypeError:
            raise ValueError(f"hidden must be a tuple of hidden layer sizes like (100,) or (100, 30); "
                             f"got {self.hidden!r}") from None
        return [validation.positive_int(n, "each size in hidden") for n in hidden]

    def _seed(self):
        """An int seed for the network and the trainer, from ``random_state``."""
        if isinstance(self.random_state, numbers.Integral) and not isinstance(self.random_state, bool):
            return int(self.random_state)  # the same number as bprop's own seed
        return int(check_random_state(self.random_state).randint(_SEED_LIMIT))

    def _new_network(self, n_features, n_outputs, seed):
        hidden = self._hidden_sizes()
        cost = self._default_cost if self.cost is None else self.cost
        output = self.output_activation
        if output is None:
            output = self._default_output_activation(cost)
        activations = [self.activation] * len(hidden) + [output]
        return Network([n_features, *hidden, n_outputs], activations, cost, init=self.init,
                       dtype=self.dtype, seed=seed)

    def _new_trainer(self, network, epochs, early_stopping, seed, callbacks=()):
        given = {name: getattr(self, name) for name in options.names("estimator")}
        given.update(epochs=epochs, early_stopping=early_stopping)
        return Trainer(network, callbacks=callbacks, seed=seed, **given)

    def _fit_network(self, X, targets, n_outputs, stratify=None):
        """A fresh network trained for ``epochs`` on (X, targets); sets the learned attributes."""
        seed = self._seed()
        early_stopping = self.early_stopping
        validation_data, callbacks = None, []
        if early_stopping is not None:
            fraction = validation.non_negative(self.validation_fraction, "validation_fraction",
                                               upper=1, upper_open=True)
            n_val = int(np.ceil(fraction * len(X)))
            if n_val < 1 or n_val >= len(X):
                raise ValueError(
                    f"early_stopping holds out validation_fraction={self.validation_fraction!r} of "
                    f"{len(X)} examples, which leaves {'no validation' if n_val < 1 else 'no training'} "
                    f"examples; use a validation_fraction in (0, 1) or early_stopping=None"
                )
            try:
                X, X_val, targets, y_val = train_test_split(
                    X, targets, test_size=n_val, random_state=seed, stratify=stratify)
            except ValueError:  # a class too small to stratify: split without stratifying
                X, X_val, targets, y_val = train_test_split(
                    X, targets, test_size=n_val, random_state=seed)
            validation_data = (X_val, y_val)
            scorer = self._validation_scorer(X_val, y_val)
            if scorer is not None:
                callbacks.append(scorer)

        self.network_ = self._new_network(X.shape[1], n_outputs, seed)
        trainer = self._new_trainer(self.network_, self.epochs, early_stopping, seed, callbacks)
        trainer.run(X, targets, validation_data)
        self._trainer = self._detach(trainer)
        self.n_iter_ = trainer.epoch
        self.loss_curve_ = trainer.history.column("cost")
        if validation_data is None:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        else:
            self.validation_scores_ = (callbacks[0].scores if callbacks
                                       else trainer.history.column("validation_accuracy"))
            self.best_validation_score_ = max(self.validation_scores_)
        return self

    @staticmethod
    def _detach(trainer):
        """Keep the trainer for ``partial_fit``, without fit's validation watchers."""
        from bprop.progress import ProgressReporter

        trainer.callbacks = [c for c in trainer.callbacks if isinstance(c, ProgressReporter)]
        trainer.best = None          # fit already restored the best weights
        trainer.early_stopping = None
        return trainer

    def _partial_fit_network(self, X, targets, n_outputs):
        """One more epoch over (X, targets), continuing the optimizer's state."""
        if self.schedule == "plateau":
            raise ValueError("schedule='plateau' watches validation accuracy, which partial_fit "
                             "does not have; use schedule='constant' or 'step' with partial_fit")
        trainer = getattr(self, "_trainer", None)
        if trainer is None:
            seed = self._seed()
            self.network_ = self._new_network(X.shape[1], n_outputs, seed)
            trainer = self._trainer = self._new_trainer(self.network_, 1, None, seed)
        else:
            trainer.epochs = trainer.epoch + 1
            trainer.stop = False
        trainer.run(X, targets)
        self.n_iter_ = trainer.epoch
        self.loss_curve_ = trainer.history.column("cost")
        if not hasattr(self, "validation_scores_"):
            self.validation_scores_ = self.best_validation_score_ = None
        return self

    def _output(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.network_.feedforward(X)

    def __getstate__(self):
        # The network's mini-batch buffers are a cache; don't pickle them.
        network = self.__dict__.get("network_")
        if network is not None:
            network.release_workspaces()
        return super().__getstate__()


class BPClassifier(ClassifierMixin, _BaseBP):
    """A feed-forward network classifier trained by bprop's backpropagation.

    Class labels can be any values scikit-learn accepts (ints, strings, ...); they are
    mapped to output units in the order of ``classes_``. The output layer has one unit
    per class (two for binary problems).

    Parameters
    ----------
    hidden : tuple of int, default (100,)
        Sizes of the hidden layers; the input and output sizes come from the data.
    activation : {"relu", "sigmoid", "tanh", "leaky_relu", "identity"}, default "relu"
        Activation σ of every hidden layer.
    output_activation : {"softmax", "sigmoid"}, optional
        Default: softmax for ``cost="cross_entropy"``, sigmoid for ``cost="quadratic"``.
        With sigmoid outputs, ``predict_proba`` divides each row by its sum.
    cost : {"cross_entropy", "quadratic"}, default "cross_entropy"
        C per example; cross-entropy is categorical with softmax, binary with sigmoid.
    init : {"large", "nielsen", "glorot", "he"}, optional
        Initial weights (see ``bprop.Network``). Default: he for ReLU, else nielsen.
    optimizer : {"sgd", "adam"}, default "adam"
    learning_rate : float, optional
        η. Default 0.1 for SGD, 0.001 for Adam.
    momentum : float in [0, 1), default 0.0
        μ for SGD.
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0``).
    l2 : float, default 0.0
        λ in Nielsen's form C = C_0 + (λ / 2n) Σ w², n the number of training examples
        (in ``partial_fit``, the examples of that call).
    dropout : float in [0, 1), default 0.0
        Probability of dropping each hidden neuron during training.
    batch_size : int, default 32
        Examples per mini-batch (capped at the number of examples).
    epochs : int, default 100
        Passes over the training data made by ``fit``.
    schedule : {"constant", "step", "plateau"}, default "constant"
        Learning-rate schedule; ``plateau`` needs ``early_stopping`` (validation data).
    early_stopping : int, optional
        Hold out ``validation_fraction`` of the data (stratified), stop after this many
        epochs without a better validation accuracy, and keep the best weights.
    validation_fraction : float in (0, 1), default 0.1
        Used only with ``early_stopping``.
    random_state : int, numpy RandomState or None
        An int is used as bprop's ``seed`` (initial weights, shuffling, dropout and the
        validation split), so ``random_state=3`` trains exactly as ``Network(..., seed=3)``.
    dtype : {"float64", "float32"}, default "float64"
    verbose : {0, 1, 2}, default 0
        0 prints nothing (scikit-learn's habit); 1 a line per epoch and, on a terminal, a
        progress bar; 2 a line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X had string column names
    network_ : bprop.Network
    loss_curve_ : list of float
        Mean training cost per epoch (all epochs, over ``fit`` and ``partial_fit`` calls).
    validation_scores_ : list of float or None
        Validation accuracy per epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs trained.
    """

    _default_cost = "cross_entropy"

    @staticmethod
    def _default_output_activation(cost):
        return "softmax" if cost == "cross_entropy" else "sigmoid"

    def fit(self, X, y):
        """Train a fresh network on (X, y) for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), class labels

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, indices = np.unique(y, return_inverse=True)
        self._require_two_classes()
        return self._fit_network(X, indices, len(self.classes_), stratify=indices)

    def partial_fit(self, X, y, classes=None):
        """Train one epoch on (X, y), continuing from the current weights and optimizer state.

        The first call (on an unfitted estimator) builds the network and needs ``classes``,
        every label that will ever appear. Later calls continue the same trainer: the
        momentum velocities or Adam moments, the shuffling generator and the epoch count
        carry over, so n calls on the whole data set equal one ``fit`` with ``epochs=n``
        (without early stopping). ``early_stopping`` is not used here.

        Returns
        -------
        self
        """
        first = not hasattr(self, "network_")
        X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("the first call to partial_fit needs classes=, every class "
                                 "label that can occur (e.g. classes=np.unique(y_all))")
            self.classes_ = np.unique(np.asarray(classes))
            self._require_two_classes()
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"classes={list(classes)!r} differs from the classes of the first "
                             f"partial_fit call, {self.classes_.tolist()!r}")
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(f"y holds label {unseen[0]!r}, which is not one of classes_ "
                             f"{self.classes_.tolist()!r}")
        indices = np.searchsorted(self.classes_, y)
        return self._partial_fit_network(X, indices, len(self.classes_))

    def _require_two_classes(self):
        if len(self.classes_) < 2:
            raise ValueError(f"y holds one class ({self.classes_[0]!r}); BPClassifier needs at "
                             f"least two classes to learn")

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        output = self._output(X)
        if self.network_.activations[-1].name == "softmax":
            return output
        total = output.sum(axis=1, keepdims=True)
        uniform = np.full_like(output, 1.0 / output.shape[1])
        return np.divide(output, total, out=uniform, where=total > 0)

    def predict_log_proba(self, X):
        """Natural log of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class label for each row of X."""
        output = self._output(X)
        return self.classes_[output.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class BPRegressor(RegressorMixin, _BaseBP):
    """A feed-forward network regressor trained by bprop's backpropagation.

    The output layer has one unit per target column, identity activation and the
    quadratic cost C = ½‖y - a‖² by default. The network sees targets as given: for
    targets far from unit scale, scale them (``TransformedTargetRegressor`` with a
    ``StandardScaler``) as you would the inputs.

    Parameters
    ----------
    hidden, activation, init, optimizer, learning_rate, momentum, nesterov, l2, dropout,
    batch_size, epochs, schedule, random_state, dtype, verbose
        As for ``BPClassifier``; ``schedule="plateau"`` is not available (it watches
        validation accuracy).
    output_activation : str, default "identity"
    cost : {"quadratic", "cross_entropy"}, default "quadratic"
        Cross-entropy only for targets in [0, 1] with a sigmoid output.
    early_stopping : int, optional
        Hold out ``validation_fraction`` of the data, stop after this many epochs without
        a lower validation cost, and keep the best weights.
    validation_fraction : float in (0, 1), default 0.1

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when X had string column names
    n_outputs_ : int
    network_ : bprop.Network
    loss_curve_ : list of float
    validation_scores_ : list of float or None
        Validation R² per epoch with ``early_stopping``, else None.
    best_validation_score_ : float or None
    n_iter_ : int
    """

    _default_cost = "quadratic"

    @staticmethod
    def _default_output_activation(cost):
        return "identity"

    def fit(self, X, y):
        """Train a fresh network on (X, y) for ``epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        X, targets = self._check_data(X, y, reset=True)
        self.n_outputs_ = targets.shape[1]
        return self._fit_network(X, targets, self.n_outputs_)

    def partial_fit(self, X, y):
        """Train one epoch on (X, y), continuing from the current weights and optimizer state.

        See ``BPClassifier.partial_fit``; no ``classes`` argument here.

        Returns
        -------
        self
        """
        first = not hasattr(self, "network_")
        X, targets = self._check_data(X, y, reset=first)
        if first:
            self.n_outputs_ = targets.shape[1]
        elif targets.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {targets.shape[1]} target columns but the network was "
                             f"built for {self.n_outputs_}")
        return self._partial_fit_network(X, targets, self.n_outputs_)

    def _check_data(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True,
                             dtype=[np.float64, np.float32])
        if reset:
            self._y_was_1d = y.ndim == 1
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y)

    def _validation_scorer(self, X_val, y_val):
        return _R2PerEpoch(X_val, y_val)

    def predict(self, X):
        """Predicted targets: shape (n_samples,) when fitted on a 1-D y, else (n_samples, n_outputs)."""
        output = self._output(X)
        return output[:, 0] if self._y_was_1d else output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class _R2PerEpoch(Callback):
    """Validation R² (uniform average over outputs) after every epoch."""

    def __init__(self, X_val, y_val):
        self.X_val, self.y_val = X_val, y_val
        self.scores = []

    def on_epoch_end(self, trainer, record):
        from sklearn.metrics import r2_score

        prediction = trainer.network.feedforward(self.X_val)
        self.scores.append(float(r2_score(self.y_val, prediction)))
