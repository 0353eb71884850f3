r"""A trace laid out as a document: headings, paragraphs, equations and tables.

Every block is labelled with the equation it shows, and every number is spelled out the
way a hand calculation would be (``0.1000·0.5000 + (-0.2000)·1.0000 + 0.1000``), so a
student can check each line. ``render.py`` writes the blocks as text, Markdown or
LaTeX; this module decides only what is shown.

Markup: prose with math between ``$...$``. Math uses ``^{...}``, ``_{...}`` and a few LaTeX
commands (``\sigma \delta \nabla \partial \odot \cdot \sum \eta \varepsilon \ln \tfrac
\lVert \rVert \to \text``), which the text and Markdown writers turn into Unicode.
"""
import dataclasses
import math

MAX_TERMS = 8  # a sum with more terms is shown by its value only
DELTA = r"\delta"


@dataclasses.dataclass
class Heading:
    level: int
    text: str


@dataclasses.dataclass
class Paragraph:
    text: str


@dataclasses.dataclass
class Equations:
    lines: list              # math, one equation a line


@dataclasses.dataclass
class Table:
    header: list
    rows: list
    align: str               # "l" or "r" per column


ACTIVATIONS = {  # (σ(z), σ'(z)) for the heading of each layer
    "sigmoid": (r"\sigma(z) = 1/(1 + e^{-z})", r"\sigma'(z) = a(1 - a)"),
    "tanh": (r"\sigma(z) = \tanh z", r"\sigma'(z) = 1 - a^{2}"),
    "relu": (r"\sigma(z) = \max(0, z)", r"\sigma'(z) = 1\text{ if }z > 0\text{ else }0"),
    "leaky_relu": (r"\sigma(z) = z\text{ if }z > 0\text{ else }\alpha z",
                   r"\sigma'(z) = 1\text{ if }z > 0\text{ else }\alpha"),
    "identity": (r"\sigma(z) = z", r"\sigma'(z) = 1"),
    "softmax": (r"a_{j} = e^{z_{j}} / \sum_{k} e^{z_{k}}",
                r"\partial a_{j}/\partial z_{k} = a_{j}([j = k] - a_{k})"),
}

COSTS = {  # (C per example, ∇_a C)
    "quadratic": (r"C = \tfrac{1}{2}\lVert y - a^{L}\rVert^{2}", r"\nabla_{a} C = a^{L} - y"),
    "binary": (r"C = -\sum_{j} [y_{j} \ln a^{L}_{j} + (1 - y_{j}) \ln(1 - a^{L}_{j})]",
               r"\nabla_{a} C = (a^{L} - y)/(a^{L}(1 - a^{L}))"),
    "categorical": (r"C = -\sum_{j} y_{j} \ln a^{L}_{j}", r"\nabla_{a} C = -y/a^{L}"),
}


def build(trace, precision):
    """The list of blocks that shows ``trace`` with numbers to ``precision`` decimals."""
    page = _Page(trace, precision)
    return (page.header() + page.forward() + page.cost() + page.bp1() + page.bp2()
            + page.gradients() + page.work() + page.paths())


def number(value, precision):
    """``value`` to ``precision`` decimals; tiny or huge values in scientific notation."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 0.5 * 10.0 ** -precision or abs(value) >= 1e6):
        return f"{value:.{max(precision - 1, 1)}e}"
    return f"{value + 0.0:.{precision}f}"  # + 0.0: no "-0.0000"


def sub(*indices):
    """Subscript text for neuron indices: ``10`` for (1, 0); ``1,12`` once one has two digits."""
    return ("" if all(i < 10 for i in indices) else ",").join(str(i) for i in indices)


def sym(base, layer, *indices):
    """A symbol of layer ``layer`` in the markup: ``sym("w", 2, 1, 0)`` is ``w^{2}_{10}``;
    ``sym("a", "l-1", "k")`` is ``a^{l-1}_{k}``."""
    text = f"{base}^{{{layer}}}"
    if indices:
        text += "_{" + (sub(*indices) if all(isinstance(i, int) for i in indices) else "".join(map(str, indices))) + "}"
    return text


class _Page:
    def __init__(self, trace, precision):
        self.t, self.p = trace, precision
        self.L, self.m = len(trace.layers), trace.m
        self.batch = trace.m > 1
        output = trace.layers[-1].activation
        self.cost_kind = ("quadratic" if trace.cost == "quadratic"
                          else "categorical" if output == "softmax" else "binary")

    # ---- numbers ---------------------------------------------------------------------
    def n(self, value):
        return number(value, self.p)

    def f(self, value):
        """A number as a factor or term: in parentheses when negative."""
        text = self.n(value)
        return f"({text})" if text.startswith("-") else text

    def num(self, value):
        return f"${self.n(value)}$"

    def vector(self, values):
        return "(" + ", ".join(self.n(v) for v in values) + ")"

    @staticmethod
    def diff(value):
        """A difference of two estimates: only its size matters."""
        return "0" if value == 0 else f"{value:.1e}"

    def terms(self, values):
        """Numbers to be added: the first as is, the others in parentheses when negative."""
        return [self.n(values[0])] + [self.f(v) for v in values[1:]]

    def products(self, pairs):
        """``x·y + ...`` for (x, y) pairs, or None when there are more than MAX_TERMS."""
        if len(pairs) > MAX_TERMS:
            return None
        return " + ".join(rf"{self.f(x)} \cdot {self.f(y)}" for x, y in pairs)

    def mean_of(self, terms):
        """``(t_1 + ... + t_m)/m`` for per-example terms (already text)."""
        if any(term is None for term in terms) or len(terms) > MAX_TERMS // 2:
            return None
        return f"({' + '.join(terms)})/{len(terms)}"

    def first(self, *columns):
        """Leading columns: the example number (mini-batch only), then the others."""
        return (["example"] if self.batch else []) + list(columns)

    def rows(self, n, cells):
        """One row per example and neuron j: ``cells(i, j)`` gives the row after the indices."""
        return [([str(i)] if self.batch else []) + [str(j)] + cells(i, j)
                for i in range(self.m) for j in range(n)]

    def align(self, rest):
        return ("r" if self.batch else "") + "r" + rest

    # ---- sections --------------------------------------------------------------------
    def header(self):
        t = self.t
        layers = ", ".join(f"layer {l} {layer.activation}" for l, layer in enumerate(t.layers, 1))
        examples = "one example" if t.single and not self.batch else f"a mini-batch of {self.m}"
        batch = (r" The cost of a mini-batch is the mean $C = \tfrac{1}{m}\sum_{x} C_{x}$; $\delta$ stays one "
                 r"row per example and BP3 and BP4 take the mean." if self.batch else "")
        blocks = [
            Heading(1, "Backpropagation, one step, every number"),
            Paragraph(f"Network {'-'.join(map(str, t.sizes))} ({layers}), {t.cost.replace('_', '-')} cost "
                      f"${COSTS[self.cost_kind][0]}$, learning rate $\\eta = {t.learning_rate:g}$, {examples}."),
            Paragraph(f"Layers are numbered $l = 1..L$ ($L = {self.L}$) with the input $a^{{0}} = x$; neurons "
                      f"count from 0 and ${sym('w', 'l', 'jk')}$ joins neuron $k$ of layer $l-1$ to neuron $j$ "
                      f"of layer $l$. Computed in float64, shown to {self.p} decimals." + batch),
        ]
        if self.batch:
            rows = [[str(i), f"${self.vector(x)}$", f"${self.vector(y)}$"] for i, (x, y) in enumerate(zip(t.x, t.y))]
            blocks.append(Table(["example", "$x = a^{0}$", "$y$"], rows, "rll"))
        else:
            blocks.append(Equations([rf"x = a^{{0}} = {self.vector(t.x[0])}", rf"y = {self.vector(t.y[0])}"]))
        return blocks

    def forward(self):
        t = self.t
        blocks = [Heading(2, r"Forward pass: $z^{l} = w^{l} a^{l-1} + b^{l}$, $a^{l} = \sigma(z^{l})$")]
        for l, layer in enumerate(t.layers, 1):
            below = t.x if l == 1 else t.layers[l - 2].a
            softmax = layer.activation == "softmax"
            blocks.append(Heading(3, f"Layer {l}: {layer.activation}, ${ACTIVATIONS[layer.activation][0]}$"))

            def cells(i, j, layer=layer, below=below, softmax=softmax):
                expansion = self.products(list(zip(layer.w[j], below[i])))
                expansion = "" if expansion is None else f"${expansion} + {self.f(layer.b[j])}$"
                exp_z = [self.num(_exp(layer.z[i, j]))] if softmax else []
                return [expansion, self.num(layer.z[i, j])] + exp_z + [self.num(layer.a[i, j])]

            z_j, a_j = sym("z", l, "j"), sym("a", l, "j")
            header = self.first("j", rf"${z_j} = \sum_{{k}} {sym('w', l, 'jk')} {sym('a', l - 1, 'k')} + "
                                     rf"{sym('b', l, 'j')}$", f"${z_j}$")
            if softmax:
                header += [f"$e^{{{z_j}}}$", rf"${a_j} = e^{{{z_j}}}/\sum_{{k}} e^{{{sym('z', l, 'k')}}}$"]
            else:
                header += [rf"${a_j} = \sigma({z_j})$"]
            blocks.append(Table(header, self.rows(t.sizes[l], cells), self.align("lr" + "r" * (1 + softmax))))
            if softmax:
                sums = [rf"\sum_{{k}} e^{{{sym('z', l, 'k')}}} = {self.n(sum(_exp(z) for z in row))}"
                        for row in layer.z]
                blocks.append(Paragraph("; ".join(f"example {i}: ${s}$" if self.batch else f"${s}$"
                                                  for i, s in enumerate(sums)) + "."))
        return blocks

    def cost(self):
        t, L = self.t, self.L
        out = t.layers[-1]
        c_formula, grad_formula = COSTS[self.cost_kind]
        blocks = [Heading(2, f"Cost: ${c_formula}$ and ${grad_formula}$")]
        if self.batch:
            rows = []
            for i in range(self.m):
                expansion = self.cost_expansion(out.a[i], t.y[i])
                rows.append([str(i), f"${expansion}$" if expansion else "", self.num(t.costs[i])])
            blocks.append(Table(["example", "$C_{x}$ in numbers", "$C_{x}$"], rows, "rlr"))
            terms = self.mean_of(self.terms(t.costs))
            blocks.append(Equations([r"C = \tfrac{1}{m}\sum_{x} C_{x} = " + (f"{terms} = " if terms else "")
                                     + self.n(t.cost_value)]))
        else:
            expansion = self.cost_expansion(out.a[0], t.y[0])
            blocks.append(Equations(["C = " + (f"{expansion} = " if expansion else "") + self.n(t.cost_value)]))

        def cells(i, j):
            a, y = self.f(out.a[i, j]), self.f(t.y[i, j])
            expansion = {"quadratic": f"{a} - {y}",
                         "binary": rf"({a} - {y})/({a} \cdot (1 - {a}))",
                         "categorical": f"-{y}/{a}"}[self.cost_kind]
            return [f"${expansion}$", self.num(out.upstream[i, j])]

        gradient = r"$(\nabla_{a} C)_{j}$"
        blocks.append(Table(self.first("j", f"{gradient} in numbers", gradient),
                            self.rows(t.sizes[L], cells), self.align("lr")))
        return blocks

    def cost_expansion(self, a, y):
        if len(a) > MAX_TERMS:
            return None
        pairs = [(self.f(aj), self.f(yj)) for aj, yj in zip(a, y)]
        if self.cost_kind == "quadratic":
            return r"\tfrac{1}{2}(" + " + ".join(f"({aj} - {yj})^{{2}}" for aj, yj in pairs) + ")"
        if self.cost_kind == "binary":
            return "-(" + " + ".join(rf"{yj} \ln {aj} + (1 - {yj}) \ln(1 - {aj})" for aj, yj in pairs) + ")"
        terms = [rf"{self.f(yj)} \ln {self.f(aj)}" for aj, yj in zip(a, y) if yj != 0]
        return "-(" + (" + ".join(terms) or "0") + ")"

    def bp1(self):
        t, L = self.t, self.L
        out = t.layers[-1]
        if out.activation == "softmax":
            return self.bp1_softmax()
        blocks = [Heading(2, r"BP1, the output error: $\delta^{L} = \nabla_{a} C \odot \sigma'(z^{L})$"),
                  Paragraph(f"Layer {L}: ${ACTIVATIONS[out.activation][1]}$.")]

        def cells(i, j):
            general = [self.num(t.delta_general[i, j])] if t.fused else []
            return [self.num(out.upstream[i, j]), self.sigma_prime_expansion(out, i, j),
                    self.num(out.sigma_prime[i, j])] + general + [self.num(out.delta[i, j])]

        gradient, prime, delta = r"(\nabla_{a} C)_{j}", rf"\sigma'({sym('z', L, 'j')})", sym(DELTA, L, "j")
        header = self.first("j", f"${gradient}$", f"${prime}$ in numbers", f"${prime}$")
        if t.fused:
            header += [f"${gradient} {prime}$", f"${delta} = {sym('a', L, 'j')} - y_{{j}}$"]
        else:
            header += [f"${delta} = {gradient} {prime}$"]
        blocks.append(Table(header, self.rows(t.sizes[L], cells), self.align("rlr" + "r" * (1 + t.fused))))
        if t.fused:
            blocks.append(Paragraph(f"With a sigmoid output and cross-entropy the product simplifies to "
                                    f"${sym(DELTA, L)} = {sym('a', L)} - y$, which is how bprop "
                                    f"computes it (stable where $\\sigma$ saturates)."))
        return blocks

    def bp1_softmax(self):
        t, L = self.t, self.L
        out = t.layers[-1]
        n = t.sizes[L]
        blocks = [Heading(2, r"BP1, the output error: $\delta^{L} = (\partial a^{L}/\partial z^{L})^{T} \nabla_{a} C$"),
                  Paragraph(f"Softmax is not element-wise, so $\\sigma'(z^{{L}})$ is a full Jacobian, "
                            f"${ACTIVATIONS['softmax'][1]}$ (symmetric); BP1's $\\odot$ becomes a "
                            f"matrix-vector product.")]
        for i in range(self.m):
            title = rf"Jacobian $\partial {sym('a', L, 'j')}/\partial {sym('z', L, 'k')}$"
            rows = [[str(j)] + [self.num(out.jacobian[i, j, k]) for k in range(n)] for j in range(n)]
            blocks.append(Paragraph(title + (f", example {i}" if self.batch else "") + ":"))
            blocks.append(Table(["j"] + [f"$k = {k}$" for k in range(n)], rows, "r" * (n + 1)))

        def cells(i, j):
            expansion = self.products([(out.jacobian[i, k, j], out.upstream[i, k]) for k in range(n)])
            row = [self.num(out.upstream[i, j]), f"${expansion}$" if expansion else "",
                   self.num(t.delta_general[i, j])]
            if t.fused:
                row.append(f"${self.f(out.a[i, j])} - {self.f(t.y[i, j])}$")
            return row + [self.num(out.delta[i, j])]

        header = self.first("j", r"$(\nabla_{a} C)_{j}$",
                            r"$\sum_{k} (\partial a_{k}/\partial z_{j}) (\nabla_{a} C)_{k}$ in numbers", "its value")
        header += (["$a_{j} - y_{j}$"] if t.fused else []) + [f"${sym(DELTA, L, 'j')}$"]
        blocks.append(Table(header, self.rows(n, cells), self.align("rlr" + ("l" if t.fused else "") + "r")))
        if t.fused:
            blocks.append(Paragraph(f"With cross-entropy the product simplifies to "
                                    f"${sym(DELTA, L)} = {sym('a', L)} - y$, which is how bprop computes it."))
        return blocks

    def sigma_prime_expansion(self, layer, i, j):
        a, z = layer.a[i, j], layer.z[i, j]
        if layer.activation == "sigmoid":
            return rf"${self.f(a)} \cdot (1 - {self.f(a)})$"
        if layer.activation == "tanh":
            return f"$1 - {self.f(a)}^{{2}}$"
        if layer.activation in ("relu", "leaky_relu"):
            return "$z > 0$" if z > 0 else r"$z \le 0$"
        return ""

    def bp2(self):
        t = self.t
        blocks = [Heading(2, r"BP2, the error moved back: "
                             r"$\delta^{l} = ((w^{l+1})^{T} \delta^{l+1}) \odot \sigma'(z^{l})$")]
        if self.L == 1:
            return blocks + [Paragraph("The network has no hidden layer, so BP2 is not needed.")]
        for l in range(self.L - 1, 0, -1):
            layer, above = t.layers[l - 1], t.layers[l]
            blocks.append(Heading(3, f"Layer {l}: ${ACTIVATIONS[layer.activation][1]}$"))

            def cells(i, j, layer=layer, above=above):
                expansion = self.products([(above.w[p, j], above.delta[i, p]) for p in range(len(above.b))])
                return [f"${expansion}$" if expansion else "", self.num(layer.upstream[i, j]),
                        self.sigma_prime_expansion(layer, i, j), self.num(layer.sigma_prime[i, j]),
                        self.num(layer.delta[i, j])]

            delta_above, prime = sym(DELTA, l + 1), rf"\sigma'({sym('z', l, 'j')})"
            weighted = rf"\sum_{{p}} {sym('w', l + 1, 'pj')} {sym(DELTA, l + 1, 'p')}"
            header = self.first("j", f"${weighted}$ in numbers",
                                f"$((w^{{{l + 1}}})^{{T}} {delta_above})_{{j}}$",
                                f"${prime}$ in numbers", f"${prime}$", f"${sym(DELTA, l, 'j')}$")
            blocks.append(Table(header, self.rows(t.sizes[l], cells), self.align("lrlrr")))
        return blocks

    def gradients(self):
        t = self.t
        mean, x = (r"\tfrac{1}{m}\sum_{x} ", "x,") if self.batch else ("", "")
        blocks = [Heading(2, "BP3 and BP4, the gradient; finite differences; the step"),
                  Equations([rf"\text{{BP3:}} \quad \partial C/\partial b^{{l}}_{{j}} = {mean}\delta^{{l}}_{{{x}j}}",
                             rf"\text{{BP4:}} \quad \partial C/\partial w^{{l}}_{{jk}} = "
                             rf"{mean}a^{{l-1}}_{{{x}k}} \delta^{{l}}_{{{x}j}}",
                             r"\text{finite difference:} \quad (C(p + \varepsilon) - C(p - \varepsilon))/2\varepsilon,"
                             rf" \quad \varepsilon = {t.epsilon:g}",
                             r"\text{step:} \quad p \to p - \eta \, \partial C/\partial p,"
                             rf" \quad \eta = {t.learning_rate:g}"])]
        for l in range(self.L, 0, -1):
            layer = t.layers[l - 1]
            below = t.x if l == 1 else t.layers[l - 2].a
            rows = []
            for j in range(t.sizes[l]):
                for k in range(t.sizes[l - 1]):
                    terms = [rf"{self.f(below[i, k])} \cdot {self.f(layer.delta[i, j])}" for i in range(self.m)]
                    expansion = self.mean_of(terms) if self.batch else terms[0]
                    rows.append(self.gradient_row(f"${sym('w', l, j, k)}$", layer.w[j, k], expansion,
                                                  layer.nabla_w[j, k], layer.fd_w[j, k], layer.w_new[j, k]))
            for j in range(t.sizes[l]):
                expansion = self.mean_of(self.terms(layer.delta[:, j])) if self.batch else sym(DELTA, l, j)
                rows.append(self.gradient_row(f"${sym('b', l, j)}$", layer.b[j], expansion,
                                              layer.nabla_b[j], layer.fd_b[j], layer.b_new[j]))
            blocks.append(Heading(3, f"Layer {l}"))
            blocks.append(Table(["$p$", "value", "backprop in numbers", r"$\partial C/\partial p$",
                                 "finite difference", "difference", r"$p - \eta \, \partial C/\partial p$"],
                                rows, "lrlrrrr"))
        blocks.append(Paragraph(f"After the step the cost is $C = {self.n(t.cost_after)}$ "
                                f"(before: ${self.n(t.cost_value)}$)."))
        return blocks

    def gradient_row(self, name, value, expansion, backprop, finite, updated):
        return [name, self.num(value), f"${expansion}$" if expansion else "", self.num(backprop),
                self.num(finite), f"${self.diff(backprop - finite)}$", self.num(updated)]

    def work(self):
        t = self.t
        passes, P = t.forward_passes, t.n_parameters
        largest = max(max(abs(layer.nabla_w - layer.fd_w).max(), abs(layer.nabla_b - layer.fd_b).max())
                      for layer in t.layers)
        backprop = f"{passes['backprop']} forward + {passes['backward_passes']} backward"
        finite = f"2 forward per parameter = {passes['finite_differences']} forward"
        return [Heading(2, "What each method cost"),
                Table(["method", "passes", "gives"],
                      [["backprop (BP1-BP4)", backprop, f"all {P} gradients"],
                       ["finite differences", finite, f"{P} estimates"]], "lll"),
                Paragraph(f"Largest difference between the two: ${float(largest):.1e}$. The backward pass costs "
                          f"about as much as the forward one, so backprop pays about 2 forward passes where "
                          f"finite differences pay {passes['finite_differences']}: a factor of about the number "
                          f"of parameters, {P} here and a million for a network with a million weights.")]

    def paths(self):
        view = self.t.paths
        l, j, k = view.weight
        name = sym("w", l, j, k)
        blocks = [Heading(2, f"Sum over paths for ${name}$"),
                  Paragraph(f"Nielsen, chapter 2: ${name}$ changes ${sym('z', l, j)}$, which changes the cost "
                            f"along every path through the layers above. Each path contributes the product of its "
                            f"rate factors: ${sym('a', l - 1, k)}$ for $\\partial z/\\partial w$, then "
                            f"$\\sigma'(z)$ at each neuron and $w$ on each edge it crosses, and "
                            f"$\\partial C/\\partial a^{{L}}_{{m}}$ at the end; $\\partial C/\\partial {name}$ is "
                            f"their sum.")]
        if view.paths is None:
            return blocks + [Paragraph(f"${name}$ reaches the cost by {view.count} path{'' if view.count == 1 else 's'} per example, too many "
                                       f"to list; choose a weight nearer the output.")]
        rows = []
        lead = (lambda i: [str(i)]) if self.batch else (lambda i: [])
        blank = [""] if self.batch else []
        for i, example in enumerate(view.paths):
            for path in example:
                symbols = r" \cdot ".join(self.factor_symbol(f) for f in path.factors)
                values = r" \cdot ".join(self.f(f["value"]) for f in path.factors)
                rows += [lead(i) + [f"${self.route(view.weight, path)}$", ""],
                         blank + [rf"$\qquad {symbols}$", ""],
                         blank + [rf"$\qquad {values}$", self.num(path.product)]]
        header = (["example"] if self.batch else []) + ["path; its rate factors; their values", "product"]
        blocks.append(Table(header, rows, ("r" if self.batch else "") + "lr"))
        if self.batch:
            lines = [rf"\text{{example {i}: sum over its {view.count} path{'' if view.count == 1 else 's'}}} = {self.n(total)}"
                     for i, total in enumerate(view.sums)]
            lines.append(rf"\tfrac{{1}}{{m}}\sum_{{x}} = {self.n(view.total)}")
        else:
            lines = [rf"\text{{sum over the {view.count} path{'' if view.count == 1 else 's'}}} = {self.n(view.total)}"]
        lines += [rf"\text{{BP4:}} \quad \partial C/\partial {name} = {self.n(view.bp4)}",
                  rf"\text{{difference}} = {self.diff(view.total - view.bp4)}"]
        return blocks + [Equations(lines)]

    def route(self, weight, path):
        l = weight[0]
        nodes = [sym("w", *weight)]
        for q, p in enumerate(path.neurons, l):
            if q == self.L and self.t.layers[-1].activation == "softmax":
                nodes += [sym("z", q, p), sym("a", q, path.output)]
            else:
                nodes.append(sym("a", q, p))
        return r" \to ".join(nodes + ["C"])

    @staticmethod
    def factor_symbol(factor):
        kind, index = factor["factor"], factor["index"]
        if kind == "a":
            return sym("a", *index)
        if kind == "sigma_prime":
            return rf"\sigma'({sym('z', *index)})"
        if kind == "w":
            return sym("w", *index)
        if kind == "jacobian":
            return rf"\partial {sym('a', index[0], index[1])}/\partial {sym('z', index[0], index[2])}"
        return rf"\partial C/\partial {sym('a', *index)}"


def _exp(z):
    try:
        return math.exp(z)
    except OverflowError:
        return float("inf")
