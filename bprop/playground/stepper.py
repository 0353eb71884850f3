"""The Step view's numbers: one backprop step of a small network, by ``bprop.trace``.

The page sends a trace file's fields (sizes, activations, cost, weights, biases, input,
target, eta, and the weight whose paths to list); the reply is the trace's own JSON
(``Trace.to_dict``), the same numbers ``bprop trace --format json`` prints. The page
only lays them out, stage by stage.
"""
from bprop.errors import InputError

MAX_LAYERS = 5          # weight layers
MAX_NEURONS = 8         # per layer, input and output included
MAX_EXAMPLES = 16
FORMATS = ("markdown", "latex", "text", "json")


def examples():
    """The built-in examples as trace-file dicts, by name (``bprop trace --list-examples``)."""
    import json
    from importlib import resources

    from bprop.tracing import sources as tracing_sources

    folder = resources.files("bprop") / "examples"
    return {name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
            for name in tracing_sources.example_names()}


def run(spec):
    """The Trace of the step ``spec`` describes, checked against the limits first."""
    from bprop.tracing import sources as tracing_sources
    from bprop.tracing import trace

    if not isinstance(spec, dict):
        raise InputError("the step must be a JSON object with sizes, weights, biases, input and target")
    spec = dict(spec)
    weight = spec.pop("weight", None)
    sizes = spec.get("sizes")
    if not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS + 1 or \
            not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_NEURONS for n in sizes):
        raise InputError(f"sizes must list 2 to {MAX_LAYERS + 1} layers of 1 to {MAX_NEURONS} neurons")
    examples_given = spec.get("input")
    if isinstance(examples_given, list) and examples_given and isinstance(examples_given[0], list) \
            and len(examples_given) > MAX_EXAMPLES:
        raise InputError(f"the Step view takes at most {MAX_EXAMPLES} examples")
    problem = tracing_sources.from_spec(spec, "the step")
    return trace(problem.network, problem.x, problem.y, problem.learning_rate,
                 weight=weight if weight is not None else problem.weight)


def render(spec, format):
    """The step as text in ``format`` (markdown, latex, text, json), as ``bprop trace`` prints it."""
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    return run(spec).render(format)
