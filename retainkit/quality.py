"""What normalising an export counted, dropped or changed (SPEC §1), and its result.

Every row of the input lands in exactly one bucket of :class:`DataQuality`: an order
line, a refund row, a row without a customer, a row without a date, a dropped duplicate,
or a row repeated from an earlier file (overlap), so ``rows`` always adds up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd


@dataclass
class DataQuality:
    """What normalisation counted, dropped or changed. Amounts are summed as read."""

    rows: int = 0
    orders: int = 0
    order_lines: int = 0
    refund_rows: int = 0
    refund_amount: float = 0.0
    refunds_from_column: int = 0
    missing_customer_rows: int = 0
    missing_customer_amount: float = 0.0
    missing_date_rows: int = 0
    missing_date_amount: float = 0.0
    customer_filled_rows: int = 0
    date_filled_rows: int = 0
    empty_amount_rows: int = 0
    duplicate_rows: int = 0
    duplicate_amount: float = 0.0
    duplicates_dropped: bool = False
    overlap_rows: int = 0
    overlap_amount: float = 0.0
    overlap_files: list[dict[str, object]] = field(default_factory=list)
    empty_order_id_rows: int = 0
    naive_local_rows: int = 0
    ids_normalised_rows: int = 0
    missing_markers: dict[str, dict[str, int]] = field(default_factory=dict)
    has_amount: bool = True
    decimal_marks: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The ISO 4217 code the amounts' signs name (``250.000 ₫``: VND), or None; for the
    #: report's money, not part of the JSON record.
    currency: str | None = None

    def count_id_changes(self, coded: dict[str, tuple | None]) -> None:
        """From each id column's coding (``(codes, …, markers, changed rows, …)``, ``None``
        without the column): its rows per missing-value spelling, and the rows whose ids
        were trimmed or brought to Unicode NFC, all id columns together (SPEC §1)."""
        for name, result in coded.items():
            if result is not None and result[2]:
                self.missing_markers[name] = result[2]
        self.ids_normalised_rows = sum(result[3] for result in coded.values() if result is not None)

    def as_dict(self) -> dict[str, object]:
        record = asdict(self)
        del record["currency"]
        return record


@dataclass(frozen=True)
class Normalised:
    """The canonical orders frame and what it took to get there.

    ``product_lines`` (when asked for and the export names products): one row per order
    line with ``customer_id``, ``product`` and ``order_date`` — what product lapses need.
    """

    orders: pd.DataFrame
    quality: DataQuality
    product_lines: pd.DataFrame | None = None
