"""Settings shared by every command, from ``retainkit.toml`` and the command line.

A ``retainkit.toml`` in the working directory (or the file given with ``--config``) holds
the column mapping and default options; options given on the command line win::

    [columns]              # canonical field = raw header
    customer = "Email"
    date = "Created at"

    [options]
    tz = "Asia/Ho_Chi_Minh"
    sheet = "Đơn hàng"     # Excel exports: the sheet to read
    churn_alert = 0.05
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from retainkit.errors import RetainkitError

CONFIG_NAME = "retainkit.toml"

#: Short names used in ``[columns]`` and by the options, mapped to canonical fields.
COLUMN_KEYS: dict[str, str] = {
    "customer": "customer_id",
    "date": "order_date",
    "order": "order_id",
    "amount": "amount",
    "quantity": "quantity",
    "price": "unit_price",
    "product": "product",
    "referrer": "referred_by",
    "refund": "refund_amount",
}


@dataclass(frozen=True)
class ReadOptions:
    """How to read and normalise an export (SPEC §1)."""

    columns: dict[str, str] = field(default_factory=dict)  # canonical field -> raw header
    encoding: str | None = None
    dayfirst: bool | None = None
    date_format: str | None = None
    tz: str = "UTC"
    decimal: str | None = None  # None: decided per column from its values (SPEC §1)
    dedupe: bool = False
    sheet: str | None = None  # Excel: the sheet to read (default: the first)


@dataclass(frozen=True)
class AnalysisOptions:
    """How to compute the KPIs (SPEC §2, §3)."""

    churn_window_days: int | None = None
    churn_alert: float = 0.07
    margin: float | None = None


_OPTION_KEYS = {
    "encoding": ("read", "encoding"),
    "dayfirst": ("read", "dayfirst"),
    "date_format": ("read", "date_format"),
    "tz": ("read", "tz"),
    "decimal": ("read", "decimal"),
    "dedupe": ("read", "dedupe"),
    "sheet": ("read", "sheet"),
    "churn_window": ("analysis", "churn_window_days"),
    "churn_alert": ("analysis", "churn_alert"),
    "margin": ("analysis", "margin"),
}


@dataclass(frozen=True)
class Config:
    """Settings from a config file; empty when there is none."""

    read: ReadOptions = field(default_factory=ReadOptions)
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)
    path: Path | None = None


def load_config(path: Path | None = None, *, cwd: Path | None = None) -> Config:
    """Read ``path``, or ``retainkit.toml`` in ``cwd`` when present; else defaults."""
    if path is None:
        candidate = (cwd or Path.cwd()) / CONFIG_NAME
        if not candidate.is_file():
            return Config()
        path = candidate
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RetainkitError(f"{path}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RetainkitError(f"{path}: not valid TOML ({exc})") from None
    return _config_from_dict(data, path)


def _config_from_dict(data: dict[str, Any], path: Path) -> Config:
    unknown = set(data) - {"columns", "options"}
    if unknown:
        raise RetainkitError(f"{path}: unknown section [{sorted(unknown)[0]}]", "use [columns] and [options]")
    columns = {}
    for key, header in data.get("columns", {}).items():
        if key not in COLUMN_KEYS:
            raise RetainkitError(
                f"{path}: unknown key {key!r} in [columns]", f"known keys: {', '.join(COLUMN_KEYS)}"
            )
        columns[COLUMN_KEYS[key]] = str(header)
    read: dict[str, Any] = {"columns": columns}
    analysis: dict[str, Any] = {}
    for key, value in data.get("options", {}).items():
        if key not in _OPTION_KEYS:
            raise RetainkitError(
                f"{path}: unknown key {key!r} in [options]", f"known keys: {', '.join(_OPTION_KEYS)}"
            )
        group, name = _OPTION_KEYS[key]
        (read if group == "read" else analysis)[name] = value
    try:
        return Config(ReadOptions(**read), AnalysisOptions(**analysis), path)
    except TypeError as exc:  # pragma: no cover - guarded by the key checks above
        raise RetainkitError(f"{path}: {exc}") from None


def merged(base: Any, **overrides: Any) -> Any:
    """``base`` with every override that is not None applied (command line over config)."""
    names = {f.name for f in fields(base)}
    return replace(base, **{k: v for k, v in overrides.items() if v is not None and k in names})
