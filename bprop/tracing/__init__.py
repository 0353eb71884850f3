"""One step of backpropagation, every number: computed by the core's backward pass, shown here.

    step.py      trace(): asks the network for one backprop pass, adds what is displayed on top
    record.py    Trace: every number of the step, layer by layer, and its exact JSON form
    paths.py     the sum over paths for one weight (Nielsen ch. 2), beside BP4
    document.py  what a rendered trace shows: headings, equations with their numbers, tables
    render.py    the document written as text, Markdown or LaTeX (or the trace as JSON)
    picture.py   the network drawn with its numbers (matplotlib)
    sources.py   where a trace's network comes from: a JSON file, a built-in example, a seed

The package is called ``tracing`` and not ``trace`` because ``bprop.trace`` is the public
function: importing a submodule ``bprop.trace`` would rebind that name to the package.
"""
from bprop.tracing.paths import MAX_PATHS, Path, PathSum
from bprop.tracing.record import LayerTrace, Trace
from bprop.tracing.step import trace

__all__ = ["trace", "Trace", "LayerTrace", "PathSum", "Path", "MAX_PATHS"]
