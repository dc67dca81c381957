"""Every number a person reads goes through the one formatting module (`core.base.formatting`,
re-exported by `ui.format`): the home page, the pages, `ui/`, the CLI, the API and core's own
messages (refusals, reasons, activity lines) never format a number by hand. Walks their sources
with `ast` and names each hand-made number format; the few places in core where a raw machine
format is the point (an encoding, a hash's input, a CSV machine column) are listed, each with why.

What counts as formatting a number by hand:
* a format spec that shapes a number: `f"{x:,.2f}"`, `f"{x:.0%}"`, `f"{x:+.1f}"`, `f"{n:,}"`,
  also in a template for `str.format` (`"{:+.4f}"`) and in `format(x, ".2f")`;
* printf with a precision or a float conversion: `"%.2f" % x`, `"%e" % x` (`%d` is not: it is
  how a regex quantifier or a protocol header is built, and writes an integer as `str` does);
* a value glued to a unit by hand: `f"{x}%"`, `f"${x}"`, where `x` is a name, attribute, item
  or a builtin's result (`getattr`, `float`, `round`...); any other call's result is a string
  some formatter already made (`f"{format_pct(v)}%"`).

Not counted, on purpose (no false positives): a datetime spec (`f"{d:%Y-%m-%d}"`), alignment only
(`f"{name:<12}"`), and formats the browser applies to a number it keeps as a number, so a table
still sorts by value and a chart still scales: Streamlit's `column_config` formats
(`format="%.2f"`) and Plotly's hover templates (`%{y:,.4~f}`). `round(...)` is not counted
either: it makes a number, not text (the API's `Retry-After` header rounds seconds), and a rounded
number shown on a page would still be caught where it is written out.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("app.py", "pages", "ui", "cli", "api", "core")
# (file, what the scan names): a machine format no person is meant to read as a number.
MACHINE_FORMATS = {
    ("core/base/formatting.py", "format() with 'f'"): "the formatting module itself",
    ("core/base/formatting.py", "format spec ',f'"): "the formatting module itself",
    ("core/base/parsing.py", "format spec '04X'"): "a code point in Unicode's notation (U+000B)",
    ("core/platform_data/csv_columns.py", "format spec '08d'"):
        "a CSV machine column: the exact text of 1e-8 units, as the database stores it",
    ("core/record/audit.py", "format() with 'f'"): "the canonical text of a number a MAC covers",
    ("core/voting/chain.py", "format() with 'x'"): "a 32-byte ABI word in hex for eth_call",
    ("core/platform_data/metrics_model.py", "format spec '.6g'"):
        "an absurd input's size (a 400-digit JSON integer) as an exponent, on one short line",
}
# The standard format-spec grammar (fill, align, sign, z, #, 0, width, grouping, precision, type).
_SPEC = re.compile(r"(?:.?[<>=^])?[+\- ]?z?#?0?\d*[,_]?(?:\.\d+)?[bcdeEfFgGnoxX%]?")
_SHAPES_A_NUMBER = re.compile(r"[,_]|\.\d|[bcdeEfFgGnoxX%]$")
_TEMPLATE_FIELD = re.compile(r"\{[^{}]*:([^{}]*)\}")
_PRINTF_FLOAT = re.compile(r"%[-+ #0]*\d*(?:\.\d+[a-zA-Z%]|[eEfFgG])")
_UNITS_AFTER, _UNITS_BEFORE = ("%",), ("$",)
_NUMBER_BUILTINS = {"abs", "Decimal", "float", "getattr", "int", "len", "max", "min", "round",
                    "str", "sum"}


def numeric_spec(spec: str) -> bool:
    """A format spec that shapes a number (not a datetime's `%Y`, not alignment alone)."""
    return bool(_SPEC.fullmatch(spec)) and bool(_SHAPES_A_NUMBER.search(spec))


def _spec_text(spec: ast.JoinedStr) -> str:
    """The spec's text; a nested field (`{x:{width}.2f}`) stands for a width or a precision."""
    return "".join(v.value if isinstance(v, ast.Constant) else "9" for v in spec.values)


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _raw(part: ast.expr) -> bool:
    """A value shown as Python writes it: no spec, and not a formatter's string."""
    if not isinstance(part, ast.FormattedValue) or part.format_spec is not None:
        return False
    value = part.value
    if isinstance(value, ast.Call):
        return isinstance(value.func, ast.Name) and value.func.id in _NUMBER_BUILTINS
    return isinstance(value, (ast.Name, ast.Attribute, ast.Subscript, ast.BinOp))


def _glued(joined: ast.JoinedStr) -> bool:
    """A raw value with `%` right after it or `$` right before it."""
    for left, right in zip(joined.values, joined.values[1:]):
        if (_raw(left) and isinstance(right, ast.Constant)
                and right.value.startswith(_UNITS_AFTER)):
            return True
        if (isinstance(left, ast.Constant) and left.value.endswith(_UNITS_BEFORE)
                and _raw(right)):
            return True
    return False


def hand_formatted(source: str, filename: str) -> list[str]:
    """`line: what` for each number formatted by hand in one module."""
    tree = ast.parse(source, filename)
    docstrings = _docstrings(tree)
    spec_parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.FormattedValue)
                  and n.format_spec is not None for v in ast.walk(n.format_spec)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = _spec_text(node.format_spec)
            if numeric_spec(spec):
                found.append(f"{node.lineno}: format spec {spec!r}")
        elif isinstance(node, ast.JoinedStr) and _glued(node):
            found.append(f"{node.lineno}: a value glued to its unit")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings and id(node) not in spec_parts):
            found += [f"{node.lineno}: format template {m[0]!r}"
                      for m in _TEMPLATE_FIELD.finditer(node.value) if numeric_spec(m[1])]
        elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod)
              and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
              and _PRINTF_FLOAT.search(node.left.value)):
            found.append(f"{node.lineno}: printf {node.left.value!r}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "format" and len(node.args) == 2
              and isinstance(node.args[1], ast.Constant) and numeric_spec(str(node.args[1].value))):
            found.append(f"{node.lineno}: format() with {node.args[1].value!r}")
    return sorted(found, key=lambda line: int(line.split(":")[0]))


def scanned_files(root: Path) -> list[Path]:
    files = []
    for name in SCANNED:
        path = root / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def _findings() -> list[tuple[str, str, str]]:
    """(file, line, what) for every hand-made number format in the scanned sources."""
    found = []
    for path in scanned_files(ROOT):
        for entry in hand_formatted(path.read_text(encoding="utf-8"), str(path)):
            line, what = entry.split(": ", 1)
            found.append((path.relative_to(ROOT).as_posix(), line, what))
    return found


def test_no_page_ui_cli_api_or_core_module_formats_a_number_by_hand():
    found = [f"{name}:{line}: {what}" for name, line, what in _findings()
             if (name, what) not in MACHINE_FORMATS]
    assert found == [], "use core.base.formatting (ui.format on a page):\n" + "\n".join(found)


def test_every_machine_format_allowed_in_core_is_still_there():
    # An entry whose code has gone would silently allow the next hand format in that file.
    assert set(MACHINE_FORMATS) <= {(name, what) for name, _, what in _findings()}


def test_the_scan_reads_the_home_page_every_page_ui_cli_api_and_core():
    names = {p.relative_to(ROOT).parts[0] for p in scanned_files(ROOT)}
    assert names == set(SCANNED)
    assert len(scanned_files(ROOT)) > 30


@pytest.mark.parametrize("source", [
    'x = f"${price:,.4f}"',
    'x = f"{confidence:.0%}"',
    'x = f"{change:+.1f} pts"',
    'x = f"{count:,}"',
    'x = f"{value:{width}.2f}"',
    'x = "{:+,.2f}".format(change)',
    'x = format(amount, ",.2f")',
    'x = "%.2f" % share',
    'x = f"{split.dao}%"',
    'x = f"{row[\'share\']}%"',
    'x = f"${balance}"',
    'x = f"{getattr(split, bucket)}%"',
    'x = f"{float(average) * 100}%"',
])
def test_a_hand_formatted_number_is_found(source):
    [found] = hand_formatted(source, "x.py")
    assert found.startswith("1: ")


@pytest.mark.parametrize("source", [
    'x = f"{day:%Y-%m-%d}"',  # a datetime's own spec
    'x = f"{name:<12}|{kind:>8}"',  # alignment of text
    'x = f"{format_pct(low)}–{format_pct(high)}%"',  # already formatted by the module
    'x = f"{count(n)} rows, {share(s)} approved"',
    'x = f"{label!r} is not a bucket"',
    'x = re.compile(r"\\S{%d,}" % (LIMIT + 1))',  # a regex quantifier, not a number shown
    'c = st.column_config.ProgressColumn("c", format="%.2f")',  # formatted by the browser
    'h = {"hovertemplate": f"%{{x|%Y-%m-%d}}: {unit(f)}%{{y:,.4~f}}"}',  # Plotly's own
    'def f():\n    """Reads like `{x:,.2f}` would."""',
    'headers = {"Retry-After": str(max(1, round(wait)))}',
])
def test_formats_that_are_not_a_number_made_by_hand_are_left_alone(source):
    assert hand_formatted(source, "x.py") == []
