"""Shared helpers: paths to ../shared, a CLI runner, and tiny canonical frames."""

from __future__ import annotations

import json
import shutil
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


def need_spark() -> None:
    """Skip the calling test module, at import, where Spark cannot run: without pyspark or Java."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'retainkit[spark]')")
    if not shutil.which("java"):
        pytest.skip("Java is not installed (Spark needs Java 17 or newer)", allow_module_level=True)


#: The marks of a Spark test module: run in the xdist worker of the ``spark`` group, with the
#: one session of the run (the JVM starts once).
SPARK_MARKS = [pytest.mark.spark, pytest.mark.xdist_group("spark"), pytest.mark.usefixtures("spark")]


@pytest.fixture(scope="session")
def spark():
    """The one Spark session of the run: two cores, two shuffle partitions, no UI."""
    from retainkit.spark.session import SparkOptions, get_session

    session = get_session(SparkOptions("local[2]", conf=(
        "spark.sql.shuffle.partitions=2", "spark.default.parallelism=2", "spark.driver.memory=1g",
        "spark.sql.adaptive.enabled=false")))
    session.sparkContext.setLogLevel("ERROR")
    return session


#: Ten customers of different rhythms (weekly, bimonthly, once …) over 2024, for the prediction models.
TEN_CUSTOMERS = """customer_id,order_date,amount
a,2024-01-02,20
a,2024-01-09,35
a,2024-01-16,15
a,2024-01-23,30
a,2024-01-30,25
b,2024-01-05,40
b,2024-03-05,60
b,2024-05-06,50
b,2024-07-04,45
b,2024-09-03,70
b,2024-11-04,55
b,2024-12-20,65
c,2024-01-10,10
d,2024-02-01,80
d,2024-02-15,20
e,2024-03-01,30
f,2024-01-20,15
f,2024-06-20,25
f,2024-12-18,35
g,2024-04-01,50
h,2024-02-10,12
h,2024-02-12,18
h,2024-02-13,30
h,2024-02-20,22
i,2024-05-15,45
j,2024-01-03,60
j,2024-12-30,40
"""
#: The same orders without the amount column.
TEN_CUSTOMERS_WITHOUT_AMOUNTS = "\n".join(line.rsplit(",", 1)[0] for line in TEN_CUSTOMERS.splitlines()) + "\n"
