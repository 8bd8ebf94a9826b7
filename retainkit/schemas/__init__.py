"""JSON Schemas (draft 2020-12) of each command's ``--format json`` output (SPEC §7).

One file per command, shipped in the package: ``kpis``, ``customers``, ``at-risk`` (with and
without ``--products``), ``segments``, ``trend``, ``cohorts`` (long and wide layouts),
``report``, ``predict`` and ``inspect``. Each is self-contained (its shared definitions, such
as ``data_quality``, are under its own ``$defs``), so any validator can use it alone::

    >>> from retainkit.schemas import load_schema
    >>> schema = load_schema("kpis")
    >>> schema["$schema"], "churn_rate" in schema["$defs"]["metrics"]["required"]
    ('https://json-schema.org/draft/2020-12/schema', True)

:func:`validate` checks a document with the ``jsonschema`` package (``pip install
jsonschema``); :func:`schema_path` gives the file, e.g. for ``check-jsonschema --schemafile``.
Importing this module imports neither pandas nor pyarrow.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["COMMANDS", "DIALECT", "load_schema", "schema_path", "validate"]

#: The commands with a JSON output, each with a schema file ``<command>.schema.json``.
COMMANDS = ("kpis", "customers", "at-risk", "segments", "trend", "cohorts", "report", "predict", "inspect")
#: The JSON Schema dialect every file declares.
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_path(command: str) -> Traversable:
    """The packaged schema file of ``command`` (``at_risk`` is read as ``at-risk``).

    >>> schema_path("at_risk").name
    'at-risk.schema.json'
    """
    name = command.strip().lower().replace("_", "-")
    if name not in COMMANDS:
        raise ValueError(f"no JSON Schema for {command!r}: use one of {', '.join(COMMANDS)}")
    return resources.files(__name__).joinpath(f"{name}.schema.json")


def load_schema(command: str) -> dict[str, Any]:
    """The JSON Schema of ``retainkit COMMAND --format json``, as a new dict on each call."""
    return json.loads(schema_path(command).read_text(encoding="utf-8"))


def validate(document: Any, command: str) -> None:
    """Check ``document`` (parsed JSON) against ``command``'s schema.

    Raises ``jsonschema.ValidationError`` (the most relevant error) when it does not conform,
    and ``ImportError`` when the ``jsonschema`` package is not installed.
    """
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError("validating needs the jsonschema package: pip install jsonschema") from None
    validator = jsonschema.Draft202012Validator(load_schema(command))
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        raise error
