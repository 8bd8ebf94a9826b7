"""The docs stay true: every command and KPI documented, README output reproducible."""

from __future__ import annotations

import re

import pytest

from retainkit.cli import app
from retainkit.metrics import METRICS
from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
METRICS_DOC = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "examples" / "orders.csv"


def test_readme_opens_with_install_and_test_commands():
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    assert "pip install . && retainkit kpis examples/orders.csv" in blocks[0]
    assert 'pip install ".[test]" && pytest' in blocks[1]


@pytest.mark.parametrize("command", [c.name or c.callback.__name__ for c in app.registered_commands])
def test_every_command_is_in_the_readme(command):
    assert f"`retainkit {command} FILE...`" in README


@pytest.mark.parametrize("key", list(METRICS))
def test_every_kpi_is_defined_in_the_docs(key):
    assert f"| `{key}` |" in METRICS_DOC


def test_readme_table_output_matches_the_example():
    shown = README.split("$ retainkit kpis examples/orders.csv\n", 1)[1].split("```", 1)[0]
    actual = run_cli("kpis", EXAMPLE).stdout
    normalise = lambda text: [" ".join(line.split()) for line in text.splitlines() if line.strip()]  # noqa: E731
    shown_lines = [line for line in normalise(shown) if not line.startswith("retainkit: alert")]
    actual_lines = normalise(actual)
    for line in shown_lines:
        assert line in actual_lines, line


def test_readme_json_numbers_match_the_example():
    document = run_cli("kpis", EXAMPLE, "--format", "json").json()
    for key in ("customers", "repeat_customer_rate", "churn_rate", "customer_lifetime_value"):
        assert f'"{key}": {document["metrics"][key]}' in README
