"""The JSON Schemas of each command's JSON output (issue 9 item 2, SPEC §7): valid draft 2020-12
schemas, shipped in the package, and every command's output on the golden example and on
awkward tiny inputs conforms to them."""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from retainkit.customers import COLUMNS as CUSTOMER_COLUMNS
from retainkit.customers import LEVEL_NAMES, SEGMENTS
from retainkit.metrics import KPIS, METRICS
from retainkit.normalise import DataQuality
from retainkit.pipeline import AT_RISK_COLUMNS, AT_RISK_VALUE_COLUMNS
from retainkit.schemas import COMMANDS, DIALECT, load_schema, schema_path, validate
from tests.conftest import GOLDEN, ROOT, TEN_CUSTOMERS, TEN_CUSTOMERS_WITHOUT_AMOUNTS, run_cli

SCHEMA_DIR = ROOT / "retainkit" / "schemas"
#: SPEC §3: customer-count rates lie in [0, 1]; churn_rate_net is at most 1.
COUNT_RATES = ("repeat_customer_rate", "returning_customer_rate", "retention_rate", "churn_rate",
               "annual_churn_rate", "referral_rate")


def validator(command: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(command))


def errors(document, command: str) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator(command).iter_errors(document)]


# ---------------------------------------------------------------- the files


@pytest.mark.parametrize("command", COMMANDS)
def test_each_schema_is_a_valid_draft_2020_12_schema(command):
    schema = load_schema(command)
    assert schema["$schema"] == DIALECT
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"urn:retainkit:schema:{command}"
    assert schema["title"].startswith(f"retainkit {command} ")
    # Self-contained: every $ref points inside the file, so any validator can use it alone.
    assert all(ref.startswith("#/$defs/") for ref in _refs(schema)), _refs(schema)


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_schemas_are_package_data():
    """Each schema is read through importlib.resources, and pyproject ships the files."""
    on_disk = sorted(p.name for p in SCHEMA_DIR.glob("*.json"))
    assert on_disk == sorted(f"{c}.schema.json" for c in COMMANDS)
    for command in COMMANDS:
        resource = schema_path(command)
        assert resource.is_file() and json.loads(resource.read_text(encoding="utf-8")) == load_schema(command)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    assert (SCHEMA_DIR / "__init__.py").is_file()  # a package, found by setuptools' package discovery
    assert any(fnmatch.fnmatch("retainkit.schemas", p) for p in setuptools["packages"]["find"]["include"])
    globs = setuptools["package-data"]["retainkit"]
    for name in on_disk:
        assert any(fnmatch.fnmatch(f"schemas/{name}", g) for g in globs), (name, globs)
    assert "jsonschema" in " ".join(pyproject["project"]["optional-dependencies"]["test"])


def test_load_schema_names_commands_as_typed():
    assert load_schema("at_risk") == load_schema("at-risk")
    assert load_schema("kpis") is not load_schema("kpis")  # a fresh dict: callers may change it
    with pytest.raises(ValueError, match=r"no JSON Schema for 'kpi'.*kpis"):
        load_schema("kpi")


def test_definitions_shared_by_several_schemas_are_the_same_in_each():
    shared: dict[str, dict] = {}
    for command in COMMANDS:
        for name, definition in load_schema(command)["$defs"].items():
            if name in ("date", "nullable_date", "notes", "data_quality", "window"):
                assert shared.setdefault(name, definition) == definition, (command, name)


def test_kpis_schema_lists_every_metric_with_the_spec_bounds():
    metrics = load_schema("kpis")["$defs"]["metrics"]
    assert list(metrics["properties"]) == list(METRICS)
    assert metrics["required"] == list(METRICS) and metrics["additionalProperties"] is False
    for key in COUNT_RATES:
        assert (metrics["properties"][key]["minimum"], metrics["properties"][key]["maximum"]) == (0, 1), key
    assert metrics["properties"]["churn_rate_net"]["maximum"] == 1
    assert "minimum" not in metrics["properties"]["churn_rate_net"]  # negative when the base grows
    for key in ("returning_revenue_share", "top_20pct_revenue_share"):  # refunds can take them out of [0, 1]
        assert "minimum" not in metrics["properties"][key] and "maximum" not in metrics["properties"][key]


def test_kpis_schema_agrees_with_the_metric_registry():
    """Each KPI's type follows its kind, and the schema's bounds are at least the registry's."""
    properties = load_schema("kpis")["$defs"]["metrics"]["properties"]
    for key, spec in KPIS.items():
        schema = properties[key]
        expected = {"count": "integer", "alert": "boolean"}.get(spec.kind, "number")
        assert expected in schema["type"], key
        if spec.low is not None:
            assert schema.get("minimum", schema.get("exclusiveMinimum")) >= spec.low, key
        if spec.high is not None:
            assert schema["maximum"] <= spec.high, key


def test_data_quality_schema_has_every_field_of_the_record():
    names = list(DataQuality().as_dict())  # every field but the renderer's currency
    assert names == [f.name for f in dataclasses.fields(DataQuality) if f.name != "currency"]
    definition = load_schema("kpis")["$defs"]["data_quality"]
    assert list(definition["properties"]) == names and definition["required"] == names
    assert definition["additionalProperties"] is False


def test_fixed_columns_are_the_code_s_columns():
    assert load_schema("customers")["properties"]["columns"]["const"] == list(CUSTOMER_COLUMNS)
    at_risk = load_schema("at-risk")["$defs"]
    assert at_risk["customers"]["properties"]["columns"]["const"] == list(AT_RISK_COLUMNS)
    by_value = at_risk["customers_by_value"]["properties"]["columns"]["const"]
    assert by_value == [*AT_RISK_COLUMNS, *AT_RISK_VALUE_COLUMNS]
    names = set(SEGMENTS) | set(LEVEL_NAMES.values())
    segments = load_schema("segments")["properties"]["rows"]["items"]["prefixItems"]
    assert set(segments[1]["enum"]) == names


def test_the_schemas_reject_what_the_spec_forbids():
    document = output(("kpis",), GOLDEN / "shop_small.csv")
    assert errors(document, "kpis") == []
    for change, where in [
        (lambda d: d["metrics"].pop("churn_rate"), "'churn_rate' is a required property"),
        (lambda d: d["metrics"].update(surprise=1), "Additional properties"),
        (lambda d: d["metrics"].update(retention_rate=1.5), "greater than the maximum of 1"),
        (lambda d: d["metrics"].update(churn_rate_net=1.01), "greater than the maximum of 1"),
        (lambda d: d["metrics"].update(customers=2.5), "is not of type 'integer'"),
        (lambda d: d["metrics"].update(revenue="1,495.00"), "is not of type 'number', 'null'"),
        (lambda d: d["period"].update(to="31/12/2024"), "does not match"),
        (lambda d: d["data_quality"].update(rows=-1), "less than the minimum of 0"),
    ]:
        broken = json.loads(json.dumps(document))
        change(broken)
        found = errors(broken, "kpis")
        assert any(where in e for e in found), (where, found)
    customers = output(("customers",), GOLDEN / "shop_small.csv")
    assert errors(customers, "customers") == []
    for change, where in [
        (lambda d: d["columns"].pop(), "was expected"),
        (lambda d: d["rows"][0].pop(), "is too short"),
        (lambda d: d["rows"][0].append(1), "Expected at most 21 items"),
        (lambda d: d["rows"][0].__setitem__(1, "10/03/2023"), "does not match"),
        (lambda d: d["rows"][0].__setitem__(13, 6), "greater than the maximum of 5"),
        (lambda d: d["rows"][0].__setitem__(16, "Sleepy"), "is not one of"),
        (lambda d: d.pop("data_quality"), "'data_quality' is a required property"),
    ]:
        broken = json.loads(json.dumps(customers))
        change(broken)
        found = errors(broken, "customers")
        assert any(where in e for e in found), (where, found)
    with pytest.raises(jsonschema.ValidationError):
        validate({"columns": ["customer_id"], "rows": []}, "customers")


# ---------------------------------------------------------------- every command's output


NO_AMOUNT = "no-amount.csv"
ONE_CUSTOMER = "one-customer.csv"
FOLDER = "overlapping-folder"
UNREADABLE_DATES = "ambiguous-dates.csv"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Awkward tiny inputs: the golden example without its amount column; one customer; a
    folder holding the golden file and an overlapping copy of its first rows; dates whose
    day/month order cannot be settled (inspect reports the problem)."""
    folder = tmp_path_factory.mktemp("inputs")
    lines = (GOLDEN / "shop_small.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    drop = header.index("amount")
    # Without amounts a refund is only a C-prefixed order id; the other rows stay orders.
    (folder / NO_AMOUNT).write_text(
        "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in lines) + "\n",
        encoding="utf-8")
    (folder / ONE_CUSTOMER).write_text(
        "customer_id,order_date,amount\n"
        "solo,2024-01-05,10\nsolo,2024-02-11,20\nsolo,2024-02-11,5\nsolo,2024-04-20,15\nsolo,2024-06-10,30\n",
        encoding="utf-8")
    both = folder / FOLDER
    both.mkdir()
    (both / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (both / "orders (1).csv").write_text("\n".join(lines[:12]) + "\n", encoding="utf-8")
    (folder / "ten.csv").write_text(TEN_CUSTOMERS, encoding="utf-8")
    (folder / "ten-no-amount.csv").write_text(TEN_CUSTOMERS_WITHOUT_AMOUNTS, encoding="utf-8")
    (folder / UNREADABLE_DATES).write_text(
        "customer_id,order_date,amount\na,03/04/2024,10\nb,05/06/2024,20\na,07/08/2024,5\n", encoding="utf-8")
    return {"golden": GOLDEN / "shop_small.csv", "no amount": folder / NO_AMOUNT,
            "one customer": folder / ONE_CUSTOMER, "overlapping folder": both,
            "unreadable dates": folder / UNREADABLE_DATES, "ten customers": folder / "ten.csv",
            "ten customers, no amount": folder / "ten-no-amount.csv"}


EVERYWHERE = ("golden", "no amount", "one customer", "overlapping folder")
WITH_PRODUCTS = ("golden", "no amount", "overlapping folder")
#: (schema, command line after the input, inputs): every JSON output and layout.
CASES = [
    ("kpis", ("kpis",), EVERYWHERE),
    # --from 2024-01-02: a 365-day churn window whose base window starts before the data: null KPIs.
    ("kpis", ("kpis", "--from", "2024-01-02"), EVERYWHERE),
    ("kpis", ("kpis", "--churn-window", "30", "--margin", "0.4"), ("golden",)),
    ("customers", ("customers",), EVERYWHERE),
    ("at-risk", ("at-risk",), EVERYWHERE),
    ("at-risk", ("at-risk", "--products"), WITH_PRODUCTS),
    ("at-risk", ("at-risk", "--by", "value"), ("golden", "ten customers")),
    ("segments", ("segments",), EVERYWHERE),
    ("trend", ("trend",), EVERYWHERE),
    ("trend", ("trend", "--every", "week", "--from", "2024-01-02"), ("golden", "one customer")),
    ("trend", ("trend", "--every", "quarter"), ("golden",)),
    ("cohorts", ("cohorts",), EVERYWHERE),
    ("cohorts", ("cohorts", "--layout", "wide"), EVERYWHERE),
    ("cohorts", ("cohorts", "--layout", "wide", "--metric", "revenue", "--every", "quarter", "--from", "2024-01-02"),
     ("golden", "one customer")),
    ("cohorts", ("cohorts", "--metric", "orders", "--every", "year"), ("golden", "no amount")),
    ("report", ("report",), EVERYWHERE),
    ("report", ("report", "--every", "month"), ("golden", "no amount")),
    ("predict", ("predict", "--penalizer", "0.01"), ("golden", "no amount", "overlapping folder")),
    ("predict", ("predict", "--penalizer", "0.01", "--holdout", "2024-07-01"),
     ("ten customers", "ten customers, no amount")),
    ("inspect", ("inspect",), (*EVERYWHERE, "unreadable dates")),
]
PARAMS = [pytest.param(schema, args, name, id=f"{' '.join(args)} [{name}]")
          for schema, args, names in CASES for name in names]


@functools.cache
def output(args: tuple[str, ...], path: Path) -> dict:
    """``retainkit ARGS[0] PATH ARGS[1:] --format json``, parsed (each run once per module)."""
    run = run_cli(args[0], path, *args[1:], "--format", "json")
    # inspect prints what it could read, then exits 2 naming the problem (stderr).
    assert run.code == (2 if path.name == UNREADABLE_DATES else 0), run.stderr
    return run.json()


@pytest.mark.parametrize(("schema", "args", "name"), PARAMS)
def test_json_output_conforms_to_its_schema(inputs, schema, args, name):
    document = output(args, inputs[name])
    assert errors(document, schema) == []
    validate(document, schema)


def test_the_awkward_inputs_reach_the_awkward_shapes(inputs):
    """The inputs above do exercise nulls, notes, overlap and the problem branch."""
    for name in EVERYWHERE:
        after = output(("kpis", "--from", "2024-01-02"), inputs[name])["metrics"]
        assert after["churn_rate"] is None and after["customers_start"] is None, name
    bare = output(("kpis",), inputs["no amount"])
    assert bare["metrics"]["revenue"] is None and bare["data_quality"]["has_amount"] is False
    customers = output(("customers",), inputs["no amount"])
    assert all(row[4] is None and row[15] is None and row[17] is None for row in customers["rows"])
    overlap = output(("customers",), inputs["overlapping folder"])
    assert overlap["data_quality"]["overlap_rows"] == 11 and overlap["notes"]
    assert overlap["data_quality"]["overlap_files"][0]["rows"] == 11
    problem = output(("inspect",), inputs["unreadable dates"])
    assert problem["problem"] and problem["quality"] == {} and problem["date_range"] == {}
    holdout = output(("predict", "--penalizer", "0.01", "--holdout", "2024-07-01"), inputs["ten customers"])
    assert holdout["holdout"] is not None and holdout["customers"]["columns"][-1] == "actual_purchases"
    wide = output(("cohorts", "--layout", "wide"), inputs["golden"])
    assert wide["columns"][-2:] == ["partial", "partial_k"] and "10" in wide["columns"]
