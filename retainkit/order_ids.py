"""Order ids → integer codes (SPEC §1): the lines of one order share a code, a refund id
(``C`` + digits) is marked, and a line without an order id is an order of its own.

Most exports write whole numbers (``1000123``, refunds ``C1000123``) with an order's lines
together: those become integer keys, one parse per order, and codes by a running count.
Anything else is hashed as text, trimmed on its distinct values.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainkit.column_runs import SAMPLE, looks_clustered, one_array, run_starts, run_starts_of
from retainkit.parsing import MISSING_MARKERS

_REFUND_ID = re.compile(r"^[Cc]\d")


def encode_order_ids(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, dict[str, int], int, int]:
    """Order codes per row, whether each row's id is a refund id (``C`` + digit), the rows per
    missing-value spelling (``NA``, ``NULL`` …), how many rows' ids changed when trimmed and
    brought to Unicode NFC, and how many rows had no order id (empty, or a missing-value
    marker: each its own order).

    Sorted ids (either direction, the usual export order) need no hash: each run of equal
    values is one order. Otherwise ids are dictionary-encoded. Like customer ids, ids are
    trimmed on their distinct values (ids equal once trimmed are one order); a row without
    an id is an order of its own, and those rows hold the last codes.
    """
    if pa.types.is_dictionary(column.type):
        keyed = _dictionary_order_keys(column)
        if keyed is not None:
            return _first_seen_codes(keyed[0]), keyed[1], {}, 0, 0
        column = column.cast(pa.string())
    array = one_array(column)
    heads, lengths = _run_heads(array)
    numeric = _integer_order_keys(heads)
    if numeric is not None:  # 1000123 and C1000123 (most exports): integers, no string hash
        keys, is_refund = numeric
        codes = _first_seen_codes(keys)
        if lengths is None:
            return codes, is_refund, {}, 0, 0
        return np.repeat(codes, lengths), np.repeat(is_refund, lengths), {}, 0, 0
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    n = len(array)
    if n > 1 and array.null_count == 0 and _is_sorted(array.slice(0, SAMPLE)) and _is_sorted(array):
        differs = pc.not_equal(array.slice(1), array.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        codes = np.concatenate(([0], np.cumsum(differs, dtype=np.int64)))
        distinct_ids = array.take(pa.array(np.flatnonzero(np.concatenate(([True], differs)))))
    else:
        encoded = pc.dictionary_encode(array)
        distinct_ids = encoded.dictionary
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        del encoded
    trimmed = pc.utf8_trim_whitespace(distinct_ids)
    if not pc.all(pc.string_is_ascii(trimmed)).as_py():  # one id however it was typed (SPEC §1)
        trimmed = pc.utf8_normalize(trimmed, "NFC")
    is_marker = pc.is_in(trimmed, pa.array(MISSING_MARKERS))
    markers, normalised_rows = _changes(trimmed, distinct_ids, is_marker, codes)
    if markers:  # NA, NULL …: no order id (SPEC §1)
        trimmed = pc.if_else(is_marker, pa.scalar("", pa.string()), trimmed)
    if not pc.all(pc.equal(trimmed, distinct_ids)).as_py() or pc.any(pc.equal(trimmed, "")).as_py():
        remap, uniques = pd.factorize(pd.Series(trimmed.to_pandas(), dtype=object).replace("", None))
        codes = np.where(codes >= 0, np.append(remap, -1)[codes], -1)
        trimmed = pa.array(uniques, type=pa.string())
    missing = codes < 0
    empty_rows = int(missing.sum())
    if missing.any():
        codes[missing] = len(trimmed) + np.arange(int(missing.sum()))
        trimmed = pa.concat_arrays([trimmed, pa.nulls(int(missing.sum()), pa.string())])
    is_refund_id = pc.fill_null(pc.match_substring_regex(trimmed, _REFUND_ID.pattern), False)
    return codes, is_refund_id.to_numpy(zero_copy_only=False)[codes], markers, normalised_rows, empty_rows


def _changes(cleaned: pa.Array, written: pa.Array, is_marker: pa.Array, codes: np.ndarray
             ) -> tuple[dict[str, int], int]:
    """Rows per missing-value spelling among the ``cleaned`` distinct ids, and the rows whose
    id (not a marker, not empty) changed from how it was ``written``."""
    changed = pc.and_not(pc.not_equal(cleaned, written), pc.or_(is_marker, pc.equal(cleaned, "")))
    if not (pc.any(is_marker).as_py() or pc.any(changed).as_py()):
        return {}, 0
    rows = np.bincount(codes[codes >= 0], minlength=len(written))
    at = np.flatnonzero(pc.fill_null(is_marker, False).to_numpy(zero_copy_only=False))  # the markers only
    spellings = marker_rows(pd.Series(cleaned.take(pa.array(at)).to_pandas(), dtype=object),
                            np.ones(len(at), dtype=bool), rows[at])
    return spellings, int(rows[pc.fill_null(changed, False).to_numpy(zero_copy_only=False)].sum())


def marker_rows(distinct: pd.Series, marker: np.ndarray, rows: np.ndarray | None) -> dict[str, int]:
    """Rows per missing-value spelling (``NA``, ``NULL`` …) among the distinct values (SPEC §1),
    given the rows per distinct value."""
    if rows is None or not marker.any():
        return {}
    counts: dict[str, int] = {}
    for index in np.flatnonzero(marker):
        spelling = str(distinct.iloc[index])
        counts[spelling] = counts.get(spelling, 0) + int(rows[index])
    return counts


def _run_heads(array: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    """The first id of each run of equal ids, and the runs' lengths: an order's lines sit
    together in exports, so its id is parsed once, not once per line (30M lines: 12M
    parses). ``(array, None)`` when that would not pay: ids that are not text, an id
    missing (each such row is an order of its own), or runs too short.

    First-seen codes of the runs, repeated over their lengths, are the rows' first-seen
    codes: the runs are the rows in the same order, equal neighbours merged.

    >>> heads, lengths = _run_heads(pa.array(["7", "7", "C7", "8", "8", "8"]))
    >>> heads.to_pylist(), lengths.tolist()
    (['7', 'C7', '8'], [2, 1, 3])
    """
    n = len(array)
    text = pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
    if n < 2 or array.null_count or not text or not looks_clustered(array):
        return array, None
    starts = run_starts_of(array)
    if len(starts) > n * 3 // 4:
        return array, None
    return array.take(pa.array(starts)), np.diff(np.append(starts, n))


def _is_sorted(array: pa.Array) -> bool:
    n = len(array)
    head, tail = array.slice(0, n - 1), array.slice(1)
    return bool(pc.all(pc.less_equal(head, tail)).as_py()) or bool(pc.all(pc.greater_equal(head, tail)).as_py())


#: Digits an int64 key holds as 3 × number + 2 (3 × 10**18 < 2**63).
_MAX_KEY_DIGITS = 18


def _integer_order_keys(array: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """Order ids as integer keys when every id is a plain whole number, optionally in the
    refund convention (``C`` + digits): key = 3 × number + (1 for ``C``, 2 for ``c``), so
    ``123``, ``C123`` and ``c123`` stay three orders, as they are as text (ids are compared
    as written, SPEC §1). Returns (keys, is refund id) per row, or None when any id is
    not of that form — a leading zero, a sign, a space, a letter, an empty or missing id —
    and the text path decides (``0123`` and ``123`` are different ids there, and would be
    one number here)."""
    if len(array) == 0 or array.null_count:
        return None
    if pa.types.is_integer(array.type):
        low, high = pc.min_max(array).values()
        if max(abs(low.as_py()), abs(high.as_py())) >= 10**_MAX_KEY_DIGITS:  # beyond the key (uint64)
            return None
        numbers = array.cast(pa.int64()).to_numpy(zero_copy_only=False)
        return numbers * 3, np.zeros(len(array), dtype=bool)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    upper, lower = pc.starts_with(array, "C"), pc.starts_with(array, "c")  # no case folding: 4× faster
    digits = pc.utf8_ltrim(array, characters="Cc")
    if pc.any(pc.greater(pc.subtract(pc.binary_length(array), pc.binary_length(digits)), 1)).as_py():
        return None  # CC1 is not the refund of 1: the text path keeps it apart
    plain = pc.and_(pc.ascii_is_decimal(digits), pc.less_equal(pc.binary_length(digits), _MAX_KEY_DIGITS))
    leading_zero = pc.and_(pc.starts_with(digits, "0"), pc.greater(pc.binary_length(digits), 1))
    if not pc.all(pc.and_not(plain, leading_zero)).as_py():
        return None
    upper_c, lower_c = upper.to_numpy(zero_copy_only=False), lower.to_numpy(zero_copy_only=False)
    keys = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False) * 3
    keys += upper_c
    keys += 2 * lower_c
    return keys, upper_c | lower_c


def _dictionary_order_keys(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_integer_order_keys` of a dictionary-encoded column (Parquet row groups): each
    chunk's dictionary is read once and its keys taken by the chunk's indices — no hash, no
    row's text parsed. None when any chunk's ids are not all plain numbers, or a row has none."""
    keys, refunds = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=bool)]
    for chunk in column.chunks:
        numeric = _integer_order_keys(chunk.dictionary) if chunk.null_count == 0 else None
        if numeric is None:
            return None
        indices = chunk.indices.to_numpy(zero_copy_only=False)
        keys.append(numeric[0][indices])
        refunds.append(numeric[1][indices])
    return np.concatenate(keys), np.concatenate(refunds)


def _first_seen_codes(keys: np.ndarray) -> np.ndarray:
    """Codes 0, 1, 2 … in the order each key first appears (as ``pd.factorize`` gives them).

    When every run of equal keys has a key of its own — each order's lines together, as
    exports write them — the code is the run's number: a running count of key changes, no
    hash. Otherwise the keys are factorised, the runs first.

    >>> _first_seen_codes(np.array([7, 7, 3, 9, 9])).tolist(), _first_seen_codes(np.array([7, 3, 7])).tolist()
    ([0, 0, 1, 2, 2], [0, 1, 0])
    """
    n = len(keys)
    changes = run_starts(keys)
    run_keys = keys[changes]
    if _all_distinct(run_keys):
        return np.cumsum(changes, dtype=np.int64) - 1
    if len(run_keys) > n // 2:
        return pd.factorize(keys)[0].astype(np.int64, copy=False)
    codes = pd.factorize(run_keys)[0].astype(np.int64, copy=False)
    return codes[np.cumsum(changes) - 1]


def _all_distinct(values: np.ndarray) -> bool:
    """Whether no value repeats: a bitmap over their span when it is small, else a hash."""
    if len(values) < 2:
        return True
    low, high = int(values.min()), int(values.max())
    if high - low < 4 * len(values) + 1024:
        seen = np.zeros(high - low + 1, dtype=bool)
        seen[values - low] = True
        return int(np.count_nonzero(seen)) == len(values)
    return bool(pd.Index(values).is_unique)
