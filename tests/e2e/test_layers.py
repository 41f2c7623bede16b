"""The package's layers import only downward: cli -> tools -> studies -> probes -> pipeline -> analysis -> evaluation
-> methods -> data -> core (README's file tree), checked on every import statement of every
module, function-level imports included (they hide a dependency, they do not remove it)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "polyunlearn"
LAYERS = (
    "core",
    "data",
    "methods",
    "evaluation",
    "analysis",
    "pipeline",
    "probes",
    "studies",
    "tools",
    "cli",
)  # bottom to top


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "polyunlearn" and parts[1] in LAYERS else None


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every polyunlearn import in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from polyunlearn import studies` names the layer in the alias
            if node.module == "polyunlearn":
                found += [(node.lineno, f"polyunlearn.{a.name}") for a in node.names]
    return [(line, m) for line, m in found if m.startswith("polyunlearn")]


def upward_imports() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = path.relative_to(PACKAGE).parts[0]
        if here not in LAYERS:
            continue
        for line, module in imports(path):
            there = layer_of(module)
            if there is not None and LAYERS.index(there) > LAYERS.index(here):
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {module} ({here} -> {there})")
    return bad


def test_every_layer_folder_is_a_package_and_listed():
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.glob("*.py")))
    assert folders == sorted(LAYERS), "a package folder that is not in the layer order (or a layer without code)"
    for name in folders:
        init = PACKAGE / name / "__init__.py"
        assert init.is_file() and ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), (
            f"{name}/__init__.py must exist and say what the layer is"
        )


def test_no_import_runs_upward():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a core module importing the CLI is reported, with its line."""
    fake = tmp_path / "polyunlearn"
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "x.py").write_text("import os\n\ndef f():\n    from polyunlearn.cli.root import app\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert upward_imports() == ["core/x.py:4 imports polyunlearn.cli.root (core -> cli)"]
