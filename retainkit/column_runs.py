"""Runs of equal values: in an id column (SPEC §1 ids: customer and order ids) and in
integer codes (an order's lines, a duplicate group).

Exports keep an order's lines together, so its customer and order id repeat line after
line: hashing or parsing only the first value of each run does a third of the work, when
the runs are there (:func:`looks_clustered`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Consecutive rows per sample in :func:`looks_clustered`.
SAMPLE = 4096


def looks_clustered(column: pa.Array) -> bool:
    """Whether equal values sit in runs (a customer's lines together), judged on evenly
    spread samples of consecutive rows: finding the runs costs a full pass that pays off
    only then. Either way the codes are the same; this only picks the faster way to them."""
    n = len(column)
    if n < 4 * SAMPLE:
        return True
    changes = 0
    for start in np.linspace(0, n - SAMPLE, 8).astype(np.int64):
        piece = column.slice(int(start), SAMPLE)
        differs = pc.not_equal(piece.slice(1), piece.slice(0, SAMPLE - 1))
        changes += int(pc.sum(pc.cast(pc.fill_null(differs, True), pa.int64())).as_py() or 0)
    return changes < 8 * SAMPLE // 2


def run_starts_of(column: pa.Array) -> np.ndarray:
    """The rows where a run of equal values starts (row 0 always; a null is a value of its own
    kind, equal to the null beside it).

    >>> run_starts_of(pa.array(["a", "a", None, None, "b", "b"])).tolist()
    [0, 2, 4]
    """
    n = len(column)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    later, earlier = column.slice(1), column.slice(0, n - 1)
    differs = pc.not_equal(later, earlier)
    if column.null_count:
        differs = pc.or_kleene(differs, pc.xor(pc.is_null(later), pc.is_null(earlier)))
    differs = pc.fill_null(differs, False)
    return np.flatnonzero(np.concatenate(([True], differs.to_numpy(zero_copy_only=False))))


def run_starts(codes: np.ndarray) -> np.ndarray:
    """True where a run of equal values starts.

    >>> run_starts(np.array([4, 4, 7, 4])).tolist()
    [True, False, True, True]
    """
    starts = np.empty(len(codes), dtype=bool)
    starts[:1] = True
    np.not_equal(codes[1:], codes[:-1], out=starts[1:])
    return starts


def one_array(column: pa.ChunkedArray) -> pa.Array:
    """``column`` as one array (its chunks joined, when it has several)."""
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
