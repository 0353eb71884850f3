"""The one table of training options: every signature, docstring and flag agrees with it."""
import inspect
import re

import pytest

from bprop import options, runs, training
from bprop.cli import build_parser
from bprop.errors import InputError
from cli_helpers import bprop as run_bprop

TABLE = options.TRAINING


def _parameters(function, skip):
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if name not in skip}


def test_fit_takes_every_option_of_the_table_with_its_default_in_order():
    assert _parameters(training.fit, {"network", "X", "y"}) == options.defaults("fit")
    assert list(_parameters(training.fit, {"network", "X", "y"})) == options.names("fit")


def test_trainer_takes_every_option_but_validation_data_with_fits_defaults():
    assert _parameters(training.Trainer.__init__, {"self", "network"}) == options.defaults("trainer")
    assert "validation_data" not in options.names("trainer")


def test_network_fit_passes_options_through_to_the_table():
    import numpy as np

    import bprop

    net = bprop.Network([2, 3, 2], seed=0)
    with pytest.raises(InputError, match="dropout must be a finite number >= 0 and < 1"):
        net.fit(np.zeros((4, 2)), [0, 1, 0, 1], dropout=1.0)


@pytest.fixture(scope="module")
def estimator_classes():
    pytest.importorskip("sklearn")
    from bprop.sklearn import BPClassifier, BPRegressor

    return BPClassifier, BPRegressor


def test_estimators_take_the_tables_estimator_defaults(estimator_classes):
    for cls in estimator_classes:
        signature = _parameters(cls.__init__, {"self"})
        for name in options.names("estimator"):
            assert signature[name] == TABLE[name].default_for("estimator"), (cls.__name__, name)


def _documented(docstring):
    """{parameter: (type line, first description line)} of a numpydoc Parameters section."""
    section = docstring.split("Parameters\n    ----------\n", 1)[1].split("\n\n    Attributes", 1)[0]
    lines = section.splitlines()
    found = {}
    for i, line in enumerate(lines):
        match = re.match(r"^    (\w+) : (.*)$", line)
        if match:
            following = lines[i + 1].strip() if i + 1 < len(lines) else ""
            found[match.group(1)] = (match.group(2), following)
    return found


def _default_in(type_line, description):
    match = re.search(r", default (.+)$", type_line)
    if match:
        return match.group(1)
    match = re.search(r"Default:? ([^.]+(?:\.\d+[^.]*)*)\.", description)
    return match.group(1) if match else None


def test_estimator_docstring_states_the_tables_defaults(estimator_classes):
    classifier, _ = estimator_classes
    documented = _documented(classifier.__doc__)
    for name in options.names("estimator"):
        option = TABLE[name]
        assert name in documented, name
        shown = _default_in(*documented[name])
        default = option.default_for("estimator")
        if default is None and option.default_text:
            assert shown == option.default_text, name
        elif default is not None:
            expected = f'"{default}"' if isinstance(default, str) else repr(default)
            assert shown == expected, (name, shown, expected)


def test_fit_docstring_states_the_tables_default_learning_rate():
    description = training.fit.__doc__.split("learning_rate : float", 1)[1].splitlines()[1]
    assert f"Default {TABLE['learning_rate'].default_text}." in description


def test_the_learning_rate_rule_is_the_documented_one():
    assert options.default_learning_rate("sgd") == 0.1
    assert options.default_learning_rate("adam") == 0.001
    assert options.default_learning_rate("sgd", "fashion-mnist") == 0.01
    assert options.default_learning_rate("adam", "fashion-mnist") == 0.001
    assert runs.resolve_config({"dataset": "fashion-mnist"})["learning_rate"] == 0.01
    assert runs.resolve_config({"dataset": "fashion-mnist", "learning_rate": 0.2})["learning_rate"] == 0.2
    assert TABLE["learning_rate"].default_text == "0.1 for SGD, 0.001 for Adam"


def _train_actions():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return {action.dest: action for action in subparsers.choices["train"]._actions}


def test_train_flags_come_from_the_table_with_their_run_defaults_in_the_help():
    actions = _train_actions()
    for option in TABLE.values():
        if not option.flags:
            assert option.name not in actions or option.name == "seed"
            continue
        action = actions[option.name]
        assert set(option.flags) <= set(action.option_strings)
        assert action.default is None  # the run configuration fills defaults in
        default = option.default_for("run")
        if option.type is bool:
            continue
        if default is None and option.default_text:
            assert f"(default {option.run_default_text or option.default_text})" in action.help, option.name
        elif default is not None:
            shown = default if isinstance(default, str) else repr(default)
            assert f"(default {shown})" in action.help, option.name
        if option.choices:
            assert tuple(action.choices) == option.choices


def test_train_help_as_a_user_sees_it_lists_every_training_flag():
    result = run_bprop("train", "--help", check=0)
    text = " ".join(result.stdout.split())
    for option in TABLE.values():
        for flag in option.flags:
            assert flag in text
    assert "(default 0.1 for SGD (0.01 on fashion-mnist), 0.001 for Adam)" in text
    assert "(default 0.9; Adam uses none)" in text


def test_run_config_defaults_are_the_tables_run_defaults():
    for name in options.names("run"):
        assert runs.DEFAULTS[name] == TABLE[name].default_for("run"), name
    assert set(runs.FLOAT_OPTIONS) == {"learning_rate", "momentum", "l2", "dropout"}


@pytest.mark.parametrize("values, message", [
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"batch_size": 2.5}, "batch_size must be an integer >= 1"),
    ({"learning_rate": -1}, "learning_rate must be a finite number > 0"),
    ({"momentum": 1.0}, "momentum must be a finite number >= 0 and < 1"),
    ({"optimizer": "adam", "momentum": 0.9}, "momentum and nesterov apply to optimizer='sgd'"),
    ({"nesterov": True}, "nesterov=True needs a momentum > 0"),
    ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
    ({"l2": float("nan")}, "l2 must be a finite number >= 0"),
    ({"schedule": "cosine"}, "unknown schedule 'cosine'"),
    ({"early_stopping": 0}, "early_stopping must be an integer >= 1"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"learning_rte": 0.1}, "unknown training option"),
])
def test_check_refuses_bad_values_with_one_line(values, message):
    with pytest.raises(InputError, match=re.escape(message)):
        options.check(values)


def test_trainer_refuses_callbacks_that_are_neither_callbacks_nor_functions():
    import bprop

    with pytest.raises(InputError, match="callbacks must be bprop.Callback objects"):
        bprop.Trainer(bprop.Network([2, 2]), callbacks=[3])


def test_check_fills_in_the_learning_rate_for_the_optimizer():
    assert options.check({}).values["learning_rate"] == 0.1
    assert options.check({"optimizer": "adam"}).values["learning_rate"] == 0.001
    assert options.check({"optimizer": "adam"}).optimizer.name == "adam"


def test_a_run_checks_its_options_without_building_a_trainer(monkeypatch):
    built = []
    original = training.Trainer.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(training.Trainer, "__init__", counting)
    runs.check_config(runs.resolve_config({"epochs": 3}))
    assert built == []
    with pytest.raises(InputError, match="dropout must be"):
        runs.check_config(runs.resolve_config({"dropout": 2.0}))
    with pytest.raises(InputError, match="momentum and nesterov apply"):
        runs.check_config(runs.resolve_config({"optimizer": "adam", "momentum": 0.5}))
    assert built == []
