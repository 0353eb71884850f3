"""Starting the playground: the server, and a saved model or run folder to open with."""
import json
import os

from bprop.errors import InputError
from bprop.playground import config as page_config

GUESSED_DATA = {2: "circles", 64: "digits", 784: "mnist"}   # by the number of inputs


def open_model(model_path=None, run_dir=None):
    """(network, name, start configuration) for ``--model`` or ``--run``; Nones without either."""
    if model_path is None and run_dir is None:
        return None, None, None
    import bprop

    data_name = None
    if run_dir is not None:
        if not os.path.isdir(run_dir):
            raise InputError(f"{run_dir}: no such run folder")
        for candidate in ("model-best.npz", "model-last.npz"):
            model_path = os.path.join(run_dir, candidate)
            if os.path.isfile(model_path):
                break
        else:
            raise InputError(f"{run_dir} has no model-best.npz or model-last.npz; is it a bprop train run folder?")
        data_name = _run_dataset(run_dir)
    network = bprop.load(model_path)
    if data_name not in page_config.TOY + page_config.IMAGES:
        data_name = GUESSED_DATA.get(network.sizes[0])
    start = None
    if data_name is not None:
        start = {"data": dict(page_config.DEFAULT["data"], name=data_name), "use_model": True}
    return network, os.path.basename(os.path.normpath(run_dir or model_path)), start


def start(host="127.0.0.1", port=0, model=None, model_name=None, start_config=None):
    """A bound server (not yet serving): call ``serve_forever``. Port 0 takes a free port."""
    from bprop.playground.server import make_server

    try:
        return make_server(host, port, model, model_name, start_config)
    except OSError as error:
        raise InputError(f"cannot listen on {host}:{port} ({error.strerror or error}); "
                         f"choose another --port or --host") from None


def _run_dataset(run_dir):
    try:
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as file:
            name = json.load(file).get("dataset")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None
