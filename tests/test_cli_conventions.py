"""The command line behaves like csvkit, sqlite-utils, xsv, duckdb: --version, -h, -q, -o -,
formats from the --output suffix, --no-header, one-line usage errors, config files for every
option (issue 9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from retainkit.cli import app
from retainkit.cli_runtime import CONFIG_KEYS
from tests.conftest import GOLDEN, Run, run_cli, write_csv

SHOP = GOLDEN / "shop_small.csv"
COMMANDS = ["kpis", "customers", "at-risk", "segments", "trend", "cohorts", "report", "predict", "inspect"]


def run_env(*args, env: dict[str, str]) -> Run:
    return Run(CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False))


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    """Tests never read the machine's own ~/.config/retainkit/config.toml."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("RETAINKIT_CONFIG", raising=False)


def test_version_and_short_help():
    from retainkit import __version__

    run = run_cli("--version")
    assert run.code == 0 and run.stdout == f"retainkit {__version__}\n"
    assert run_cli("-h").code == 0 and "kpis" in run_cli("-h").stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example_and_no_type_placeholders(command):
    run = run_cli(command, "-h")
    assert run.code == 0
    assert f"Example: retainkit {command}" in run.stdout
    for placeholder in ("<bool>", "<str>", "<int>", "<float>", "<list", "<path>", "SPEC §"):
        assert placeholder not in run.stdout, placeholder
    assert "-q, --quiet" in run.stdout and "-o, --output FILE" in run.stdout and "--no-header" in run.stdout


def test_help_and_version_import_neither_pandas_nor_pyarrow():
    code = ("import sys, runpy; sys.argv = ['retainkit', '{arg}']\n"
            "try:\n    runpy.run_module('retainkit', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules))")
    for arg in ("--help", "--version"):
        out = subprocess.run([sys.executable, "-c", code.format(arg=arg)], capture_output=True, text=True, check=True)
        assert out.stdout.strip().splitlines()[-1] == "[]", (arg, out.stdout)


@pytest.mark.parametrize(("suffix", "check"), [
    (".json", lambda text: json.loads(text)["columns"][0] == "customer_id"),
    (".jsonl", lambda text: json.loads(text.splitlines()[0])["customer_id"] == "A"),
    (".csv", lambda text: text.startswith("customer_id,first_order")),
    (".tsv", lambda text: text.startswith("customer_id\tfirst_order")),
    (".md", lambda text: text.startswith("| customer_id | first_order")),
])
def test_the_output_suffix_decides_the_format(tmp_path, suffix, check):
    out = tmp_path / f"customers{suffix}"
    assert run_cli("customers", SHOP, "--output", out).code == 0
    text = out.read_text()
    assert check(text) and "…" not in text and "more rows" not in text
    assert len([line for line in text.splitlines() if line.strip()]) >= 10 or suffix == ".json"


def test_parquet_and_kpis_json_by_suffix(tmp_path):
    import pyarrow.parquet as pq

    assert run_cli("customers", SHOP, "-o", tmp_path / "c.parquet").code == 0
    assert pq.read_table(tmp_path / "c.parquet").num_rows == 10
    assert run_cli("kpis", SHOP, "-o", tmp_path / "k.json").code == 0
    assert json.loads((tmp_path / "k.json").read_text())["metrics"]["customers"] == 10


def test_a_suffix_that_contradicts_the_format_is_an_error(tmp_path):
    run = run_cli("customers", SHOP, "--format", "csv", "--output", tmp_path / "c.json")
    assert run.code == 2 and "names json but --format is csv" in run.stderr
    assert not (tmp_path / "c.json").exists()
    run = run_cli("kpis", SHOP, "-o", tmp_path / "k.parquet")
    assert run.code == 2 and "this command writes table, json, csv, tsv, md" in run.stderr
    run = run_cli("kpis", SHOP, "-o", tmp_path / "k.pdf")
    assert run.code == 2 and "cannot tell the format from '.pdf'" in run.stderr


def test_dash_is_stdout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = run_cli("kpis", SHOP, "-o", "-", "-f", "json")
    assert run.code == 0 and json.loads(run.stdout)["metrics"]["customers"] == 10
    assert not (tmp_path / "-").exists()


def test_no_header_appends_rows(tmp_path):
    first = run_cli("kpis", SHOP, "--format", "csv").stdout
    again = run_cli("kpis", SHOP, "--format", "csv", "--no-header").stdout
    assert first.splitlines()[1:] == again.splitlines() and len(again.splitlines()) == 1
    rows = run_cli("customers", SHOP, "-f", "tsv", "--no-header").stdout.splitlines()
    assert len(rows) == 10 and rows[0].startswith("A\t")


def test_quiet_silences_warnings_and_alerts_not_exit_codes(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "a.csv", SHOP.read_text())
    write_csv(folder / "b.csv", SHOP.read_text())
    loud = run_cli("kpis", folder, "--fail-on-alert", "-f", "json")
    quiet = run_cli("kpis", folder, "--fail-on-alert", "-f", "json", "-q")
    assert loud.code == quiet.code == 1
    assert "warning:" in loud.stderr and "alert:" in loud.stderr
    assert quiet.stderr == "" and quiet.stdout == loud.stdout
    assert run_cli("report", SHOP, "--quiet", "--fail-on-alert").stderr == ""


@pytest.mark.parametrize(("args", "line"), [
    (["trend", SHOP, "--every", "fortnight"], "--every 'fortnight' is not one of: week, month, quarter, year"),
    (["kpis", SHOP, "--churn-window", "abc"], "--churn-window 'abc' is not a whole number"),
    (["kpis", SHOP, "--churn-alert", "x"], "--churn-alert 'x' is not a number"),
    (["kpis", SHOP, "--churn-alert", "5"], "--churn-alert 5 is out of range: from 0 to 1 (a fraction: 0.05 is 5 %)"),
    (["kpis", SHOP, "--margin", "nan"], "--margin nan is not a finite number"),
    (["customers", SHOP, "--inactive-days", "-3"], "--inactive-days -3 is too small: at least 0"),
    (["kpis", SHOP, "--bogus"], "--bogus"),
    (["kpis"], "Missing argument 'FILE'"),
])
def test_usage_errors_are_one_plain_line(args, line):
    run = run_cli(*args)
    assert run.code == 2
    assert run.stderr.count("\n") == 1 and line in run.stderr, run.stderr
    assert "Input should" not in run.stderr and "╭" not in run.stderr


def test_every_option_is_a_config_key():
    for key in ("inactive_days", "lost_days", "vip_top", "churn_window", "churn_alert", "margin", "horizon",
                "time_unit", "tz", "decimal", "dedupe", "sheet", "every", "top", "sort", "format", "quiet"):
        assert key in CONFIG_KEYS, key


def test_config_files_in_order_and_the_command_line_wins(tmp_path, monkeypatch):
    (tmp_path / "xdg" / "retainkit").mkdir(parents=True)
    (tmp_path / "xdg" / "retainkit" / "config.toml").write_text("[options]\ninactive_days = 10\nvip_top = 0.5\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "retainkit.toml").write_text("[options]\ninactive_days = 20\n")

    def at_risk_count(*args, env=None):
        run = run_env("kpis", SHOP, "-f", "json", *args, env=env or {})
        assert run.code == 0, run.stderr
        return run.json()["act_on_this"]

    project = at_risk_count()  # the project file (20 days) over the user's (10), the user's vip_top stays
    assert project["vip_customers"] == 4  # ⌈0.5 · 7⌉ = 4 of the 7 with revenue in the last 365 days
    given = at_risk_count("--inactive-days", "500")  # the command line wins: nobody is at risk
    assert given["at_risk_customers"] == 0 and project["at_risk_customers"] >= 1
    other = tmp_path / "other.toml"
    other.write_text("[options]\nvip_top = 0.05\n")
    assert at_risk_count(env={"RETAINKIT_CONFIG": str(other)})["vip_customers"] == 1


@pytest.mark.parametrize(("text", "message"), [
    ("[options]\nchurn_window = 'abc'\n", "churn_window = 'abc' must be a whole number"),
    ("[options]\nchurn_alert = '0.05'\n", "churn_alert = '0.05' must be a number"),
    ("[options]\nchurn_window = 30.5\n", "churn_window = 30.5 must be a whole number"),
    ("[options]\nchurn_window = true\n", "churn_window = True must be a whole number"),
    ("[options]\nchurn_alert = 5\n", "churn_alert = 5 is out of range"),
    ("[options]\nencoding = 8\n", None),
    ("[options]\ninactive_dayz = 3\n", "unknown key 'inactive_dayz'"),
    ("[options]\nevery = 'fortnight'\n", None),
])
def test_bad_config_values_are_one_line(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    run = run_cli("kpis", SHOP, "--config", config)
    if message is None:  # taken as text: an error later, still exit 2 or a value of another command
        assert run.code in (0, 1, 2) and "internal error" not in run.stderr
        return
    assert run.code == 2 and message in run.stderr and str(config) in run.stderr


@pytest.mark.parametrize(("command", "text", "message"), [
    ("kpis", "[options]\ndedupe = 'yes'\n", "dedupe = 'yes' must be true or false"),
    ("trend", "[options]\nevery = 'fortnight'\n", "every = 'fortnight' must be one of week, month, quarter, year"),
    ("kpis", "[options]\ntz = ['UTC']\n", "tz = ['UTC'] must be text in quotes"),
    ("kpis", "[options]\nchurn_alert = nan\n", "churn_alert = nan is not a finite number"),
    ("kpis", "[options]\ninactive_days = -1\n", "inactive_days = -1 is too small: at least 0"),
])
def test_config_values_checked_as_the_command_line_checks_them(tmp_path, command, text, message):
    config = tmp_path / "c.toml"
    config.write_text(text)
    run = run_cli(command, SHOP, "--config", config)
    assert run.code == 2 and message in run.stderr and run.stderr.count("\n") == 1, run.stderr



@pytest.mark.parametrize("columns", ["0", "", "wide", "²", "-3"])
def test_a_columns_variable_that_is_no_width_is_ignored(columns):
    """``COLUMNS=0`` (some job runners export it when no terminal size is known) printed every
    table 0 characters wide — nothing — and exited 0. It counts as unset: 80 in a pipe."""
    env = {**os.environ, "COLUMNS": columns}
    done = subprocess.run([sys.executable, "-m", "retainkit", "kpis", str(GOLDEN / "shop_small.csv")],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "Retention KPIs 2023-02-14" in done.stdout and "Repeat customer rate" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
