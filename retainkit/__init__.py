"""retainkit — customer-retention KPIs from any order export.

>>> import retainkit
>>> data = retainkit.read_orders("tests/golden/shop_small.csv")  # doctest: +SKIP
>>> retainkit.kpi_report(data)["metrics"]["repeat_customer_rate"]     # doctest: +SKIP
0.6
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AnalysisOptions",
    "CustomerOptions",
    "KpiOptions",
    "Period",
    "ReadOptions",
    "RetainkitError",
    "at_risk_report",
    "compute_kpis",
    "customer_report",
    "customer_table",
    "customer_windows",
    "kpi_report",
    "read_orders",
    "resolve_period",
    "segments_report",
]

_LAZY = {
    "AnalysisOptions": "retainkit.config",
    "ReadOptions": "retainkit.config",
    "KpiOptions": "retainkit.metrics",
    "compute_kpis": "retainkit.metrics",
    "Period": "retainkit.periods",
    "resolve_period": "retainkit.periods",
    "customer_windows": "retainkit.reductions",
    "kpi_report": "retainkit.pipeline",
    "read_orders": "retainkit.pipeline",
    "RetainkitError": "retainkit.errors",
    "CustomerOptions": "retainkit.customers",
    "customer_table": "retainkit.customers",
    "customer_report": "retainkit.pipeline",
    "at_risk_report": "retainkit.pipeline",
    "segments_report": "retainkit.pipeline",
}

if TYPE_CHECKING:  # pragma: no cover
    from retainkit.config import AnalysisOptions, ReadOptions
    from retainkit.customers import CustomerOptions, customer_table
    from retainkit.errors import RetainkitError
    from retainkit.metrics import KpiOptions, compute_kpis
    from retainkit.periods import Period, resolve_period
    from retainkit.pipeline import at_risk_report, customer_report, kpi_report, read_orders, segments_report
    from retainkit.reductions import customer_windows


def __getattr__(name: str) -> Any:
    """Import the heavy modules (pandas, pyarrow) only when their names are used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'retainkit' has no attribute {name!r}")
