"""Ids → integer codes (SPEC §1): customer, order, referrer and product ids.

Ids are trimmed and compared on their distinct values; missing-value markers (``NA``,
``NULL`` …) are no id and counted by spelling; ``17850.0`` is ``17850`` when every id of
the column is an integer. After this, every reduction works on integer arrays.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from retainkit.column_runs import looks_clustered, one_array, run_starts_of
from retainkit.order_ids import encode_order_ids, marker_rows
from retainkit.parsing import MISSING_MARKERS

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
        order=optional("order_id", encode_order_ids),
        referrer=optional("referred_by", _encode_text_ids),
        product=optional("product", _encode_text_ids),
    )


def _encode_text_ids(column: pa.ChunkedArray) -> tuple[np.ndarray, pd.Index, dict[str, int], int]:
    """Codes (int32, -1 for empty), the distinct cleaned ids they point to, the rows per
    missing-value marker (``NA``, ``NULL`` … are no id, SPEC §1), and how many rows' ids
    changed when trimmed and brought to Unicode NFC.

    Ids are stripped and compared in NFC: ``Nguyễn`` typed precomposed and decomposed (NFD,
    as macOS tools write Vietnamese) is one id; ``An`` and ``Ân`` stay two. Empty text is no
    id; integer-valued floats (``17850.0``, as some tools write integer ids) lose their
    ``.0`` when every id in the column is an integer, so ``17850`` from one file and
    ``17850.0`` from another are one customer.
    Every step works on the distinct values; the rows' codes are made once, at the end.
    """
    coded = _encode_runs(column)
    used = coded.rows_per_value()[:-1] > 0 if coded.may_hold_unused else np.ones(len(coded.dictionary), dtype=bool)
    in_use = np.where(used, np.cumsum(used) - 1, -1)  # dictionary entry → id in use (−1: no row has it)
    dictionary = coded.dictionary if used.all() else coded.dictionary.filter(pa.array(used))
    present, remap = _blanks_set_aside(dictionary, in_use)
    if _already_clean(present):  # nothing to trim, compose, rewrite or mark: the codes stand
        return (*_in_id_order(coded, remap, present), {}, 0)
    names = pd.Series(dictionary.to_pandas(), dtype=object)
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        names = _numeric_ids(dictionary)
    written = names.astype("string")
    cleaned = written.str.strip().str.normalize("NFC")
    marker = cleaned.isin(MISSING_MARKERS).to_numpy(dtype=bool)  # NA is no id: it does not make ids text
    changed = ((cleaned != written).fillna(False).to_numpy(dtype=bool) & ~marker
               & (cleaned != "").fillna(False).to_numpy(dtype=bool))  # trimmed or composed, still an id
    normalised_rows = int(coded.rows_per_value()[:-1][used][changed].sum()) if changed.any() else 0
    nonempty = cleaned[cleaned.notna() & (cleaned != "") & ~marker]
    if len(nonempty) and nonempty.str.fullmatch(_INTEGER_ID).all() and nonempty.str.contains(".", regex=False).any():
        cleaned = cleaned.str.replace(r"\.0+$", "", regex=True)  # 17850.0 (a CSV) is 17850 (a Parquet file)
    markers = marker_rows(cleaned, marker, coded.rows_per_value()[:-1][used] if marker.any() else None)
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
                self._rows = np.zeros(size, dtype=np.int64)
                for batch in self._batches(size):
                    self._rows += np.bincount(batch, minlength=size)
        return self._rows

    def _batches(self, size: int) -> Iterator[np.ndarray]:
        """The parts' indices, small parts joined until a batch holds ``size`` rows: a count
        per batch then costs at most twice its rows, however many parts (a CSV has one per
        1 MB block, and each count allocates ``size`` entries)."""
        batch: list[np.ndarray] = []
        held = 0
        for part in self.parts:
            batch.append(self._indices(part))
            held += len(part)
            if held >= size:
                yield batch[0] if len(batch) == 1 else np.concatenate(batch)
                batch, held = [], 0
        if batch:
            yield batch[0] if len(batch) == 1 else np.concatenate(batch)

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


def _blanks_set_aside(dictionary: pa.Array, in_use: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """The distinct ids without empty text and null — no id (SPEC §1); a Parquet file from
    pandas may hold a guest's customer as ``""`` — and ``in_use`` (dictionary entry → id)
    pointing past them (−1). Found in Arrow, so clean ids beside guest lines stay on the
    fast path (1.8M ids cleaned one by one in Python: 2.4 s)."""
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        return dictionary, in_use
    blank = pc.fill_null(pc.equal(pc.binary_length(dictionary), 0), True)
    if not pc.any(blank).as_py():
        return dictionary, in_use
    keep = ~blank.to_numpy(zero_copy_only=False)
    kept_index = np.where(keep, np.cumsum(keep) - 1, -1)
    return dictionary.filter(pa.array(keep)), np.append(kept_index, -1)[in_use]


def _already_clean(dictionary: pa.Array) -> bool:
    """Whether the distinct ids, blanks set aside (:func:`_blanks_set_aside`), need none of
    the cleaning steps (checked in Arrow, no Python strings): all ASCII (NFC changes
    nothing), no surrounding spaces, no missing-value marker, and not integer-valued floats
    (``17850.0``). Then the cleaning would leave every id as it is, so it is skipped;
    anything else takes the full path."""
    if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
        return False
    if len(dictionary) == 0:
        return True
    checks = (
        pc.all(pc.string_is_ascii(dictionary)).as_py(),
        not pc.any(pc.match_substring_regex(dictionary, f"^{_ASCII_SPACE}|{_ASCII_SPACE}$")).as_py(),
        not pc.any(pc.is_in(dictionary, pa.array(MISSING_MARKERS))).as_py(),
    )
    if not all(checks):
        return False
    dotted = pc.match_substring(dictionary, ".")
    return not pc.any(dotted).as_py() or not pc.all(pc.match_substring_regex(dictionary, _INTEGER_ID.pattern)).as_py()


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
    array = one_array(column)  # a CSV's blocks hashed one by one: 10M lines, 2.2 s in futex waits, not 1.0
    n = len(array)
    if n == 0:
        return _Coded([], pa.array([], type=array.type))
    starts = run_starts_of(array) if looks_clustered(array) else None
    if starts is None or len(starts) >= n // 2:  # interleaved ids (date-ordered exports): hash every row
        encoded = pc.dictionary_encode(array)
        return _Coded([encoded.indices], encoded.dictionary)
    encoded = pc.dictionary_encode(array.take(pa.array(starts)))
    return _Coded([encoded.indices], encoded.dictionary, repeats=np.diff(np.append(starts, n)))
