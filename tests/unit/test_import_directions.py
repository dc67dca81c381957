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
    ("db/x.py", "from core.base.errors import NotFound", "db/x.py: db imports core"),
    ("pages/9_X.py", "from db.models import Token", "pages/9_X.py: pages imports db"),
    ("app.py", "import db.engine", "app.py: pages imports db"),
    ("ui/x.py", "from api import errors", "ui/x.py: ui imports api"),
    ("settings.py", "from core.allocation.split import Split", "settings.py: settings imports core"),
])
def test_a_wrong_arrow_is_named_with_its_file_and_layers(tmp_path, path, source, arrow):
    file = tmp_path / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(source + "\n", encoding="utf-8")
    (tmp_path / "core").mkdir(exist_ok=True)
    (tmp_path / "core" / "fine.py").write_text("from db.engine import Database\nimport sqlalchemy\n")
    assert wrong_arrows(tmp_path) == [arrow]


# --- inside core: packages in one order, and no circle between modules ---------------------------

# core's subdomain packages from the bottom up: each may import itself and those before it, never
# one after it. core's own top-level modules (`database`, `__main__`: the front doors) sit above
# them all, and nothing in a package may import them. This list is the one statement of the order.
# `voting` sits below `proposals`: filing a proposal takes the snapshot in force and a binding
# vote decides whether a major change activates, so proposals will ask voting, never the reverse.
CORE_ORDER = ("base", "record", "allocation", "governance", "voting", "proposals",
              "platform_data", "experiments", "rebalancer", "jobs")
FRONT_DOORS = len(CORE_ORDER)  # the rank of core's top-level modules


def core_modules(root: Path) -> dict[str, Path]:
    """Every module under core/, by dotted name (a package by its own name, from __init__.py)."""
    modules = {}
    for path in sorted((root / "core").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def core_imports(root: Path) -> dict[str, set[str]]:
    """module -> the core modules it imports, at the top or inside a function. `from core.x import
    y` counts as importing `core.x.y` when that is a module, else `core.x`."""
    modules = core_modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def rank_of(module: str) -> int | None:
    """A module's place in CORE_ORDER; None for a package the order does not name."""
    parts = module.split(".")
    if len(parts) == 2:
        return FRONT_DOORS if parts[1] not in CORE_ORDER else CORE_ORDER.index(parts[1])
    return CORE_ORDER.index(parts[1]) if parts[1] in CORE_ORDER else None


def upward_arrows(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            mine, theirs = rank_of(module), rank_of(target)
            if mine is not None and theirs is not None and theirs > mine:
                found.append(f"{module} imports {target}, which sits above it")
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_core_module_imports_another_in_a_circle():
    assert circles(core_imports(ROOT)) == []


def test_no_core_package_imports_one_that_sits_above_it():
    assert upward_arrows(core_imports(ROOT)) == []


def test_every_core_package_has_its_place_in_the_order_and_says_what_it_holds():
    packages = {p.parent.name: p for p in (ROOT / "core").glob("*/__init__.py")}
    assert sorted(packages) == sorted(CORE_ORDER)
    for name, init in packages.items():
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring and len(docstring) > 80, f"core/{name}/__init__.py says too little"


def test_core_itself_holds_at_most_a_dozen_modules_beside_its_packages():
    assert len(list((ROOT / "core").glob("*.py"))) <= 12


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        file = tmp_path / relative
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(source + "\n", encoding="utf-8")
    return tmp_path


def test_a_circle_through_an_import_inside_a_function_is_found(tmp_path):
    root = _tree(tmp_path, {
        "core/base/__init__.py": "", "core/record/__init__.py": "",
        "core/base/parsing.py": "def limits():\n    from core.base import errors",
        "core/base/errors.py": "from core.base.parsing import limits",
        "core/record/activity.py": "from core.base import errors",
    })
    assert circles(core_imports(root)) == [["core.base.errors", "core.base.parsing"]]


@pytest.mark.parametrize(("files", "arrow"), [
    ({"core/base/parsing.py": "def f():\n    from core.governance.accounts import MIN",
      "core/governance/accounts.py": ""},
     "core.base.parsing imports core.governance.accounts, which sits above it"),
    ({"core/allocation/policy.py": "from core.jobs import schedule", "core/jobs/schedule.py": ""},
     "core.allocation.policy imports core.jobs.schedule, which sits above it"),
    ({"core/jobs/schedule.py": "from core.database import connect", "core/database.py": ""},
     "core.jobs.schedule imports core.database, which sits above it"),
])
def test_an_import_of_a_package_above_is_named(tmp_path, files, arrow):
    root = _tree(tmp_path, {**files, "core/database.py": "from core.jobs import schedule",
                            "core/jobs/schedule.py": files.get("core/jobs/schedule.py", "")})
    assert upward_arrows(core_imports(root)) == [arrow]
