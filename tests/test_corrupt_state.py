"""A damaged checkpoint, config.json or JSON file is one line, never a traceback."""
import json
import shutil

import pytest

from bprop import io
from bprop.errors import DataError, InputError, ModelFileError
from bprop.runs import CHECKPOINT, train_run
from cli_helpers import bprop as run_bprop

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory):
    """A run folder after 1 epoch whose config.json asks for 3: resuming continues it."""
    folder = tmp_path_factory.mktemp("runs") / "run"
    train_run({"epochs": 1, "hidden": [8], "optimizer": "adam", "early_stopping": 5}, folder, plots=False)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "epochs": 3}))
    return folder


def _copy_with(folder, tmp_path, change_trainer=None, change_config=None, drop_arrays=()):
    target = tmp_path / "run"
    shutil.copytree(folder, target)
    if change_trainer is not None:
        arrays, header = io.read_archive(target / CHECKPOINT, kinds=("checkpoint",))
        info = {key: value for key, value in header.items() if key not in ("format", "version", "kind")}
        change_trainer(info["trainer"])
        arrays = {key: value for key, value in arrays.items() if key not in drop_arrays}
        io.write_archive(target / CHECKPOINT, "checkpoint", arrays, info)
    if change_config is not None:
        config = json.loads((target / "config.json").read_text())
        change_config(config)
        (target / "config.json").write_text(json.dumps(config))
    return target


def test_an_intact_checkpoint_resumes(one_epoch_run, tmp_path):
    summary = train_run({}, _copy_with(one_epoch_run, tmp_path), resume=True, plots=False)
    assert summary["epochs_run"] == 3


def _set(path, value):
    def change(info):
        *parents, last = path
        for key in parents:
            info = info[key]
        if value is KeyError:
            del info[last]
        else:
            info[last] = value
    return change


@pytest.mark.parametrize("path, value, message", [
    (("running",), KeyError, "it has no running"),
    (("running", "seen"), 0, "counted no examples"),  # with batch > 0 below: was a ZeroDivisionError
    (("history",), [], "history holds 0 records"),
    (("history", 0, "epoch"), 7, "numbered 7"),
    (("optimizer", "name"), "rmsprop", "unknown optimizer 'rmsprop'"),
    (("optimizer", "t"), "x", "step count t must be an integer"),
    (("epoch",), "1", "epoch must be an integer"),
    (("shuffle_state",), {"bit_generator": "PCG64"}, "shuffle_state is not a random generator's state"),
    (("schedule",), None, "schedule must be a mapping"),
    (("schedule", "learning_rate"), "fast", "learning_rate must be a finite number"),
    (("best", "epoch"), 99, "best epoch 99 is after"),
    (("dropout",), 2.0, "dropout must be in [0, 1)"),
])
def test_a_checkpoint_with_wrong_trainer_state_is_refused_in_one_line(one_epoch_run, tmp_path, path, value, message):
    def change(info):
        info["batch"] = 1 if path == ("running", "seen") else info["batch"]
        _set(path, value)(info)

    folder = _copy_with(one_epoch_run, tmp_path, change_trainer=change)
    with pytest.raises(ModelFileError, match="training state is invalid") as raised:
        train_run({}, folder, resume=True, plots=False)
    assert message in str(raised.value)


def test_missing_optimizer_arrays_are_refused(one_epoch_run, tmp_path):
    folder = _copy_with(one_epoch_run, tmp_path, change_trainer=lambda info: None,
                        drop_arrays=("trainer/optimizer/m1",))
    with pytest.raises(ModelFileError, match="optimizer arrays m0.. for 3 of the 4 parameters"):
        train_run({}, folder, resume=True, plots=False)


def test_resume_from_a_damaged_checkpoint_is_one_line_on_the_command_line(one_epoch_run, tmp_path):
    folder = _copy_with(one_epoch_run, tmp_path, change_trainer=_set(("running",), KeyError))
    result = run_bprop("train", "--resume", folder)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "checkpoint.npz: its training state is invalid (it has no running)" in result.stderr


def test_a_bad_value_in_config_json_is_one_line(one_epoch_run, tmp_path):
    folder = _copy_with(one_epoch_run, tmp_path, change_config=lambda c: c.update(checkpoint_every="x"))
    result = run_bprop("train", "--resume", folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "config.json holds an invalid run configuration: checkpoint_every must be an integer" in result.stderr


def test_a_checkpoint_whose_architecture_disagrees_with_config_json_is_refused(one_epoch_run, tmp_path):
    folder = _copy_with(one_epoch_run, tmp_path, change_config=lambda c: c.update(activation="tanh"))
    with pytest.raises(ModelFileError, match=r"checkpoint's network has activations \['relu', 'softmax'\] "
                                             r"but config.json gives \['tanh', 'softmax'\]"):
        train_run({}, folder, resume=True, plots=False)


def test_a_deeply_nested_config_json_is_one_line(one_epoch_run, tmp_path):
    folder = _copy_with(one_epoch_run, tmp_path)
    (folder / "config.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(DataError, match="nested too deeply"):
        train_run({}, folder, resume=True, plots=False)


def test_a_deeply_nested_trace_file_is_one_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"sizes": ' + "[" * 100000 + "]" * 100000 + "}")
    result = run_bprop("trace", path)
    assert result.returncode in (1, 2) and "nested too deeply" in result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr


def test_a_deeply_nested_sweep_spec_is_one_line(tmp_path):
    from bprop.sweep import load_spec

    path = tmp_path / "spec.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(InputError, match="nested too deeply"):
        load_spec(path)


def test_a_directory_as_the_run_to_resume_config_is_named(one_epoch_run, tmp_path):
    folder = _copy_with(one_epoch_run, tmp_path)
    (folder / "config.json").unlink()
    (folder / "config.json").mkdir()
    result = run_bprop("train", "--resume", folder)
    assert result.returncode == 1 and "config.json is a directory" in result.stderr


def test_the_tests_above_damaged_only_copies(one_epoch_run):
    _, header = io.read_archive(one_epoch_run / CHECKPOINT, kinds=("checkpoint",))
    assert header["trainer"]["epoch"] == 1 and "running" in header["trainer"]


# ---- any single damaged value in the trainer state: one line or a correct resume, never a traceback
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bprop.errors import BpropError  # noqa: E402


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import numpy as np

    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("tiny")
    np.savez(folder / "d.npz", X=rng.random((60, 3)).astype(np.float32), y=rng.integers(0, 2, 60))
    train_run({"dataset": f"npz:{folder / 'd.npz'}", "epochs": 1, "hidden": [4], "batch_size": 8,
               "optimizer": "sgd", "momentum": 0.9, "early_stopping": 3, "schedule": "plateau"},
              folder / "run", plots=False)
    config = json.loads((folder / "run" / "config.json").read_text())
    (folder / "run" / "config.json").write_text(json.dumps({**config, "epochs": 2}))
    _, header = io.read_archive(folder / "run" / CHECKPOINT, kinds=("checkpoint",))
    return folder / "run", header["trainer"]


def _leaf_paths(value, prefix=()):
    if isinstance(value, dict):
        paths = [prefix] if prefix else []
        for key, item in value.items():
            paths += _leaf_paths(item, prefix + (key,))
        return paths
    if isinstance(value, list):
        paths = [prefix]
        for i, item in enumerate(value[:3]):
            paths += _leaf_paths(item, prefix + (i,))
        return paths
    return [prefix]


DAMAGE = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.sampled_from([1e308, -0.5, 2 ** 70]),
                   st.text(max_size=3), st.just([]), st.just({}), st.just([[1, 2]]), st.just(KeyError))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damaged_trainer_value_is_refused_in_one_line_or_resumes(tiny_run, tmp_path_factory, data):
    folder, trainer = tiny_run
    path = data.draw(st.sampled_from(_leaf_paths(trainer)))
    damage = data.draw(DAMAGE)
    target = _copy_with(folder, tmp_path_factory.mktemp("damaged"), change_trainer=_set(path, damage))
    try:
        train_run({}, target, resume=True, plots=False)
    except BpropError:
        pass  # one line on the command line



@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damaged_config_value_is_refused_in_one_line_or_resumes(tiny_run, tmp_path_factory, data):
    folder, _ = tiny_run
    config = json.loads((folder / "config.json").read_text())
    key = data.draw(st.sampled_from(sorted(config)))
    damage = data.draw(DAMAGE)
    target = _copy_with(folder, tmp_path_factory.mktemp("damaged"), change_config=_set((key,), damage))
    try:
        train_run({}, target, resume=True, plots=False)
    except BpropError:
        pass  # one line on the command line


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damaged_model_header_value_is_refused_in_one_line_or_loads(tmp_path_factory, data):
    from bprop import Network, load

    folder = tmp_path_factory.mktemp("model")
    network = Network([3, 4, 2], ["leaky_relu", "softmax"], "cross_entropy", seed=0)
    network.save(folder / "m.npz")
    arrays, header = io.read_archive(folder / "m.npz", kinds=("model",))
    info = {key: value for key, value in header.items() if key not in ("format", "kind")}
    path = data.draw(st.sampled_from(_leaf_paths(info)))
    _set(path, data.draw(DAMAGE))(info)
    version = info.pop("version", KeyError)
    import numpy as np

    payload = {"header": np.frombuffer(json.dumps({"format": "bprop", "kind": "model", **info,
                                                   **({} if version is KeyError else {"version": version})}
                                                  ).encode(), np.uint8), **arrays}
    np.savez(folder / "damaged.npz", **payload)
    try:
        load(folder / "damaged.npz")
    except ModelFileError:
        pass  # one line


@pytest.mark.parametrize("dtype", ["0:", "01", "(99999999999,99999999999)f8", "M8[xx]"])
def test_a_model_whose_dtype_numpy_cannot_parse_is_refused_in_one_line(tmp_path, dtype):
    """np.dtype raises ValueError or SyntaxError for such strings, not only TypeError."""
    import numpy as np

    from bprop import Network, load

    Network([3, 4, 2], "sigmoid", seed=0).save(tmp_path / "m.npz")
    arrays, header = io.read_archive(tmp_path / "m.npz", kinds=("model",))
    header["network"]["dtype"] = dtype
    np.savez(tmp_path / "damaged.npz", header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    with pytest.raises(ModelFileError) as refusal:
        load(tmp_path / "damaged.npz")
    assert "\n" not in str(refusal.value) and "dtype" in str(refusal.value)
