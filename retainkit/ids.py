"""Ids → integer codes (SPEC §1): customer, order, referrer and product ids.

Ids are trimmed and compared on their distinct values; missing-value markers (``NA``,
``NULL`` …) are no id and counted by spelling; ``17850.0`` is ``17850`` when every id of
the column is an integer. After this, every reduction works on integer arrays.
"""

from __future__ import annotations

import re
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainkit.parsing import MISSING_MARKERS
from retainkit.reductions import run_starts

_REFUND_ID = re.compile(r"^[Cc]\d")
_INTEGER_ID = re.compile(r"^-?\d+(?:\.0+)?$")


@dataclass(frozen=True)
class IdFutures:
    """Integer codes of the id columns, being computed (see :func:`encode_ids`)."""

    customer: Future
    order: Future | None
    referrer: Future | None
    product: Future | None


def encode_ids(columns: dict[str, pa.ChunkedArray], pool: Executor) -> IdFutures:
    """Start turning customer, order, referrer and product ids into integer codes on ``pool``
    (Arrow's hashing releases the GIL: the other columns are read meanwhile). The customer
    column, the longest job, goes first. The id columns are taken out of ``columns``: each
    is freed once its job is done, if no one else holds it."""
    def optional(name: str, encode) -> Future | None:
        return pool.submit(encode, columns.pop(name)) if name in columns else None

    return IdFutures(
        customer=pool.submit(_encode_text_ids, columns.pop("customer_id")),
        order=optional("order_id", _encode_order_ids),
        referrer=optional("referred_by", _encode_text_ids),
        product=optional("product", _encode_text_ids),
    )


def _encode_text_ids(column: pa.ChunkedArray) -> tuple[np.ndarray, pd.Index, dict[str, int], int]:
    """Codes (int32, -1 for empty), the distinct cleaned ids they point to, the rows per
    missing-value marker (``NA``, ``NULL`` … are no id, SPEC §1), and how many rows' ids
    changed when brought to Unicode NFC.

    Ids are stripped and compared in NFC: ``Nguyễn`` typed precomposed and decomposed (NFD,
    as macOS tools write Vietnamese) is one id; ``An`` and ``Ân`` stay two. Empty text is no
    id; integer-valued floats (``17850.0``, as some
    tools write integer ids) lose their ``.0`` when every id in the column is an integer,
    so ``17850`` from one file and ``17850.0`` from another are one customer.
    Every step works on the distinct values; the rows' codes are made once, at the end.
    """
    coded = _encode_runs(column)
    used = coded.rows_per_value()[:-1] > 0 if coded.may_hold_unused else np.ones(len(coded.dictionary), dtype=bool)
    in_use = np.where(used, np.cumsum(used) - 1, -1)  # dictionary entry → id in use (−1: no row has it)
    dictionary = coded.dictionary if used.all() else coded.dictionary.filter(pa.array(used))
    if _already_clean(dictionary):  # nothing to trim, compose, rewrite or mark: the codes stand
        return (*_in_id_order(coded, in_use, dictionary), {}, 0)
    names = pd.Series(dictionary.to_pandas(), dtype=object)
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        names = _numeric_ids(dictionary)
    cleaned = names.astype("string").str.strip()
    composed = cleaned.str.normalize("NFC")
    changed = (composed != cleaned).fillna(False).to_numpy(dtype=bool)
    normalised_rows = int(coded.rows_per_value()[:-1][used][changed].sum()) if changed.any() else 0
    cleaned = composed
    marker = cleaned.isin(MISSING_MARKERS).to_numpy(dtype=bool)  # NA is no id: it does not make ids text
    nonempty = cleaned[cleaned.notna() & (cleaned != "") & ~marker]
    if len(nonempty) and nonempty.str.fullmatch(_INTEGER_ID).all() and nonempty.str.contains(".", regex=False).any():
        cleaned = cleaned.str.replace(r"\.0+$", "", regex=True)  # 17850.0 (a CSV) is 17850 (a Parquet file)
    markers = _marker_rows(cleaned, marker, coded.rows_per_value()[:-1][used] if marker.any() else None)
    cleaned = cleaned.mask((cleaned == "") | marker)
    remap, uniques = pd.factorize(cleaned)  # merge ids that differed only by spaces
    remap = np.append(remap, -1)[in_use]
    return (*_in_id_order(coded, remap, pa.array(uniques, type=pa.string())), markers, normalised_rows)


def _in_id_order(coded: _Coded, remap: np.ndarray, names: pa.Array) -> tuple[np.ndarray, pd.Index]:
    """The rows' codes and the distinct ``names`` they point to, in id order (code-point
    order, as Python sorts text). Every engine then lists customers alike, and sums over
    customers add the same numbers in the same order (:mod:`retainkit.kernel`). ``remap``
    takes each entry of ``coded``'s dictionary to its name (−1: none); the names are sorted
    by Arrow (0.2 s for 800k customers), and each row's code is one lookup through both.

    >>> coded = _encode_runs(pa.chunked_array([["b", "a", None, "b"]]))
    >>> codes, names = _in_id_order(coded, np.array([0, 1]), pa.array(["b", "a"]))
    >>> codes.tolist(), names.tolist()
    ([1, 0, -1, 1], ['a', 'b'])
    """
    order = pc.array_sort_indices(names).to_numpy(zero_copy_only=False)
    rank = np.empty(len(order) + 1, dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    rank[-1] = -1  # no id (remap −1, or the dictionary's null entry) is −1
    lookup = rank[np.append(np.asarray(remap, dtype=np.int64), -1)]
    return coded.mapped(lookup), pd.Index(names.take(pa.array(order)).to_pandas(), dtype=object)


@dataclass
class _Coded:
    """An id column as indices into its distinct values, before the final codes are made.

    ``parts`` are integer Arrow arrays indexing ``dictionary`` (null: no id), one per
    chunk; with ``repeats``, one part holding one index per run of equal ids. Cleaning
    works on the dictionary, and the rows' codes are made once, through one lookup
    (:meth:`mapped`): no full-length array per step (at 30M lines each is 120 MB).
    """

    parts: list[pa.Array]
    dictionary: pa.Array
    repeats: np.ndarray | None = None
    may_hold_unused: bool = False  # Parquet's dictionaries may hold ids no row uses
    _rows: np.ndarray | None = None

    def _indices(self, part: pa.Array) -> np.ndarray:
        filled = part.fill_null(len(self.dictionary)) if part.null_count else part
        return filled.to_numpy(zero_copy_only=False)

    def rows_per_value(self) -> np.ndarray:
        """Rows per dictionary entry; the last count is the rows without an id."""
        if self._rows is None:
            size = len(self.dictionary) + 1
            if self.repeats is not None:
                rows = np.bincount(self._indices(self.parts[0]), weights=self.repeats, minlength=size)
                self._rows = rows.astype(np.int64)
            else:
                self._rows = sum((np.bincount(self._indices(p), minlength=size) for p in self.parts),
                                 np.zeros(size, dtype=np.int64))
        return self._rows

    def mapped(self, lookup: np.ndarray) -> np.ndarray:
        """``lookup[index]`` for every row (``lookup[-1]`` for a row without an id), int32,
        written part by part into one array."""
        if self.repeats is not None:
            return np.repeat(lookup[self._indices(self.parts[0])], self.repeats)
        out = np.empty(sum(len(p) for p in self.parts), dtype=np.int32)
        start = 0
        for part in self.parts:
            np.take(lookup, self._indices(part), out=out[start:start + len(part)], mode="clip")
            start += len(part)
        return out


#: What ``str.strip`` removes from ASCII text.
_ASCII_SPACE = "[ \\t\\n\\r\\x0b\\x0c\\x1c-\\x1f]"


def _already_clean(dictionary: pa.Array) -> bool:
    """Whether the distinct ids need none of the cleaning steps (checked in Arrow, no Python
    strings): all ASCII (NFC changes nothing), no surrounding spaces, none empty or a
    missing-value marker, and not integer-valued floats (``17850.0``). Then the cleaning
    would leave every id as it is, so it is skipped; anything else takes the full path."""
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        return False
    if len(dictionary) == 0 or dictionary.null_count:
        return len(dictionary) == 0
    checks = (
        pc.all(pc.string_is_ascii(dictionary)).as_py(),
        not pc.any(pc.match_substring_regex(dictionary, f"^{_ASCII_SPACE}|{_ASCII_SPACE}$")).as_py(),
        not pc.any(pc.equal(pc.utf8_length(dictionary), 0)).as_py(),
        not pc.any(pc.is_in(dictionary, pa.array(MISSING_MARKERS))).as_py(),
    )
    if not all(checks):
        return False
    dotted = pc.match_substring(dictionary, ".")
    return not pc.any(dotted).as_py() or not pc.all(pc.match_substring_regex(dictionary, _INTEGER_ID.pattern)).as_py()


def _marker_rows(distinct: pd.Series, marker: np.ndarray, rows: np.ndarray | None) -> dict[str, int]:
    """Rows per missing-value spelling (``NA``, ``NULL`` …) among the distinct values (SPEC §1),
    given the rows per distinct value."""
    if rows is None or not marker.any():
        return {}
    counts: dict[str, int] = {}
    for index in np.flatnonzero(marker):
        spelling = str(distinct.iloc[index])
        counts[spelling] = counts.get(spelling, 0) + int(rows[index])
    return counts


def _numeric_ids(dictionary: pa.Array) -> pd.Series:
    values = dictionary
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)  # NaN is no id, not −2⁶³
        as_float = values.to_numpy(zero_copy_only=False)
        if np.all(np.isnan(as_float) | (as_float == np.round(as_float))):
            values = pc.cast(values, pa.int64(), safe=False)
    return pd.Series(pc.cast(values, pa.string()).to_pandas(), dtype=object)


def _encode_runs(column: pa.ChunkedArray) -> _Coded:
    """``column`` as indices into its distinct values (:class:`_Coded`).

    Exports that keep a customer's lines together have only the first value of each run
    of equal values hashed; row-group dictionaries (Parquet) are unified, not decoded."""
    if pa.types.is_dictionary(column.type):
        unified = column.unify_dictionaries()  # over two or more chunks, each value once: their union
        if unified.num_chunks == 0:
            return _Coded([], pa.array([], type=column.type.value_type))
        dictionary = unified.chunk(0).dictionary
        parts = [chunk.indices for chunk in unified.chunks]
        if unified.num_chunks == 1:  # one dictionary is kept as written: it may repeat a value, or hold a null
            distinct = pc.dictionary_encode(dictionary)
            parts, dictionary = [pc.take(distinct.indices, parts[0])], distinct.dictionary
        return _Coded(parts, dictionary, may_hold_unused=True)
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    n = len(array)
    if n == 0:
        return _Coded([], pa.array([], type=array.type))
    if not _looks_clustered(array):  # interleaved ids (date-ordered exports): hash every row at once
        encoded = pc.dictionary_encode(array)
        return _Coded([encoded.indices], encoded.dictionary)
    differs = pc.not_equal(array.slice(1), array.slice(0, n - 1))
    null_changes = pc.xor(pc.is_null(array.slice(1)), pc.is_null(array.slice(0, n - 1)))
    differs = pc.fill_null(pc.or_kleene(differs, null_changes), False)
    starts = np.flatnonzero(np.concatenate(([True], differs.to_numpy(zero_copy_only=False))))
    if len(starts) >= n // 2:
        encoded = pc.dictionary_encode(array)
        return _Coded([encoded.indices], encoded.dictionary)
    encoded = pc.dictionary_encode(array.take(pa.array(starts)))
    return _Coded([encoded.indices], encoded.dictionary, repeats=np.diff(np.append(starts, n)))


_SAMPLE = 4096


def _looks_clustered(array: pa.Array) -> bool:
    """Whether equal ids sit in runs (a customer's lines together), judged on evenly spread
    samples of consecutive rows: finding the runs costs a full pass that pays off only then.
    Either way the codes are the same; this only picks the faster way to them."""
    n = len(array)
    if n < 4 * _SAMPLE:
        return True
    changes = 0
    for start in np.linspace(0, n - _SAMPLE, 8).astype(np.int64):
        piece = array.slice(int(start), _SAMPLE)
        differs = pc.not_equal(piece.slice(1), piece.slice(0, _SAMPLE - 1))
        changes += int(pc.sum(pc.cast(pc.fill_null(differs, True), pa.int64())).as_py() or 0)
    return changes < 8 * _SAMPLE // 2


def _encode_order_ids(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, int]:
    """Order codes per row, whether each row's id is a refund id (``C`` + digit), and how
    many rows had no order id (empty, or a missing-value marker: each its own order).

    Sorted ids (either direction, the usual export order) need no hash: each run of equal
    values is one order. Otherwise ids are dictionary-encoded. Like customer ids, ids are
    trimmed on their distinct values (ids equal once trimmed are one order); a row without
    an id is an order of its own.
    """
    if pa.types.is_dictionary(column.type):
        keyed = _dictionary_order_keys(column)
        if keyed is not None:
            return _first_seen_codes(keyed[0]), keyed[1], 0
        column = column.cast(pa.string())
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    heads, lengths = _run_heads(array)
    numeric = _integer_order_keys(heads)
    if numeric is not None:  # 1000123 and C1000123 (most exports): integers, no string hash
        keys, is_refund = numeric
        codes = _first_seen_codes(keys)
        if lengths is None:
            return codes, is_refund, 0
        return np.repeat(codes, lengths), np.repeat(is_refund, lengths), 0
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    n = len(array)
    if n > 1 and array.null_count == 0 and _is_sorted(array.slice(0, _SAMPLE)) and _is_sorted(array):
        differs = pc.not_equal(array.slice(1), array.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        codes = np.concatenate(([0], np.cumsum(differs, dtype=np.int64)))
        distinct_ids = array.take(pa.array(np.flatnonzero(np.concatenate(([True], differs)))))
    else:
        encoded = pc.dictionary_encode(array)
        distinct_ids = encoded.dictionary
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        del encoded
    trimmed = pc.utf8_trim_whitespace(distinct_ids)
    is_marker = pc.is_in(trimmed, pa.array(MISSING_MARKERS))
    if pc.any(is_marker).as_py():  # NA, NULL …: no order id (SPEC §1)
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
    return codes, is_refund_id.to_numpy(zero_copy_only=False)[codes], empty_rows


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
    if n < 2 or array.null_count or not text or not _looks_clustered(array):
        return array, None
    differs = pc.not_equal(array.slice(1), array.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.concatenate(([True], differs)))
    if len(starts) > n * 3 // 4:
        return array, None
    return array.take(pa.array(starts)), np.diff(np.append(starts, n))


def _is_sorted(array: pa.Array) -> bool:
    n = len(array)
    head, tail = array.slice(0, n - 1), array.slice(1)
    return bool(pc.all(pc.less_equal(head, tail)).as_py()) or bool(pc.all(pc.greater_equal(head, tail)).as_py())


#: Digits an int64 key holds with room for the refund bit.
_MAX_KEY_DIGITS = 18


def _integer_order_keys(array: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """Order ids as integer keys when every id is a plain whole number, optionally in the
    refund convention (``C`` + digits): key = 2 × number + (1 for ``C``), so ``123`` and
    ``C123`` stay two orders. Returns (keys, is refund id) per row, or None when any id is
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
        return numbers * 2, np.zeros(len(array), dtype=bool)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    is_refund = pc.or_(pc.starts_with(array, "C"), pc.starts_with(array, "c"))  # no case folding: 4× faster
    digits = pc.utf8_ltrim(array, characters="Cc")
    if pc.any(pc.greater(pc.subtract(pc.binary_length(array), pc.binary_length(digits)), 1)).as_py():
        return None  # CC1 is not the refund of 1: the text path keeps it apart
    plain = pc.and_(pc.ascii_is_decimal(digits), pc.less_equal(pc.binary_length(digits), _MAX_KEY_DIGITS))
    leading_zero = pc.and_(pc.starts_with(digits, "0"), pc.greater(pc.binary_length(digits), 1))
    if not pc.all(pc.and_not(plain, leading_zero)).as_py():
        return None
    refund = is_refund.to_numpy(zero_copy_only=False)
    keys = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False) * 2
    keys += refund
    return keys, refund


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
