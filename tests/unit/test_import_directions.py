"""Dependencies point one way: entry points (pages, cli, api) -> ui (pages only) -> core -> db,
and settings below them all. Walks every module's imports with `ast` (lazy imports inside
functions included) and names each arrow that points the wrong way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"core", "db", "ui", "pages", "cli", "api", "settings"}
ENTRY_POINTS = {"pages", "cli", "api"}
FRAMEWORKS = {"streamlit", "typer", "fastapi"}

# What each layer must never import (a top-level package or module name).
FORBIDDEN: dict[str, set[str]] = {
    "core": FRAMEWORKS | {"ui"} | ENTRY_POINTS,
    "db": {"core", "ui"} | ENTRY_POINTS | FRAMEWORKS,
    "settings": OURS - {"settings"},
    "ui": {"cli", "api", "pages", "typer", "fastapi"},
    "pages": {"db", "cli", "api", "typer", "fastapi"},
    "cli": {"ui", "pages", "api", "streamlit", "fastapi"},
    "api": {"ui", "pages", "cli", "streamlit", "typer"},
}
# `python -m core` is the command the CLI contract fixes; core/__main__.py only launches `cli`.
EXEMPT = {("core/__main__.py", "cli")}


def layer_of(relative: Path) -> str | None:
    if relative.parts == ("app.py",):
        return "pages"  # the home page
    head = relative.parts[0]
    name = head[:-3] if head.endswith(".py") else head
    return name if name in FORBIDDEN else None


def imported_names(source: str, filename: str) -> set[str]:
    """The top-level names a module imports (relative imports stay inside its own package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def wrong_arrows(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        layer = layer_of(relative)
        if layer is None or any(part.startswith(".") for part in relative.parts):
            continue
        for name in sorted(imported_names(path.read_text(encoding="utf-8"), str(path))):
            if name in FORBIDDEN[layer] and (relative.as_posix(), name) not in EXEMPT:
                found.append(f"{relative.as_posix()}: {layer} imports {name}")
    return found


def test_no_module_imports_against_the_direction_of_the_layers():
    assert wrong_arrows(ROOT) == []


def test_the_walk_looks_at_every_layer_of_the_product():
    layers = {layer_of(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")}
    assert {"core", "db", "ui", "pages", "cli", "settings"} <= layers


@pytest.mark.parametrize(("path", "source", "arrow"), [
    ("core/x.py", "import streamlit as st", "core/x.py: core imports streamlit"),
    ("core/x.py", "def f():\n    from ui.page import setup_page", "core/x.py: core imports ui"),
    ("core/sub/x.py", "from cli.common import emit", "core/sub/x.py: core imports cli"),
    ("db/x.py", "from core.errors import NotFound", "db/x.py: db imports core"),
    ("pages/9_X.py", "from db.models import Token", "pages/9_X.py: pages imports db"),
    ("app.py", "import db.engine", "app.py: pages imports db"),
    ("ui/x.py", "from api import errors", "ui/x.py: ui imports api"),
    ("settings.py", "from core.split import Split", "settings.py: settings imports core"),
])
def test_a_wrong_arrow_is_named_with_its_file_and_layers(tmp_path, path, source, arrow):
    file = tmp_path / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(source + "\n", encoding="utf-8")
    (tmp_path / "core").mkdir(exist_ok=True)
    (tmp_path / "core" / "fine.py").write_text("from db.engine import Database\nimport sqlalchemy\n")
    assert wrong_arrows(tmp_path) == [arrow]
