"""The network of a trace drawn as a tutorial figure (matplotlib, imported only here).

Nodes are neurons: inside, their name a^l_j; below, z, a = σ(z), δ = ∂C/∂z and the bias b.
Edges are weights, blue when positive and red when negative, as thick as |w|; each
carries w and ∂C/∂w (BP4). Dashed edges lead from the outputs to the cost, with ∂C/∂a.
Labels are placed one by one where they overlap nothing already drawn.
"""
import os

from bprop.errors import InputError
from bprop.tracing.document import number, sub

MAX_NEURONS = 6              # per layer; a wider layer's labels cannot all be placed legibly
COLUMN_GAP, ROW_GAP = 3.6, 2.1   # inches between layers (at most 9 edges) and between neurons
COST_GAP = 2.4                   # inches from the output layer to the cost
RADIUS = 0.3
POSITIVE, NEGATIVE = "#1f5fa8", "#c0392b"
FILL = {"input": "#e8e8e8", "hidden": "#fdf3c4", "output": "#d5efd5", "cost": "#f6d5d5"}


def save_picture(trace, path, precision=3, example=0):
    """Draw ``trace`` (example ``example`` of its mini-batch) to ``path``, a .png or .svg file."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".png", ".svg"):
        raise InputError(f"the picture is written as .png or .svg; got {os.path.basename(path)!r}")
    if max(trace.sizes) > MAX_NEURONS:
        raise InputError(f"the picture is drawn for layers of at most {MAX_NEURONS} neurons; this network "
                         f"has {max(trace.sizes)} in one layer")
    if isinstance(example, bool) or not isinstance(example, int) or not 0 <= example < trace.m:
        raise InputError(f"example must be an index from 0 to {trace.m - 1}; got {example!r}")
    plt = _pyplot()
    figure = _draw(plt, trace, precision, example)
    from bprop.io import atomic_file

    try:
        with atomic_file(path) as file:
            figure.savefig(file, format=suffix[1:], dpi=120)
    finally:
        plt.close(figure)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw(plt, trace, precision, example):
    def n(value):
        return number(value, precision).replace("-", "\u2212")

    sizes, L, i = trace.sizes, len(trace.layers), example
    # a layer with more edges gets a wider gap, so their labels find room
    columns = [0.0]
    for n_in, n_out in zip(sizes, sizes[1:]):
        columns.append(columns[-1] + COLUMN_GAP * max(1.0, (n_in * n_out / 9) ** 0.5))
    width = columns[-1] + 1.1 + COST_GAP + 0.5 + 0.6 * sizes[-1] + 0.6  # the cost's box on its right
    box_lines = 5 if trace.m > 1 else 4
    low = 0.7 + 0.15 + 0.16 * box_lines + 0.08 + RADIUS     # the lowest neuron, its box clear of the key
    high = low + ROW_GAP * (max(sizes) - 1)
    top = high + RADIUS + 0.35                                # the column titles
    height = top + 0.9
    figure = plt.figure(figsize=(width, height))
    axes = figure.add_axes([0, 0, 1, 1])
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.axis("off")
    middle = (low + high) / 2

    def position(l, j):
        x = 1.1 + columns[l]
        return x, middle + ROW_GAP * ((sizes[l] - 1) / 2 - j)

    cost_xy = (1.1 + columns[-1] + COST_GAP, middle)
    obstacles = []   # display-space boxes of everything drawn that a label must not cover
    renderer = figure.canvas.get_renderer()

    def occupy(artist):
        obstacles.append(artist.get_window_extent(renderer).padded(6))

    # ---- edges first, so nodes and labels sit on top of them --------------------------------
    largest = max(float(abs(layer.w).max()) for layer in trace.layers) or 1.0
    segments = []    # every edge, in display space, so a label can keep off the edges not its own
    for l, layer in enumerate(trace.layers, 1):
        for j in range(sizes[l]):
            for k in range(sizes[l - 1]):
                w = layer.w[j, k]
                (x0, y0), (x1, y1) = position(l - 1, k), position(l, j)
                axes.plot([x0, x1], [y0, y1], color=POSITIVE if w >= 0 else NEGATIVE,
                          linewidth=0.6 + 3.0 * abs(w) / largest, alpha=0.75, zorder=1, solid_capstyle="round")
                segments.append(axes.transData.transform([(x0, y0), (x1, y1)]))
    for j in range(sizes[L]):
        (x0, y0), (x1, y1) = position(L, j), cost_xy
        axes.plot([x0, x1], [y0, y1], color="#555555", linestyle="--", linewidth=1.0, zorder=1)
        segments.append(axes.transData.transform([(x0, y0), (x1, y1)]))

    # ---- nodes and their numbers -------------------------------------------------------------
    def node(xy, label, fill, lines, right=False):
        circle = plt.Circle(xy, RADIUS, facecolor=fill, edgecolor="#333333", linewidth=1.2, zorder=3)
        axes.add_patch(circle)
        occupy(circle)
        axes.text(*xy, label, ha="center", va="center", fontsize=12, zorder=4)
        where = (dict(x=xy[0] + RADIUS + 0.15, y=xy[1], ha="left", va="center") if right else  # clear of the edges in
                 dict(x=xy[0], y=xy[1] - RADIUS - 0.08, ha="center", va="top"))
        box = axes.text(s="\n".join(lines), fontsize=8.5, **where,
                        family="DejaVu Sans Mono", zorder=4, linespacing=1.25, multialignment="left",
                        bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor="#999999", alpha=0.95))
        occupy(box)

    for k in range(sizes[0]):
        node(position(0, k), rf"$x_{{{k}}}$", FILL["input"], [f"a⁰ = {n(trace.x[i, k])}"])
    for l, layer in enumerate(trace.layers, 1):
        for j in range(sizes[l]):
            lines = [f"z = {n(layer.z[i, j])}", f"a = {n(layer.a[i, j])}", f"δ = {n(layer.delta[i, j])}",
                     f"b = {n(layer.b[j])}"]
            if trace.m > 1:
                lines.append(f"∂C/∂b = {n(layer.nabla_b[j])}")
            node(position(l, j), rf"$a^{{{l}}}_{{{j}}}$", FILL["output" if l == L else "hidden"], lines)
    targets = ", ".join(n(v) for v in trace.y[i])
    node(cost_xy, "$C$", FILL["cost"], [f"y = ({targets})", f"C = {n(trace.costs[i])}"], right=True)

    # ---- column titles, title and key ---------------------------------------------------------
    for l in range(L + 1):
        title = "input a⁰ = x" if l == 0 else f"layer {l}: {trace.layers[l - 1].activation}"
        occupy(axes.text(position(l, 0)[0], top, title, ha="center", va="bottom", fontsize=11, weight="bold"))
    occupy(axes.text(cost_xy[0], top, f"cost: {trace.cost.replace('_', '-')}", ha="center", va="bottom",
                     fontsize=11, weight="bold"))
    batch = (f"  ·  example {i} of a mini-batch of {trace.m}; ∂C/∂w and ∂C/∂b are the batch means"
             if trace.m > 1 else "")
    axes.text(width / 2, height - 0.35, f"One backpropagation step, network {'-'.join(map(str, sizes))}, "
              f"η = {trace.learning_rate:g}{batch}", ha="center", va="center", fontsize=12.5)
    key = axes.text(width / 2, 0.3, "edges: w and ∂C/∂w (BP4); blue w > 0, red w < 0, width ∝ |w|     "
                    "nodes: z = wa + b, a = σ(z), δ = ∂C/∂z (BP1, BP2), bias b     dashed: ∂C/∂a",
                    ha="center", va="center", fontsize=9, color="#333333")
    occupy(key)

    # ---- edge labels, each where it overlaps nothing placed before ----------------------------
    fractions = (0.5, 0.4, 0.6, 0.3, 0.7, 0.45, 0.55, 0.35, 0.65, 0.25, 0.75, 0.2, 0.8)
    edge = 0
    for l, layer in enumerate(trace.layers, 1):
        for j in range(sizes[l]):
            for k in range(sizes[l - 1]):
                text = f"$w^{{{l}}}_{{{sub(j, k)}}}$ = {n(layer.w[j, k])}\n∂C/∂w = {n(layer.nabla_w[j, k])}"
                others = segments[:edge] + segments[edge + 1:]
                _place(axes, renderer, obstacles, others, position(l - 1, k), position(l, j), text, fractions,
                       POSITIVE if layer.w[j, k] >= 0 else NEGATIVE)
                edge += 1
    for j in range(sizes[L]):
        others = segments[:edge] + segments[edge + 1:]
        _place(axes, renderer, obstacles, others, position(L, j), cost_xy,
               f"∂C/∂a = {n(trace.layers[-1].upstream[i, j])}", (0.5, 0.4, 0.6, 0.3, 0.7), "#555555")
        edge += 1
    return figure


def _place(axes, renderer, obstacles, segments, start, end, text, fractions, color):
    """Put ``text`` on the segment start-end where it covers the least: no label or node
    first, then as few other edges as possible (so each label sits on its own edge alone)."""
    best = None
    for t in fractions:
        xy = (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
        label = axes.text(*xy, text, ha="center", va="center", fontsize=8.5, color=color, zorder=5,
                          linespacing=1.2,
                          bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor=color,
                                    linewidth=0.6, alpha=0.95))
        box = label.get_window_extent(renderer).padded(4)
        score = (sum(_area(box, other) for other in obstacles),
                 sum(_crosses(segment, box) for segment in segments))
        if best is None or score < best[0]:
            if best is not None:
                best[1].remove()
            best = (score, label, box)
        else:
            label.remove()
        if score == (0, 0):
            break
    obstacles.append(best[2])


def _crosses(segment, box, samples=64):
    """Whether a straight segment (two display points) passes through ``box``."""
    (x0, y0), (x1, y1) = segment
    for step in range(samples + 1):
        t = step / samples
        if box.contains(x0 + t * (x1 - x0), y0 + t * (y1 - y0)):
            return True
    return False


def _area(a, b):
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width * height if width > 0 and height > 0 else 0.0
