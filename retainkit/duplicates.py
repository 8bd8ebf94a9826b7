"""Exact duplicate rows and rows repeated across input files (SPEC §1).

A row is a duplicate of another when every field read is equal. Inside one file it is
counted and kept (dropped with ``--dedupe``); a row that repeats one of an *earlier* file —
overlapping monthly exports, a copy such as ``orders (1).csv`` — is overlap: always counted
once, with the pairs of files it came from.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from retainkit.column_runs import run_starts
from retainkit.load import Source


@dataclass
class Repeats:
    """Which rows to keep, and what was found: duplicates and overlap, rows and amounts."""

    keep: np.ndarray
    duplicate_rows: int = 0
    duplicate_amount: float = 0.0
    overlap_rows: int = 0
    overlap_amount: float = 0.0
    overlap_files: list[dict[str, object]] = field(default_factory=list)


def mark_duplicates(
    fields: dict[str, np.ndarray], group: np.ndarray, amount: np.ndarray | None, sources: tuple[Source, ...],
    *, drop: bool, per_group: Collection[str] = (),
) -> Repeats:
    """Rows to keep. Counts exact duplicates (every field read equal); drops them if asked.
    A row repeating one of an earlier input file is overlap: always dropped, counted apart.

    Rows are keyed by (``group`` code — the order, or the customer without order ids — and a
    32-bit hash of ``fields``): equal keys are candidates, found in runs of a group when an
    order's lines are together, else by sorting the keys, and confirmed on the exact values
    (a hash never decides). Fields named in ``per_group`` (an order's
    customer and date: the same on all its lines) are left out of the hash, as they tell
    no two lines of a group apart; they are still compared in the confirmation.
    """
    n = len(group)
    result = Repeats(np.ones(n, dtype=bool))
    if n < 2:
        return result
    hashed = _row_hash([v for k, v in fields.items() if k not in per_group], n)
    hashed >>= np.uint64(32)
    candidates = _candidates_in_runs(group, hashed)
    if candidates is None:
        candidates = _candidates_sorted(group, hashed)
    del hashed
    if not len(candidates):
        return result
    exact = pd.DataFrame({"group": group[candidates], **{k: v[candidates] for k, v in fields.items()}})
    overlap = _overlap(exact, candidates, sources, amount, result)
    repeats = candidates[~overlap][exact[~overlap].duplicated(keep="first").to_numpy()]
    result.duplicate_rows = len(repeats)
    if amount is not None:
        result.duplicate_amount = float(np.nansum(amount[repeats]))
    result.keep[candidates[overlap]] = False
    if drop:
        result.keep[repeats] = False
    return result


def duplicate_groups(order: np.ndarray | None, customer: np.ndarray, without_id: int
                     ) -> tuple[np.ndarray, tuple[str, ...]]:
    """The group of each row for :func:`mark_duplicates`, and the fields every row of a group
    shares (left out of the hash): the customer without order ids; else the order, whose
    lines share their customer, date and referrer; and for the ``without_id`` rows without
    an order id (each an order of its own, holding the last codes:
    :func:`retainkit.order_ids.encode_order_ids`) their customer — so that two of them
    equal in every field read are duplicates, and a copy of a file whose rows have no
    order id does not double its revenue (SPEC §1). A customer's rows differ by date, so the
    date is hashed then (else every row of a customer with the same amount is a candidate).

    >>> groups, shared = duplicate_groups(np.array([0, 1, 0, 2, 3, 4]), np.array([5, 6, 5, 7, 7, -1]), 3)
    >>> groups.tolist(), shared
    ([0, 1, 0, 10, 10, 2], ('customer',))
    """
    if order is None:
        return customer, ("customer",)
    if not without_id:
        return order, ("customer", "seconds", "referrer")
    first = int(order.max()) + 1 - without_id
    return np.where(order >= first, first + 1 + customer.astype(np.int64), order), ("customer",)


#: Longest run of rows of one group compared row against row; longer runs take the sort.
_WINDOW = 16


def _candidates_in_runs(group: np.ndarray, hashed: np.ndarray) -> np.ndarray | None:
    """Rows sharing (group, hash) with another row, when ``group`` never decreases and no
    run of one group is longer than :data:`_WINDOW` rows — an order's lines together, as
    exports write them: each row is compared with the rows 1 … run − 1 after it (a few
    passes, no sort). None otherwise."""
    n = len(group)
    if not bool(np.all(group[1:] >= group[:-1])):
        return None
    starts = np.flatnonzero(run_starts(group))
    longest = int(np.diff(np.append(starts, n)).max())
    if longest > _WINDOW:
        return None
    candidate = np.zeros(n, dtype=bool)
    for gap in range(1, longest):
        same = group[gap:] == group[:-gap]
        same &= hashed[gap:] == hashed[:-gap]
        candidate[gap:] |= same
        candidate[:-gap] |= same
    return np.flatnonzero(candidate)


def _candidates_sorted(group: np.ndarray, hashed: np.ndarray) -> np.ndarray:
    """Rows sharing (group, hash) with another row, found by a stable sort of the 64-bit
    keys group · 2³² + hash (nearly sorted when an order's lines are together)."""
    key = group.astype(np.uint64)
    key <<= np.uint64(32)
    key |= hashed
    order = np.argsort(key, kind="stable")
    key = key[order]
    same = key[1:] == key[:-1]
    del key
    return np.unique(np.concatenate((order[1:][same], order[:-1][same])))


def _overlap(exact: pd.DataFrame, rows: np.ndarray, sources: tuple[Source, ...], amount: np.ndarray | None,
             result: Repeats) -> np.ndarray:
    """Rows (of the candidates ``rows``, in row order) that repeat a row of an *earlier* input
    file, identical in every field read (SPEC §1, overlapping exports): always counted once.

    Records the rows, their amount and the (file, earlier file) pairs in ``result``.
    """
    if len(sources) < 2:
        return np.zeros(len(rows), dtype=bool)
    starts = np.array([s.first_row for s in sources])
    file = np.searchsorted(starts, rows, side="right") - 1
    columns = list(exact.columns)
    first_file = pd.Series(file).groupby([exact[c].to_numpy() for c in columns], dropna=False).transform("min")
    first_file_np = first_file.to_numpy()
    overlap = file > first_file_np
    if not overlap.any():
        return overlap
    result.overlap_rows = int(overlap.sum())
    if amount is not None:
        result.overlap_amount = float(np.nansum(amount[rows[overlap]]))
    pairs = pd.DataFrame({"later": file[overlap], "earlier": first_file_np[overlap]}).value_counts(sort=False)
    result.overlap_files = [
        {"file": sources[later].name, "earlier_file": sources[earlier].name, "rows": int(count)}
        for (later, earlier), count in sorted(pairs.items())
    ]
    return overlap


#: Odd 64-bit multiplier of the row hash (the golden ratio's, as in Fibonacci hashing).
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _row_hash(columns: Sequence[np.ndarray], n: int) -> np.ndarray:
    """A 64-bit polynomial hash of each row's values, h = (h·K + v) per column then h·K,
    computed in place, the two halves of the rows on two threads (NumPy releases the GIL)."""
    hashed = np.zeros(n, dtype=np.uint64)
    if n < _SPLIT_ROWS:
        _hash_rows(columns, hashed, slice(0, n))
        return hashed
    half = n // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        for done in [pool.submit(_hash_rows, columns, hashed, part) for part in (slice(0, half), slice(half, n))]:
            done.result()
    return hashed


#: Rows from which the row hash is split over two threads.
_SPLIT_ROWS = 1 << 20


def _hash_rows(columns: Sequence[np.ndarray], hashed: np.ndarray, rows: slice) -> None:
    """:func:`_row_hash` of ``rows`` into ``hashed[rows]`` (no temporaries beyond one scratch
    array for codes and numbers). Its top 32 bits depend on every bit of every value;
    collisions only cost a comparison."""
    out = hashed[rows]
    scratch = None
    for whole in columns:
        values = whole[rows]
        out *= _MULTIPLIER
        if values.dtype.itemsize == 8 and values.dtype.kind != "f":
            out += values.view(np.uint64)
            continue
        scratch = np.empty(len(out), dtype=np.uint64) if scratch is None else scratch
        if values.dtype.kind == "f":
            np.add(values, 0.0, out=scratch.view(np.float64))  # -0.0 -> 0.0: equal numbers hash alike
        else:
            scratch[...] = values
        out += scratch
    out *= _MULTIPLIER


def overlap_sentence(quality: Mapping[str, Any]) -> str | None:
    """What was counted once because it repeated an earlier file (SPEC §1), or None: the
    warning on stderr and the note under every table."""
    if not quality.get("overlap_rows"):
        return None
    pairs = "; ".join(f"{p['file']} repeats {p['rows']:,} rows of {p['earlier_file']}"
                      for p in quality.get("overlap_files", []))
    return f"{quality['overlap_rows']:,} rows repeated from an earlier file were counted once ({pairs})"
