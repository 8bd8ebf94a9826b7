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

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retainkit import defaults
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
    tz: str = defaults.TZ
    decimal: str | None = None  # None: decided per column from its values (SPEC §1)
    dedupe: bool = False
    sheet: str | None = None  # Excel: the sheet to read (default: the first)
    allow_dates: bool = False  # keep implausible order dates (SPEC §1) instead of stopping


@dataclass(frozen=True)
class AnalysisOptions:
    """How to compute the KPIs (SPEC §2, §3)."""

    churn_window_days: int | None = None
    churn_alert: float = defaults.CHURN_ALERT
    margin: float | None = None


@dataclass(frozen=True)
class Settings:
    """What the config files say: the column mapping and options, each option with the
    file it came from (for error messages)."""

    columns: dict[str, str] = field(default_factory=dict)  # canonical field -> raw header
    options: dict[str, tuple[Any, Path]] = field(default_factory=dict)
    files: tuple[Path, ...] = ()


def config_files(explicit: Path | None = None, *, cwd: Path | None = None) -> list[Path]:
    """The config files that apply, weakest first (see the module docstring)."""
    home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    found = [home / "retainkit" / "config.toml"]
    env = os.environ.get("RETAINKIT_CONFIG")
    if env:
        if not Path(env).is_file():
            raise RetainkitError(f"RETAINKIT_CONFIG={env}: config file not found")
        found.append(Path(env))
    else:
        found.append((cwd or Path.cwd()) / CONFIG_NAME)
    found = [path for path in found if path.is_file()]
    if explicit is not None:
        if not Path(explicit).is_file():
            raise RetainkitError(f"--config {explicit}: config file not found")
        found.append(Path(explicit))
    return found


def load_settings(explicit: Path | None = None, *, cwd: Path | None = None) -> Settings:
    """Every config file that applies, later files over earlier ones."""
    columns: dict[str, str] = {}
    options: dict[str, tuple[Any, Path]] = {}
    files = config_files(explicit, cwd=cwd)
    for path in files:
        data = _read_toml(path)
        unknown = set(data) - {"columns", "options"}
        if unknown:
            raise RetainkitError(f"{path}: unknown section [{sorted(unknown)[0]}]", "use [columns] and [options]")
        for key, header in _table(data, "columns", path).items():
            if key not in COLUMN_KEYS:
                raise RetainkitError(f"{path}: unknown key {key!r} in [columns]",
                                     f"known keys: {', '.join(COLUMN_KEYS)}")
            if not isinstance(header, str):
                raise RetainkitError(f"{path}: [columns] {key} = {header!r} must be a header name in quotes")
            columns[COLUMN_KEYS[key]] = header
        for key, value in _table(data, "options", path).items():
            options[key.replace("-", "_")] = (value, path)
    return Settings(columns, options, tuple(files))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RetainkitError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RetainkitError(f"{path}: not valid TOML ({exc})") from None


def _table(data: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise RetainkitError(f"{path}: {name} must be a table: [{name}]")
    return table
