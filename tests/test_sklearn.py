"""The scikit-learn adapter: scikit-learn's own estimator checks, and the ecosystem's tools."""
import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import bprop  # noqa: E402
from bprop.sklearn import BPClassifier, BPRegressor  # noqa: E402


def _expected_failed_checks(estimator):
    # Every check passes with scikit-learn 1.9; a check that has to be marked as failing
    # goes here with its reason, e.g. {"check_name": "why a reviewer would accept it"}.
    return {}


@parametrize_with_checks([BPClassifier(), BPRegressor()],
                         expected_failed_checks=_expected_failed_checks)
def test_passes_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0)


def _small(estimator_class=BPClassifier, **params):
    return estimator_class(**{"hidden": (32,), "epochs": 15, "random_state": 0, **params})


def test_import_bprop_does_not_import_sklearn():
    code = "import sys, bprop; bprop.Network; print('sklearn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_classifier_learns_digits_and_keeps_the_network(digits):
    X_train, X_test, y_train, y_test = digits
    model = _small().fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.93
    assert isinstance(model.network_, bprop.Network)
    assert model.network_.sizes == [64, 32, 10]
    assert model.n_iter_ == 15 and len(model.loss_curve_) == 15
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.validation_scores_ is None


def test_string_labels_are_mapped_to_classes_and_back(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    model = _small().fit(X_train, names[y_train])
    assert model.classes_.tolist() == sorted(names.tolist())
    assert set(model.predict(X_test)) <= set(names)
    assert model.score(X_test, names[y_test]) > 0.93
    proba = model.predict_proba(X_test[:5])
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X_test[:5]))


def test_integer_random_state_trains_exactly_like_network_with_that_seed(digits):
    X_train, _, y_train, _ = digits
    model = BPClassifier(hidden=(20,), epochs=3, batch_size=16, optimizer="sgd", learning_rate=0.2,
                         momentum=0.5, random_state=7).fit(X_train, y_train)
    net = bprop.Network([64, 20, 10], ["relu", "softmax"], "cross_entropy", seed=7)
    net.fit(X_train, y_train, epochs=3, batch_size=16, optimizer="sgd", learning_rate=0.2, momentum=0.5)
    for ours, theirs in zip(model.network_.weights, net.weights):
        np.testing.assert_array_equal(ours, theirs)


def test_predict_proba_rows_sum_to_one_with_sigmoid_outputs(digits):
    X_train, X_test, y_train, _ = digits
    model = _small(cost="quadratic", optimizer="sgd", learning_rate=3.0).fit(X_train, y_train)
    assert model.network_.activations[-1].name == "sigmoid"
    np.testing.assert_allclose(model.predict_proba(X_test).sum(axis=1), 1.0)


def test_early_stopping_records_validation_scores_and_may_stop_early(digits):
    X_train, _, y_train, _ = digits
    model = _small(early_stopping=2, validation_fraction=0.2, epochs=200).fit(X_train, y_train)
    assert model.n_iter_ < 200
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_early_stopping_refuses_a_validation_fraction_leaving_no_examples(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="validation_fraction"):
        _small(early_stopping=2, validation_fraction=0.0).fit(X_train, y_train)


def test_partial_fit_n_times_equals_fit_for_n_epochs(digits):
    X_train, _, y_train, _ = digits
    fitted = _small(epochs=4).fit(X_train, y_train)
    stepped = _small()
    for _ in range(4):
        stepped.partial_fit(X_train, y_train, classes=np.arange(10))
    assert stepped.n_iter_ == 4
    for a, b in zip(fitted.network_.weights, stepped.network_.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fitted.loss_curve_, stepped.loss_curve_)


def test_partial_fit_after_fit_continues_training(digits):
    X_train, _, y_train, _ = digits
    model = _small(epochs=2).fit(X_train, y_train)
    before = [w.copy() for w in model.network_.weights]
    model.partial_fit(X_train[:100], y_train[:100])
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3
    assert not np.array_equal(before[0], model.network_.weights[0])


def test_partial_fit_first_call_needs_every_class(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="classes"):
        _small().partial_fit(X_train, y_train)
    model = _small().partial_fit(X_train[:50], y_train[:50], classes=np.arange(10))
    with pytest.raises(ValueError, match="not one of classes_"):
        model.partial_fit(X_train[:5], np.full(5, 11))


def test_regressor_predicts_one_column_as_a_vector_and_several_as_a_matrix():
    X, y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=0.1, random_state=0)
    y = StandardScaler().fit_transform(y)
    one = _small(BPRegressor, learning_rate=0.01).fit(X, y[:, 0])
    two = _small(BPRegressor, learning_rate=0.01).fit(X, y)
    assert one.predict(X).shape == (200,) and one.n_outputs_ == 1
    assert two.predict(X).shape == (200, 2) and two.n_outputs_ == 2
    assert two.score(X, y) > 0.8


def test_regressor_early_stopping_records_validation_r2():
    X, y = make_regression(n_samples=300, n_features=5, noise=0.1, random_state=0)
    model = _small(BPRegressor, early_stopping=3).fit(X, y / y.std())
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ > 0.8


def test_bad_parameter_is_reported_at_fit_by_name(digits):
    X_train, _, y_train, _ = digits
    model = _small(dropout=1.5)  # stored unchecked, as scikit-learn's conventions require
    with pytest.raises(ValueError, match="dropout"):
        model.fit(X_train, y_train)
    with pytest.raises(ValueError, match="hidden"):
        _small().set_params(hidden=(10, 0)).fit(X_train, y_train)


def test_works_in_a_pipeline_and_cross_val_score(digits):
    X_train, _, y_train, _ = digits
    pipeline = make_pipeline(StandardScaler(), _small())
    scores = cross_val_score(pipeline, X_train, y_train, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_grid_search_chooses_among_parameters(digits):
    X_train, X_test, y_train, y_test = digits
    search = GridSearchCV(_small(), {"hidden": [(8,), (32,)], "learning_rate": [1e-3, 1e-2]}, cv=3)
    search.fit(X_train, y_train)
    assert set(search.best_params_) == {"hidden", "learning_rate"}
    assert len(search.cv_results_["params"]) == 4
    assert search.score(X_test, y_test) > 0.9


def test_clone_copies_parameters_not_the_fitted_network(digits):
    X_train, _, y_train, _ = digits
    model = _small(l2=0.5).fit(X_train, y_train)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "network_")


def test_pickled_estimator_predicts_the_same_and_can_continue(digits):
    X_train, X_test, y_train, _ = digits
    model = _small().fit(X_train, y_train)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X_test), model.predict_proba(X_test))
    restored.partial_fit(X_train, y_train)   # the trainer (optimizer state) came along
    model.partial_fit(X_train, y_train)
    np.testing.assert_array_equal(restored.predict_proba(X_test), model.predict_proba(X_test))


@pytest.mark.parametrize("Estimator", [BPClassifier, BPRegressor])
def test_a_fitted_estimator_pickles_to_its_parameters_not_its_training_data(Estimator):
    rng = np.random.default_rng(0)
    sizes = {}
    for n in (1_000, 100_000):
        X = rng.random((n, 4))
        y = (X[:, 0] > 0.5).astype(int) if Estimator is BPClassifier else X[:, 0] * 2
        estimator = Estimator(hidden=(10,), epochs=1, optimizer="adam", random_state=0).fit(X, y)
        sizes[n] = len(pickle.dumps(estimator))
    n_parameters = sum(p.size for p in estimator.network_.weights + estimator.network_.biases)
    # parameters + Adam's two moments, in float64, plus a few kB of names, history and generator states
    assert sizes[100_000] < 3 * 8 * n_parameters + 8_000
    assert abs(sizes[100_000] - sizes[1_000]) < 200  # no trace of the 100,000 rows (they were 4.8 MB)


def test_partial_fit_after_unpickling_continues_exactly():
    rng = np.random.default_rng(1)
    X = rng.random((500, 4))
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    original = BPClassifier(hidden=(8,), epochs=2, optimizer="adam", random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(original))
    original.partial_fit(X, y)
    copy.partial_fit(X, y)
    for a, b in zip(original.network_.weights + original.network_.biases,
                    copy.network_.weights + copy.network_.biases):
        np.testing.assert_array_equal(a, b)
    assert copy.n_iter_ == 3
