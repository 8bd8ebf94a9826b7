"""Shared helpers: paths to ../shared, a CLI runner, and tiny canonical frames."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from retainkit.cli import app

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
#: The hand-computed golden example (a copy of ``../shared/golden``, kept with the tests so a
#: bare clone passes; ``test_golden_copy_is_current`` checks it against the original when present).
GOLDEN = ROOT / "tests" / "golden"
DATA = SHARED / "data"


class Run:
    def __init__(self, result):
        self.result = result
        self.code = result.exit_code
        self.stdout = result.stdout
        self.stderr = result.stderr

    def json(self):
        return json.loads(self.stdout)


def run_cli(*args: str, stdin: bytes | str | None = None) -> Run:
    """Invoke ``retainkit ARGS`` in-process; stdout and stderr kept apart."""
    return Run(CliRunner().invoke(app, [str(a) for a in args], input=stdin, catch_exceptions=False))


@pytest.fixture
def cli():
    return run_cli


def orders_frame(rows: list[tuple], *, referrals: bool = False) -> pd.DataFrame:
    """Canonical orders frame from (customer, 'YYYY-MM-DD', amount[, is_refund[, referred_by]]) tuples."""
    customers = [r[0] for r in rows]
    frame = pd.DataFrame(
        {
            "customer_id": pd.Categorical(customers),
            "order_date": pd.to_datetime([r[1] for r in rows]).astype("datetime64[s]"),
            "amount": [float(r[2]) for r in rows],
            "is_refund": [bool(r[3]) if len(r) > 3 else False for r in rows],
        }
    )
    if referrals:
        frame["referred_by"] = pd.Categorical([r[4] if len(r) > 4 else None for r in rows])
    return frame


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def need(path: Path) -> Path:
    """Skip (with the reason) when a large shared data file is absent."""
    if not path.exists():
        pytest.skip(f"{path} is not present beside the checkout")
    return path


def one_line(run, code=2):
    """The single stderr line of a run that exited with ``code`` (and no traceback)."""
    assert run.code == code, (run.code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert lines[0].startswith("retainkit: error: ")
    return lines[0]
