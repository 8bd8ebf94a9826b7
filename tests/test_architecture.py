"""The layout shows the architecture: data flows one way, cli → load → normalise → the
reductions → metrics/customers/cohorts/models → the output layer, and no module grows past
what one person can hold in mind (issue 9)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "retainkit"
#: The output layer: renders results it is given, imports nothing of the library's compute.
OUTPUT = {"output", "render", "render_frames", "render_inspect", "render_kpis", "render_locale", "render_predict",
          "render_charts_predict", "render_report", "render_width"}
#: Modules any layer may use: errors, JSON-ready values, defaults, text made safe to show.
SHARED = {"errors", "values", "defaults", "safe_text"}
#: The command line: it wires the layers together (``report_worker`` too: the report's
#: second process, which computes the model section and draws its charts).
CLI = {"cli", "cli_options", "cli_runtime", "__main__", "__init__", "report_worker", "process_setup"}
MAX_LINES = 420


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def name_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def runtime_imports(path: Path) -> set[str]:
    """retainkit modules imported at run time (not under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(node) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
               and isinstance(stmt.test, ast.Name) and stmt.test.id == "TYPE_CHECKING" for node in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("retainkit"):
            parts = node.module.split(".")
            if len(parts) == 1:
                found.update(alias.name for alias in node.names)
            else:
                found.add(parts[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("retainkit."))
    return found


@pytest.mark.parametrize("path", modules(), ids=name_of)
def test_no_module_is_too_long(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name_of(path)} has {lines} lines"


@pytest.mark.parametrize("path", [p for p in modules() if name_of(p) in OUTPUT], ids=name_of)
def test_the_output_layer_imports_no_compute(path):
    allowed = OUTPUT | SHARED | {"templates"}
    assert runtime_imports(path) <= allowed, runtime_imports(path) - allowed


@pytest.mark.parametrize("path", [p for p in modules() if name_of(p).split(".")[0] not in OUTPUT | CLI], ids=name_of)
def test_the_library_imports_neither_the_output_layer_nor_the_cli(path):
    assert not runtime_imports(path) & (OUTPUT | CLI - {"__init__"}), runtime_imports(path) & (OUTPUT | CLI)
