"""A progress bar on a terminal for long runs, never in pipes or with --quiet (issue 10)."""

from __future__ import annotations

import io

from rich.console import Console

from retainkit.cli_progress import Stages
from tests.conftest import GOLDEN, run_cli


def test_stages_draw_on_a_terminal_and_vanish():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    stages = Stages()
    stages.show(console)
    for name in ("Reading 1 input", "Normalising 25 rows", "Computing"):
        stages.step(name)
    stages.done()
    text = out.getvalue()
    assert "Reading 1 input" in text or "Computing" in text  # drawn while it ran


def test_hidden_stages_print_nothing():
    stages = Stages()  # never shown: a pipe, cron mail, --quiet or a small input
    stages.step("Reading")
    stages.done()


def test_no_progress_in_pipes():
    run = run_cli("kpis", GOLDEN / "shop_small.csv", "--format", "json", "-q")
    assert run.code == 0 and run.stderr == ""
