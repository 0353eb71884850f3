"""The package's import graph: no cycles, read from the source (imports inside functions count too)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bprop", "benchmarks")


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


def _resolve(name, modules):
    """The longest known module that ``name`` starts with (``bprop.sweep.run_sweep`` -> ``bprop.sweep``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph():
    """{module: set of the package modules it imports, anywhere in its source}."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in targets:
                module = _resolve(target, modules)
                if module and module != name:
                    edges.add(module)
        graph[name] = edges
    return graph


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return found


def _package_edges_removed(graph):
    """A package importing its own submodules (its __init__ re-exporting them) is not a cycle."""
    return {name: {m for m in edges if not (m.startswith(name + ".") or name.startswith(m + "."))}
            for name, edges in graph.items()}


def test_the_graph_sees_real_imports():
    graph = import_graph()
    assert "benchmarks.run" in graph["bprop.cli.bench"]
    assert "bprop.sweep.spec" in graph["bprop.sweep.running"]


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_bench_command_and_benchmark_suite_do_not_import_each_other():
    graph = import_graph()
    assert not any(target.startswith("bprop.cli") for name, edges in graph.items()
                   if name.startswith("benchmarks.") and name != "benchmarks.__main__"
                   for target in edges)


def test_no_import_cycles():
    assert _cycles(_package_edges_removed(import_graph())) == []


def test_no_module_imports_a_private_name_of_another():
    private = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
                private += [f"{name}: from {node.module} import {alias.name}" for alias in node.names
                            if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert private == []
