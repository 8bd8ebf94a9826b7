"""The Spark engine gives exactly the local engine's numbers (issue 13).

One Spark session (``local[2]``) for the whole run: the JVM starts once, in the one xdist
worker that takes the ``spark`` group. The tests skip, saying why, without pyspark or Java.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import DATA, GOLDEN, SPARK_MARKS, need, need_spark, one_line, run_cli
from tests.test_properties import READ_DAYS, Row, exports

need_spark()

from retainkit.pipeline import customer_report, kpi_report, read_orders  # noqa: E402
from retainkit.render_frames import frame_parquet  # noqa: E402
from retainkit.spark.session import SparkOptions  # noqa: E402

pytestmark = SPARK_MARKS
GOLDEN_CSV = GOLDEN / "shop_small.csv"
COMMANDS = (("kpis",), ("customers",), ("at-risk",), ("segments",), ("kpis", "--from", "2024-01-02"))


def on_both(*args: str) -> tuple[dict, dict]:
    local = run_cli(*args, "--format", "json")
    remote = run_cli(*args, "--format", "json", "--engine", "spark", "--quiet")
    assert local.code == 0, local.stderr
    assert remote.code == 0, remote.stderr
    return local.json(), remote.json()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_supported_command_gives_the_local_json_on_the_golden_example(command):
    local, remote = on_both(*command, GOLDEN_CSV)
    assert remote == local
    if command == ("kpis",):  # and so the hand-computed KPIs
        expected = json.loads((GOLDEN / "expected_kpis.json").read_text())["metrics"]
        assert {k: remote["metrics"][k] for k in expected} == pytest.approx(expected, abs=1e-3)


def test_csv_on_another_file_system_is_read_by_spark():
    """A URI (here file://, in production s3a://, abfss://, gs://) is read by Spark alone."""
    local = run_cli("kpis", GOLDEN_CSV, "--format", "json").json()
    remote = run_cli("kpis", GOLDEN_CSV.as_uri(), "--format", "json", "--engine", "spark", "--quiet")
    assert remote.code == 0, remote.stderr
    assert {**remote.json(), "files": None} == {**local, "files": None}


def test_a_path_spark_cannot_read_is_one_line(tmp_path):
    line = one_line(run_cli("kpis", tmp_path / "nowhere.parquet", "--engine", "spark"))
    assert "nowhere.parquet" in line


def test_quiet_is_quiet_from_the_start_of_the_jvm():
    """A cron job's stderr with --quiet: empty — no line of Java's or Spark's own as the JVM
    starts (a new process: the session of the tests is started already)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "retainkit", "kpis", str(GOLDEN_CSV), "--engine", "spark",
                           "--spark-master", "local[1]", "--quiet", "--format", "json"],
                          capture_output=True, text=True, check=False, timeout=900)
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)["metrics"] == run_cli("kpis", GOLDEN_CSV, "--format", "json").json()["metrics"]


def test_spark_that_cannot_start_is_one_line_and_quiet_says_where_java_spoke():
    """A master Spark refuses (a new process: the tests' session is started already)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "retainkit", "kpis", str(GOLDEN_CSV), "--engine", "spark",
                           "--spark-master", "nonsense://x", "--quiet"],
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("retainkit: error: --engine spark: cannot start Spark at nonsense")
    assert lines[0].endswith("without --quiet Java's own lines show why")


def test_no_java_is_one_line_saying_how_to_get_it(tmp_path):
    import os
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"  # a PATH with python and without java
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "SPARK_REMOTE")} | {"PATH": str(bin_dir)}
    done = subprocess.run([sys.executable, "-m", "retainkit", "kpis", str(GOLDEN_CSV), "--engine", "spark"],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "retainkit: error: --engine spark: Java was not found (no java on PATH, no JAVA_HOME) — Spark needs Java 17 "
        "or newer: on Debian/Ubuntu, apt-get install default-jre-headless"]


def test_a_malformed_spark_setting_is_one_line():
    line = one_line(run_cli("kpis", GOLDEN_CSV, "--engine", "spark", "--spark-conf", "no-equals-sign"))
    assert "--spark-conf 'no-equals-sign' is not KEY=VALUE" in line


def test_the_engine_and_spark_settings_come_from_the_config_file_too(tmp_path):
    config = tmp_path / "retainkit.toml"
    config.write_text('[options]\nengine = "spark"\nspark_conf = ["spark.executor.memory=1g", "oops"]\n')
    line = one_line(run_cli("kpis", GOLDEN_CSV, "--config", config))
    assert "--spark-conf 'oops' is not KEY=VALUE" in line
    config.write_text('[options]\nspark_conf = "spark.executor.memory=1g"\n')
    assert "must be a list of texts" in one_line(run_cli("kpis", GOLDEN_CSV, "--config", config))


def test_an_order_shared_by_two_customers_is_the_local_error(tmp_path):
    path = tmp_path / "shared.csv"
    path.write_text("order_id,customer_id,order_date,amount\n1,A,2024-01-01,5\n1,B,2024-01-01,6\n2,B,2024-02-01,7\n")
    local = one_line(run_cli("kpis", path))
    remote = one_line(run_cli("kpis", path, "--engine", "spark"))
    assert "order '1' belongs to customer" in local and "order '1' belongs to customer" in remote
    assert "(1 order ids are shared like this)" in remote


def test_an_order_id_typed_decomposed_is_the_same_order_as_locally(tmp_path):
    """Order ids compare in NFC on both engines: the decomposed spelling's line without a
    customer takes its order's customer (A), before sharding as after."""
    nfc = "HĐ-Nguyễn-1"
    path = tmp_path / "nfd.csv"
    path.write_text(f"order_id,customer_id,order_date,amount\n{nfc},A,2024-01-01,10\n"
                    f"{unicodedata.normalize('NFD', nfc)},,2024-01-01,5\nX,B,2024-02-01,7\n")
    local = read_orders(str(path))
    assert kpi_report(local)["metrics"]["revenue"] == 22 and local.quality.customer_filled_rows == 1
    for count in (2, 7):  # the line without a customer must reach A's shard
        assert kpi_report(read_orders(str(path), engine="spark", spark=shards(count))) == kpi_report(local)


def test_a_copy_in_a_parquet_folder_repeats_the_export_as_locally(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "lake"
    folder.mkdir()
    table = pa.table({"order_id": ["1", "2"], "customer_id": ["A", "B"], "order_date": ["2024-01-01", "2024-02-01"],
                      "amount": [10.0, 20.5]})
    pq.write_table(table, folder / "orders.parquet")
    pq.write_table(table, folder / "orders (1).parquet")
    local, remote = on_both("kpis", folder)
    assert local["data_quality"]["overlap_files"][0]["file"].endswith("orders (1).parquet")
    assert remote == local


def test_parquet_folders_with_rows_repeated_across_files_count_them_as_locally(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = {"order_id": ["1", "2", "3", "4"], "customer_id": ["A", "B", "A", "C"],
            "order_date": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-05"], "amount": [10.0, 20.5, 7.25, 3.0]}
    folder = tmp_path / "lake"
    folder.mkdir()
    pq.write_table(pa.table({k: v[:3] for k, v in rows.items()}), folder / "part-1.parquet")
    pq.write_table(pa.table({k: v[1:] for k, v in rows.items()}), folder / "part-2.parquet")
    local, remote = on_both("kpis", folder)
    assert remote["data_quality"]["overlap_rows"] == 2
    assert remote == local


def test_a_lake_in_the_real_export_shape_gives_the_local_json(tmp_path):
    """Timestamps, quantity × unit price, e-mail and code ids, guest orders, refunds as
    their own documents, products and referrals (benchmarks/generate.py), as three files."""
    import pyarrow.parquet as pq

    from benchmarks.generate import generate_real

    table = generate_real(3000, seed=11)
    lake = tmp_path / "lake"
    lake.mkdir()
    for part, start in enumerate(range(0, table.num_rows, 1000)):
        pq.write_table(table.slice(start, 1000), lake / f"part-{part}.parquet")
    for command in ("kpis", "customers"):
        local, remote = on_both(command, lake)
        assert remote == local


def test_a_spark_dataframe_is_an_input(spark):
    import pandas as pd

    frame = pd.read_csv(GOLDEN_CSV, dtype=str, keep_default_na=False).replace("", None)
    lines = spark.createDataFrame(frame)
    data = read_orders(lines)
    local = read_orders(str(GOLDEN_CSV))
    assert {**kpi_report(data), "files": []} == {**kpi_report(local), "files": []}
    assert customer_report(data).to_pandas().equals(customer_report(local))
    assert kpi_report(lines)["metrics"] == kpi_report(local)["metrics"]  # the report functions take it too


CDNOW, ONLINE_RETAIL = "cdnow/cdnow_master.csv", "online-retail/online_retail.parquet"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "command"), [
    (CDNOW, ("kpis",)), (CDNOW, ("trend", "--every", "quarter")), (CDNOW, ("cohorts",)), (CDNOW, ("segments",)),
    (CDNOW, ("predict", "--amount", "dollar_value", "--top", "20")),
    (CDNOW, ("at-risk", "--by", "value", "--amount", "dollar_value", "--top", "20")),
    (ONLINE_RETAIL, ("customers",)), (ONLINE_RETAIL, ("at-risk",)), (ONLINE_RETAIL, ("trend",)),
], ids=lambda v: v.split("/")[0] if isinstance(v, str) else " ".join(v))
def test_the_real_data_sets_give_the_local_json(name, command):
    local, remote = on_both(*command, need(DATA / name))
    assert remote == local


def shards(n: int) -> SparkOptions:
    return SparkOptions("local[2]", shards=n)


def export_csv(path: Path, rows: list[Row], *, repeated: int) -> Path:
    """``rows`` as a CSV export (empty cells for missing customers and referrers), with the
    first ``repeated`` rows written twice (exact duplicates)."""
    lines = ["order_id,customer_id,order_date,amount,referred_by"]
    for order_id, customer, day, amount, referrer in [*rows, *rows[:repeated]]:
        lines.append(f"{order_id},{customer or ''},{day.isoformat()},{amount},{referrer or ''}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("shard_count", [1, 2, 7, 64])
@settings(max_examples=2, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=exports(READ_DAYS), repeated=st.integers(0, 3), guest=st.booleans())
def test_any_sharding_gives_the_local_numbers(tmp_path, shard_count, rows, repeated, guest):
    """Random small exports — multi-line orders, refunds, referrals, duplicates, a line
    without a customer — give the local kpis document (data quality included) and customer
    table on 1, 2, 7 and 64 shards."""
    if guest:  # a line of an order without its customer: it takes the order's
        rows = [*rows, (rows[0][0], None, rows[0][2], "1.00", None)]
    path = export_csv(tmp_path / f"orders-{shard_count}.csv", rows, repeated=repeated)
    local = read_orders(str(path))
    remote = read_orders(str(path), engine="spark", spark=shards(shard_count))
    assert kpi_report(remote) == kpi_report(local)
    table = customer_report(local)
    held = customer_report(remote)  # rows held by Spark: only those asked for come over
    assert held.to_pandas().equals(table)
    folder = tmp_path / f"customers-{shard_count}"
    held.write_parquet(str(folder))
    assert parquet_rows(folder) == parquet_rows(frame_parquet(table))


def parquet_rows(source: Path | bytes) -> list[dict]:
    """The rows of a Parquet file (bytes) or folder (Spark's parts), by customer id, names as text."""
    import io

    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(source)) if isinstance(source, bytes) else ds.dataset(source).to_table()
    for index, field in enumerate(table.schema):
        if str(field.type).startswith("dictionary"):
            table = table.set_column(index, field.name, pc.cast(table.column(index), "string"))
    return table.sort_by("customer_id").to_pylist()


def test_customers_are_written_by_spark_as_a_parquet_folder(tmp_path):
    """``--output`` a folder Spark writes; the same rows and types as the local Parquet file."""
    local = tmp_path / "local.parquet"
    assert run_cli("customers", GOLDEN_CSV, "-o", local).code == 0
    for command, name in ((("customers",), "customers"), (("at-risk", "--top", "2"), "at-risk")):
        folder = tmp_path / name
        done = run_cli(*command, GOLDEN_CSV, "--engine", "spark", "--quiet", "--format", "parquet", "-o", folder)
        assert done.code == 0, done.stderr
        assert folder.is_dir() and list(folder.glob("*.parquet"))
    assert parquet_rows(tmp_path / "customers") == parquet_rows(local.read_bytes())
    again = run_cli("customers", GOLDEN_CSV, "--engine", "spark", "--quiet", "--format", "parquet", "-o",
                    tmp_path / "customers", "--top", "1")  # a folder written before is written over
    assert again.code == 0, again.stderr
    assert len(parquet_rows(tmp_path / "customers")) == 1
    at_risk = run_cli("at-risk", GOLDEN_CSV, "--top", "2", "--format", "json").json()
    assert sorted(r["customer_id"] for r in parquet_rows(tmp_path / "at-risk")) == sorted(
        r[0] for r in at_risk["rows"])


def test_ranks_over_many_distinct_values_are_found_range_by_range(monkeypatch):
    """More distinct values than come to the driver at once: split into ranges, searched
    range by range, and still exactly the local ranks, VIPs and top-20 % share."""
    import retainkit.spark.ranks as ranks

    monkeypatch.setattr(ranks, "HISTOGRAM_ROWS", 3)
    monkeypatch.setattr(ranks, "SPLITS", 2)
    for command in (("kpis",), ("customers", "--sort", "rfm_segment"), ("at-risk",)):
        local, remote = on_both(*command, GOLDEN_CSV)
        assert remote == local


def test_a_terminal_table_brings_over_only_the_rows_it_shows():
    local = run_cli("customers", GOLDEN_CSV, "--top", "3", "--sort", "revenue")
    remote = run_cli("customers", GOLDEN_CSV, "--top", "3", "--sort", "revenue", "--engine", "spark", "--quiet")
    assert remote.code == 0, remote.stderr
    assert remote.stdout == local.stdout


@pytest.mark.parametrize("bad", ["amount", "date", "infinite"])
def test_a_bad_value_is_named_by_file_and_line_as_locally(tmp_path, bad):
    """A value the rules cannot read — found on the driver (text amounts and dates, decided
    over the whole column) or in a shard (a number that is not finite) — is the local error
    line: the file, the line or row, the column and the value."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if bad == "infinite":
        path = tmp_path / "lake.parquet"
        pq.write_table(pa.table({"customer_id": ["A", "B", "C"], "order_date": ["2024-01-01"] * 3,
                                 "amount": [1.0, float("inf"), 3.0]}), path)
    else:
        path = tmp_path / "orders.csv"
        value = "abc" if bad == "amount" else "2024-13-45"
        cells = f"2024-01-02,{value}" if bad == "amount" else f"{value},6"
        path.write_text(f"customer_id,order_date,amount\nA,2024-01-01,5\nB,{cells}\nC,2024-01-03,7\n")
    local = one_line(run_cli("kpis", path))
    assert one_line(run_cli("kpis", path, "--engine", "spark", "--quiet")) == local
    assert ", line 3, column" in local or ", row 2, column" in local


def test_text_columns_pandas_holds_in_arrow_chunks_go_back_to_spark():
    """A shard's table read from several Arrow batches: its text columns are chunked."""
    import pyarrow as pa

    from retainkit.spark.tables import batch

    table = pa.concat_tables([pa.table({"customer_id": ["a", "b"]}), pa.table({"customer_id": ["c"]})])
    assert batch(table.to_pandas(), ["customer_id"]).column(0).to_pylist() == ["a", "b", "c"]
