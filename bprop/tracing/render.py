r"""A trace written out: an aligned terminal table, Markdown, LaTeX or JSON.

``document.py`` decides what is shown; this module only writes its blocks in each
format. Math arrives in a small LaTeX subset (``^{..}``, ``_{..}``, ``\sigma``, ``\cdot``,
...): LaTeX keeps it, text and Markdown turn it into Unicode (z^1_0, σ'(z), ∂C/∂w, ·).
JSON is the trace's own ``to_json``: every number at full precision, whatever
``precision`` says.
"""
import re

from bprop import validation
from bprop.errors import InputError
from bprop.tracing.document import Equations, Heading, Paragraph, build

FORMATS = ("text", "markdown", "latex", "json")

_UNICODE = [
    (r" \cdot ", "·"), (r"\tfrac{1}{2}", "½"), (r"\tfrac{1}{m}", "(1/m) "), (r"\lVert ", "‖"), (r"\lVert", "‖"),
    (r"\rVert", "‖"), (r"\varepsilon", "ε"), (r"\partial ", "∂"), (r"\partial", "∂"),
    (r"\sigma", "σ"), (r"\delta", "δ"), (r"\nabla", "∇"), (r"\odot", "⊙"), (r"\eta", "η"),
    (r"\alpha", "α"), (r"\sum", "Σ"), (r"\cdot", "·"), (r"\to", "→"), (r"\le", "≤"),
    (r"\qquad ", "    "), (r"\quad", ""), (r" \, ", " "), (r"\,", ""), (r"\ln", "ln"), (r"\tanh", "tanh"),
    (r"\max", "max"), (r"\text", ""),
]
_SUPERSCRIPT = re.compile(r"\^\{([^{}]*)\}")
_SUBSCRIPT = re.compile(r"_\{([^{}]*)\}")
_MATH = re.compile(r"\$([^$]*)\$")
_NUMBER = re.compile(r"^\(?-?\d+(\.\d+)?(e[+-]\d+)?\)?$")


def render(trace, format="text", precision=4):
    """``trace`` as a string in ``format`` (text, markdown, latex or json)."""
    validation.choice(format, "format", FORMATS)
    if isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 17:
        raise InputError(f"precision must be a whole number of digits from 0 to 17; got {precision!r}")
    if format == "json":
        return trace.to_json()
    blocks = build(trace, precision)
    return {"text": _text, "markdown": _markdown, "latex": _latex}[format](blocks)


# ---- math to Unicode -------------------------------------------------------------------
def unicode_math(math):
    """``w^{2}_{10} \\cdot \\sigma'(z^{1}_{0})`` -> ``w^2_10·σ'(z^1_0)``."""
    for command, symbol in _UNICODE:
        math = math.replace(command, symbol)
    previous = None
    while previous != math:   # innermost braces first: e^{z^{2}_{0}} -> e^(z^2_0)
        previous = math
        math = _SUPERSCRIPT.sub(lambda match: "^" + _bracket(match.group(1)), math)
        math = _SUBSCRIPT.sub(lambda match: "_" + match.group(1), math)
    return math.replace("{", "").replace("}", "")


def _bracket(power):
    return power if re.fullmatch(r"[A-Za-z]|\d+|T", power) else f"({power})"


def _plain(text, code=False):
    """Prose with $math$ as Unicode text; in Markdown (``code``) math goes in backticks."""
    def math(match):
        converted = unicode_math(match.group(1))
        return f"`{converted}`" if code and not _NUMBER.match(converted) else converted

    return _MATH.sub(math, text)


# ---- text ------------------------------------------------------------------------------
def _text(blocks):
    lines, previous = [], None
    for block in blocks:
        if previous is not None and not isinstance(previous, Heading):
            lines.append("")
        if isinstance(block, Heading):
            title = _plain(block.text)
            underline = {1: "=", 2: "-"}.get(block.level)
            lines += ([""] if block.level == 2 else []) + [title] + ([underline * len(title)] if underline else [])
        elif isinstance(block, Paragraph):
            lines += _wrap(block.text, 100)
        elif isinstance(block, Equations):
            lines += ["  " + unicode_math(line) for line in block.lines]
        else:
            lines += _text_table(block)
        previous = block
    return "\n".join(lines) + "\n"


def _text_table(table):
    header = [_plain(cell) for cell in table.header]
    rows = [[_plain(cell) for cell in row] for row in table.rows]
    widths = [max(len(row[c]) for row in [header] + rows) for c in range(len(header))]

    def line(cells):
        padded = [cell.rjust(w) if a == "r" else cell.ljust(w) for cell, w, a in zip(cells, widths, table.align)]
        return ("  " + "  ".join(padded)).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(row) for row in rows]


def _wrap(text, width):
    """Prose with $math$ as Unicode lines of at most ``width``, never breaking inside math."""
    glued = _MATH.sub(lambda match: "$" + match.group(1).replace(" ", "\0") + "$", text)
    lines, current = [], ""
    for word in glued.split(" "):
        if current and len(_plain(current)) + 1 + len(_plain(word)) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [_plain(line.replace("\0", " ")) for line in lines + [current]]


# ---- Markdown --------------------------------------------------------------------------
def _markdown(blocks):
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + _plain(block.text, code=True))
        elif isinstance(block, Paragraph):
            out.append(_plain(block.text, code=True))
        elif isinstance(block, Equations):
            out.append("```text\n" + "\n".join(unicode_math(line) for line in block.lines) + "\n```")
        else:
            def row(cells):
                return "| " + " | ".join(_plain(cell, code=True).replace("|", "\\|") for cell in cells) + " |"

            rule = "|" + "|".join("---:" if a == "r" else ":---" for a in block.align) + "|"
            out.append("\n".join([row(block.header), rule] + [row(r) for r in block.rows]))
    return "\n\n".join(out) + "\n"


# ---- LaTeX -----------------------------------------------------------------------------
_LATEX_PREAMBLE = r"""\documentclass{article}
\usepackage[landscape, margin=1.5cm]{geometry}
\usepackage{amsmath}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6em}
\begin{document}
"""


def _latex(blocks):
    out = [_LATEX_PREAMBLE]
    for block in blocks:
        if isinstance(block, Heading):
            command = {1: "section*", 2: "subsection*"}.get(block.level, "subsubsection*")
            out.append(f"\\{command}{{{_latex_prose(block.text)}}}")
        elif isinstance(block, Paragraph):
            out.append(_latex_prose(block.text) + "\n")
        elif isinstance(block, Equations):
            out.append("\\begin{align*}\n" + " \\\\\n".join(_latex_math(line) for line in block.lines)
                       + "\n\\end{align*}")
        else:
            rows = [" & ".join(_latex_prose(cell) for cell in row) + r" \\" for row in block.rows]
            out.append("{\\footnotesize\n\\begin{tabular}{" + block.align + "}\n\\hline\n"
                       + " & ".join(_latex_prose(cell) for cell in block.header) + " \\\\\n\\hline\n"
                       + "\n".join(rows) + "\n\\hline\n\\end{tabular}}\n")
    out.append("\\end{document}")
    return "\n".join(out) + "\n"


def _latex_prose(text):
    parts = _MATH.split(text)   # even: prose, odd: math
    return "".join(f"${_latex_math(part)}$" if n % 2 else _latex_escape(part) for n, part in enumerate(parts))


def _latex_math(math):
    math = re.sub(r"(\d+(?:\.\d+)?)e([+-]\d+)", lambda m: rf"{m.group(1)}\times 10^{{{int(m.group(2))}}}", math)
    return math.replace("inf", r"\infty").replace("nan", r"\mathrm{NaN}")


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{",
                  "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "$": r"\$"}


def _latex_escape(text):
    return re.sub(r"[\\&%#_{}~^$]", lambda match: _LATEX_SPECIAL[match.group(0)], text)
