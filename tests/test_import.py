"""``import bprop`` stays light: NumPy only, no plotting, ML or progress-bar libraries."""
import json
import subprocess
import sys

import pytest

HEAVY = ["matplotlib", "sklearn", "scipy", "tqdm", "torch", "dask", "pandas", "PIL", "yaml", "hypothesis",
         "numba", "llvmlite", "jax"]


def modules_after(statement):
    """The top-level module names in sys.modules after running ``statement`` in a fresh interpreter."""
    code = f"{statement}; import sys, json; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def after_import():
    return modules_after("import bprop")


@pytest.mark.parametrize("heavy", HEAVY)
def test_import_bprop_does_not_import(after_import, heavy):
    assert heavy not in after_import


def test_the_check_sees_modules_that_are_imported():
    # A check that cannot fail proves nothing: the core's own dependency does show up.
    assert {"bprop", "numpy"} <= modules_after("import bprop; bprop.Network")


def test_every_public_name_stays_light():
    loaded = modules_after("import bprop; [getattr(bprop, name) for name in bprop.__all__]")
    assert not loaded & set(HEAVY)


def test_building_and_training_a_network_stays_light():
    loaded = modules_after(
        "import bprop, numpy as np; net = bprop.Network([3, 4, 2], seed=0); "
        "net.fit(np.ones((6, 3)), np.zeros(6, dtype=int), epochs=1); "
        "bprop.gradcheck(net, np.ones((2, 3)), [0, 1])"
    )
    assert not loaded & set(HEAVY)


TRACING = ["bprop.tracing." + name for name in ("step", "record", "paths", "document", "render", "picture", "sources")]


@pytest.mark.parametrize("first", ["submodules", "public names"])
def test_public_functions_are_not_shadowed_by_their_modules(first):
    # Importing a submodule sets it as an attribute of the package: a module named like a
    # public function (bprop.trace / bprop.gradcheck) would replace the function, whichever
    # was touched first.
    imports = "import " + ", ".join(["bprop.tracing", "bprop.finite_differences", "bprop.network", "bprop.io"] + TRACING)
    names = "bprop.gradcheck, bprop.trace, bprop.load"
    code = (f"import bprop; {names}; {imports}" if first == "public names" else f"import bprop; {imports}") + "; " + (
        f"print(*map(callable, [{names}]), bprop.trace is bprop.tracing.step.trace)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True", "True"]


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"]])
def test_the_commands_help_loads_no_compiler(argv):
    loaded = modules_after(
        "from bprop.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    )
    assert "bprop" in loaded and not loaded & {"numba", "llvmlite", "scipy"}
