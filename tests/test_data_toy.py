"""The playground's 2-D toy data sets: balanced, reproducible, shaped as their names say."""
import numpy as np
import pytest

from bprop.data.toy import TOY_SETS, make_toy
from bprop.errors import BpropError


@pytest.mark.parametrize("name", list(TOY_SETS))
def test_a_toy_set_is_two_balanced_classes_in_the_plane(name):
    data = make_toy(name, n=400, noise=0.0, validation_fraction=0.25, seed=1)
    (X, y), (X_val, y_val) = data.train, data.validation
    assert X.shape == (300, 2) and X_val.shape == (100, 2) and data.test is None
    assert np.bincount(np.concatenate([y, y_val])).tolist() == [200, 200]
    assert np.abs(np.concatenate([X, X_val])).max() <= 1.6
    assert data.class_names == ["0", "1"]


@pytest.mark.parametrize("name", list(TOY_SETS))
def test_the_same_seed_gives_the_same_points_and_another_seed_others(name):
    a, b, c = (make_toy(name, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.train[0], b.train[0])
    assert not np.array_equal(a.train[0], c.train[0])


def test_the_classes_are_what_the_names_say_without_noise():
    X, y = make_toy("circles", n=200, noise=0.0, validation_fraction=0.0).train
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius[y == 0].max() < radius[y == 1].min()
    X, y = make_toy("xor", n=200, noise=0.0, validation_fraction=0.0).train
    assert ((X[:, 0] * X[:, 1] > 0) == (y == 1)).all()
    X, y = make_toy("gaussians", n=200, noise=0.0, validation_fraction=0.0).train
    assert X[y == 1].mean() > 0.3 and X[y == 0].mean() < -0.3


def test_noise_moves_the_points():
    clean, noisy = make_toy("xor", noise=0.0), make_toy("xor", noise=0.3)
    assert np.abs(clean.train[0] - noisy.train[0]).mean() > 0.1


@pytest.mark.parametrize("arguments, message", [
    (("moons",), "unknown toy data set"),
    (("xor", 10**7), "4 to 20000"),
    (("xor", 400, -0.1), "noise"),
    (("xor", 400, 0.1, 0.95), "validation_fraction"),
])
def test_bad_arguments_are_refused_with_one_line(arguments, message):
    with pytest.raises(BpropError, match=message):
        make_toy(*arguments)
