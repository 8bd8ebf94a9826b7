"""The kernel: one shard of customers in, per-customer rows and additive partials out.

Every engine runs the same rules through this module. A *shard* is the canonical orders
frame (:mod:`retainkit.normalise`) of some customers — every row of each of them — and the
period. :func:`shard_rows` reduces it to one row per customer (:func:`customer_windows`,
SPEC §3, §5) and to the partials that cross customers (who named whom as referrer);
:func:`combine_rows` adds partials up and concatenates rows. The local engine is one shard
(:func:`customer_rows`); the Spark engine (:mod:`retainkit.spark`) is many, and both end in
the same :class:`CustomerWindows`, rows in customer-id order, so every sum downstream adds
the same numbers in the same order whatever the sharding.

The data-quality record is additive too (:func:`combine_quality`): counts add up, amounts add
up to the cent, notes that count rows add their counts.

>>> import pandas as pd
>>> from datetime import date
>>> from retainkit.periods import Period
>>> orders = pd.DataFrame({
...     "customer_id": pd.Categorical(["b", "a", "b"]),
...     "order_date": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-11"]).astype("datetime64[s]"),
...     "amount": [10.0, 20.0, 30.0],
...     "is_refund": [False, False, False],
... })
>>> period = Period(date(2024, 1, 1), date(2024, 1, 31))
>>> whole = customer_rows(orders, period).frame
>>> def shard(c):
...     mine = orders[orders["customer_id"] == c]
...     return mine.assign(customer_id=mine["customer_id"].cat.remove_unused_categories())
>>> parts = [shard_rows(shard(c), period) for c in ("b", "a")]
>>> split = combine_rows(parts, period, has_amount=True, has_referrals=False).frame
>>> whole.index.tolist(), bool(whole.equals(split))
(['a', 'b'], True)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from retainkit.normalise import DataQuality
from retainkit.periods import Period
from retainkit.reductions import CustomerWindows, customer_windows

#: Data-quality amounts, summed to the cent (SPEC §1): the same total from one shard or many.
QUALITY_AMOUNTS = ("refund_amount", "missing_customer_amount", "missing_date_amount", "duplicate_amount",
                   "overlap_amount")
_COUNTED_NOTE = re.compile(r"^(\d[\d,]*) (.+)$")


@dataclass(frozen=True)
class ShardRows:
    """What one shard returns: ``windows`` (one row per customer of the shard, the columns of
    :class:`CustomerWindows`) and ``referrals``: the distinct (referrer, customer) pairs of
    orders up to ``to`` naming another customer as referrer — the one per-customer count
    whose inputs sit in other customers' rows."""

    windows: pd.DataFrame
    referrals: pd.DataFrame


def shard_rows(orders: pd.DataFrame, period: Period) -> ShardRows:
    """Reduce one shard's canonical orders to per-customer rows and referral pairs."""
    frame = customer_windows(orders, period).frame
    return ShardRows(frame, referral_pairs(orders, period))


def referral_pairs(orders: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Distinct (``referrer``, ``customer_id``) of orders (not refunds) dated up to ``to``
    whose referrer is not the customer (SPEC §5, advocates). Empty without a referral column."""
    if "referred_by" not in orders:
        return pd.DataFrame({"referrer": pd.Series([], dtype=object), "customer_id": pd.Series([], dtype=object)})
    day = orders["order_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    customer = orders["customer_id"].astype(object).to_numpy()
    referrer = orders["referred_by"].astype(object).to_numpy()
    named = (~orders["is_refund"].to_numpy()) & (day <= period.end_day) & pd.notna(referrer)
    named &= referrer != customer
    pairs = pd.DataFrame({"referrer": referrer[named], "customer_id": customer[named]})
    return pairs.drop_duplicates(ignore_index=True)


def combine_rows(parts: Sequence[ShardRows], period: Period, *, has_amount: bool, has_referrals: bool
                 ) -> CustomerWindows:
    """Concatenate the shards' rows in customer-id order; ``referred_customers`` = distinct
    customers naming each one as referrer, over every shard (a referrer must be a customer)."""
    frame = pd.concat([p.windows for p in parts]) if parts else pd.DataFrame()
    frame = frame.sort_index(kind="stable")
    if has_referrals:
        pairs = pd.concat([p.referrals for p in parts]).drop_duplicates()
        named = pairs["referrer"].value_counts()
        frame["referred_customers"] = named.reindex(frame.index, fill_value=0).to_numpy(dtype=np.int64)
    return CustomerWindows(frame, period, has_amount, has_referrals)


def customer_rows(orders: pd.DataFrame, period: Period) -> CustomerWindows:
    """The local engine: every customer in one shard. Its referral counts are whole already
    (every referrer is in the shard), so no pairs are formed; rows are put in customer-id
    order as :func:`combine_rows` puts them — a no-op for orders from :mod:`retainkit.normalise`,
    whose customer codes are in id order."""
    windows = customer_windows(orders, period)
    frame = windows.frame
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index(kind="stable")
    return CustomerWindows(frame, period, windows.has_amount, windows.has_referrals)


def combine_quality(parts: Sequence[DataQuality]) -> DataQuality:
    """One data-quality record from the shards' records: counts and amounts added (amounts
    to the cent), markers added per spelling, overlapping file pairs added per pair, notes
    that start with a row count added per sentence, other notes once (SPEC §1)."""
    out = DataQuality()
    for f in fields(DataQuality):
        values = [getattr(p, f.name) for p in parts]
        if f.name in QUALITY_AMOUNTS:
            setattr(out, f.name, round(float(sum(values)), 2) + 0.0)
        elif f.type in ("int", int):
            setattr(out, f.name, int(sum(values)))
        else:  # a setting or a finding every shard shares (has_amount …): the first one said
            default = getattr(out, f.name)
            setattr(out, f.name, next((v for v in values if v != default), values[0] if values else default))
    out.missing_markers = _add_markers([p.missing_markers for p in parts])
    out.decimal_marks = {k: v for p in parts for k, v in p.decimal_marks.items()}
    out.overlap_files = _add_overlaps([p.overlap_files for p in parts])
    # One record's notes stand as they are (translatable notes keep their message ids).
    out.notes = list(parts[0].notes) if len(parts) == 1 else combine_notes([n for p in parts for n in p.notes])
    return out


def _add_markers(parts: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for part in parts:
        for column, spellings in part.items():
            mine = out.setdefault(column, {})
            for spelling, rows in spellings.items():
                mine[spelling] = mine.get(spelling, 0) + rows
    return out


def _add_overlaps(parts: list[list[dict[str, object]]]) -> list[dict[str, object]]:
    rows: dict[tuple[str, str], int] = {}
    order: dict[tuple[str, str], int] = {}
    for part in parts:
        for entry in part:
            key = (str(entry["file"]), str(entry["earlier_file"]))
            rows[key] = rows.get(key, 0) + int(entry["rows"])  # type: ignore[call-overload]
            order.setdefault(key, len(order))
    return [{"file": f, "earlier_file": e, "rows": rows[(f, e)]} for f, e in sorted(rows, key=order.__getitem__)]


def combine_notes(notes: Sequence[str]) -> list[str]:
    """Notes in first-seen order; those starting with a count of rows are one note with the
    counts added (``1,000`` style kept when any part used it).

    >>> combine_notes(["2 refund rows had …", "x", "3 refund rows had …", "x"])
    ['5 refund rows had …', 'x']
    """
    totals: dict[str, int] = {}
    grouped: dict[str, bool] = {}
    out: list[str] = []
    for note in notes:
        counted = _COUNTED_NOTE.match(note)
        key = counted.group(2) if counted else note
        if key not in totals and note not in out:
            out.append(key if counted else note)
        if counted:
            totals[key] = totals.get(key, 0) + int(counted.group(1).replace(",", ""))
            grouped[key] = grouped.get(key, False) or "," in counted.group(1) or "date stamps" in key
    return [f"{totals[n]:,} {n}" if grouped.get(n) else f"{totals[n]} {n}" if n in totals else n for n in out]
