"""Where Arrow's CSV reader cuts a file into blocks, and whether a cut falls inside a quoted value.

Arrow reads ``block_size`` bytes at a time. Unless told that values may hold newlines (which
makes it track quotes everywhere, about 40% more reading time), it ends each block at the
block's last newline (``\\n`` or ``\\r``) and completes the row it cut at the next block's
first newline. A newline inside a quoted value there splits a row between blocks: rows are
dropped or shifted, sometimes without an error. :func:`cut_inside_quotes` says, exactly,
whether any such newline of a file sits inside quotes.

Whether a newline is inside quotes follows Arrow's CSV lexer, not quote parity: a quote
opens a quoted value only at the start of a field; inside one, ``""`` is a quote; after the
closing quote, and anywhere in an unquoted value (``12" pizza``), a quote is plain text. So
a maximal run of ``n`` quotes whose preceding byte starts a field (a delimiter, a newline,
the start of the file) *toggles* the state when ``n`` is odd; an odd run after any other
byte *closes* (in a quoted value it ends it; outside, its quotes are text); an even run
changes nothing. The state just before a newline is therefore the parity of the toggles
since the last closing run — found by looking back from the newline with ``rfind``, which
stops at the nearest closing quote, and around each block end with numpy. Cost: about one
``memrchr`` pass over the file, a few milliseconds per block end.

A file of a few blocks or more is read by two readers at once, the second from a record
start near the middle (:func:`split_point`); then the block ends of both readers are checked.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")
_BOM = b"\xef\xbb\xbf"
#: Quote runs looked back over for one newline before giving up (then Arrow tracks quotes).
LOOK_BACK_RUNS = 1 << 16
#: A whole file: its bytes, or a read-only map of it.
Data = bytes | mmap.mmap


@dataclass(frozen=True)
class BlockPlan:
    """How Arrow reads a file: whether it must track quotes to find its blocks' ends, and the
    byte where a second reader may start so that two read the file side by side (or None)."""

    track_quotes: bool
    split: int | None = None


def plan_file(source: str | bytes, block_size: int, delimiter: str = ",", window: int = 1 << 16) -> BlockPlan:
    """:func:`plan_blocks` of a file's bytes, or of a file read through a read-only map
    (quotes tracked, one reader, when it cannot be mapped)."""
    if isinstance(source, bytes):
        return plan_blocks(source, block_size, delimiter, window)
    path = source
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size <= block_size:
                return BlockPlan(track_quotes=False)
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                return plan_blocks(mapped, block_size, delimiter, window)
    except (OSError, ValueError, BufferError):
        return BlockPlan(track_quotes=True)


def plan_blocks(data: Data, block_size: int, delimiter: str = ",", window: int = 1 << 16) -> BlockPlan:
    """Two readers side by side (:func:`split_point`) where that is safe, else one, tracking
    quotes only when one of its block ends falls on a newline inside quotes."""
    split = split_point(data, block_size, delimiter, window)
    if split is not None:
        return BlockPlan(track_quotes=False, split=split)
    return BlockPlan(track_quotes=cut_inside_quotes(data, block_size, delimiter, window))


def split_point(data: Data, block_size: int, delimiter: str = ",", window: int = 1 << 16) -> int | None:
    """The start of the record after the first newline past the block end nearest the middle,
    where a second reader can start; None when either reader would have under a block, or when a
    block end of either reader (the first reads up to the split, the second from it, each
    cutting every ``block_size`` bytes of its own) falls on a newline inside quotes."""
    size = len(data)
    middle = round(size / 2 / block_size) * block_size
    if middle < block_size or middle + block_size >= size:
        return None
    newline = _find_newline(data, middle, min(middle + block_size, size))
    if newline < 0:
        return None
    start = newline + (2 if data[newline : newline + 2] == b"\r\n" else 1)
    if data[start : start + len(_BOM)] == _BOM:  # a reader drops a BOM at its start; one reader keeps it
        return None
    ends = [*range(block_size, start, block_size), *range(start + block_size, size, block_size)]
    return None if cut_inside_quotes(data, block_size, delimiter, window, ends=ends) else start


def cut_inside_quotes(data: Data, block_size: int, delimiter: str = ",", window: int = 1 << 16,
                      *, ends: Iterable[int] | None = None) -> bool:
    """Whether a newline at which Arrow may end or complete a block lies inside a quoted value.

    Checked, for each block end (every ``block_size`` bytes, or ``ends``, rising): the block's
    last newline, the next block's first newline, and (a margin against any difference in
    how Arrow cuts) every newline within ``window`` bytes of the block end. True also when
    the look-back gives up (see :data:`LOOK_BACK_RUNS`).
    """
    size = len(data)
    if size <= block_size:
        return False
    states = _QuoteStates(data, delimiter)
    for end in range(block_size, size, block_size) if ends is None else ends:
        last = _rfind_newline(data, end - block_size, end)
        low = max(end - window, states.position)
        if states.position <= last < low and states.inside(last) is not False:
            return True
        low = max(low, states.position)
        while low < size and data[low] == _QUOTE:  # a window never starts inside a run of quotes
            low += 1
        high = min(end + window, size)
        if low < high and (states.inside(low) is None or states.inside_window(low, high)):
            return True
        first = _find_newline(data, end, min(end + block_size, size))
        if first >= high and states.inside(first) is not False:
            return True
    return False


class _QuoteStates:
    """The quote state just before positions asked for in increasing order (1 = inside)."""

    def __init__(self, data: Data, delimiter: str) -> None:
        self.data = data
        self.field_starts = frozenset({ord(delimiter), _LF, _CR})
        self.start = len(_BOM) if data[:3] == _BOM else 0
        self.position, self.state = 0, 0  # the state before ``position`` (never inside a quote run)

    def inside(self, x: int) -> bool | None:
        """The state before byte ``x`` (``x`` ≥ the last position asked; not inside a quote run),
        or None when more than :data:`LOOK_BACK_RUNS` runs would have to be followed."""
        data, toggles, runs, upto = self.data, 0, 0, x
        while True:
            quote = data.rfind(b'"', self.position, upto)
            if quote < 0:
                state = self.state ^ (toggles & 1)
                break
            first = quote
            while first > self.position and data[first - 1] == _QUOTE and runs <= LOOK_BACK_RUNS:
                first -= 1
                runs += 1
            runs += 1
            if runs > LOOK_BACK_RUNS:
                return None
            if (quote - first) % 2 == 0:  # an odd run
                if first <= self.start or data[first - 1] in self.field_starts:
                    toggles += 1
                else:
                    state = toggles & 1  # it closes: outside quotes after it
                    break
            upto = first
        self.position, self.state = x, state
        return bool(state)

    def inside_window(self, low: int, high: int) -> bool:
        """Whether any newline in ``[low, high)`` is inside quotes; the state at ``low`` is known
        (:meth:`inside` was asked for it). Leaves the state at the window's last newline."""
        view = np.frombuffer(memoryview(self.data)[max(low - 1, 0) : high], dtype=np.uint8)
        shift = 1 if low > 0 else 0
        newlines = np.flatnonzero((view == _LF) | (view == _CR))
        newlines = newlines[newlines >= shift]
        if newlines.size == 0:
            return False
        quotes = np.flatnonzero(view == _QUOTE)
        quotes = quotes[quotes >= shift]
        states = np.full(newlines.size, self.state, dtype=np.int64)
        if quotes.size:
            states = _states_at(view, quotes, newlines, self.state, self._field_start(view, low, shift))
        del view
        last = int(newlines[-1]) - shift + low
        self.position, self.state = last, int(states[-1])
        return bool(states.any())

    def _field_start(self, view: np.ndarray, low: int, shift: int) -> np.ndarray:
        """Per byte of ``view``: does it start a field (so that a quote after it opens one)?"""
        starts = np.isin(view, np.fromiter(self.field_starts, dtype=np.uint8))
        before_start = np.arange(view.size) + low - shift < self.start  # the file's start, after a BOM
        return starts | before_start


def _states_at(view: np.ndarray, quotes: np.ndarray, newlines: np.ndarray, state: int,
               field_start: np.ndarray) -> np.ndarray:
    """The state before each newline, from the runs of ``quotes`` (indices into ``view``)."""
    begins = np.ones(quotes.size, dtype=bool)
    begins[1:] = quotes[1:] != quotes[:-1] + 1
    heads = np.flatnonzero(begins)
    lengths = np.diff(np.append(heads, quotes.size))
    starts = quotes[heads]
    odd = lengths % 2 == 1
    opens_at_start = np.where(starts > 0, field_start[np.maximum(starts - 1, 0)], True)
    toggle = odd & opens_at_start
    close = odd & ~opens_at_start
    count = np.cumsum(toggle)
    last_close = np.maximum.accumulate(np.where(close, np.arange(close.size), -1))
    base = np.where(last_close >= 0, count[np.maximum(last_close, 0)], 0)
    after = np.where(last_close >= 0, 0, state) + count - base  # state after each run, before % 2
    run_ends = starts + lengths - 1
    before = np.searchsorted(run_ends, newlines) - 1
    return np.where(before >= 0, after[np.maximum(before, 0)] % 2, state)


def _find_newline(data: Data, start: int, end: int) -> int:
    lf = data.find(b"\n", start, end)
    cr = data.find(b"\r", start, lf if lf >= 0 else end)
    return cr if cr >= 0 else lf


def _rfind_newline(data: Data, start: int, end: int) -> int:
    lf = data.rfind(b"\n", start, end)
    cr = data.rfind(b"\r", max(start, lf + 1), end)
    return cr if cr >= 0 else lf


class ByteRange:
    """Bytes ``[start, end)`` of a file as a stream (``end`` None: to the end), for one of the
    readers of a split file (:func:`split_point`)."""

    def __init__(self, path: str, start: int, end: int | None) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._file.seek(start)
        self._left = None if end is None else end - start
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        if self._left is not None:
            size = self._left if size < 0 else min(size, self._left)
        data = self._file.read(size) if size >= 0 else self._file.read()
        if self._left is not None:
            self._left -= len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._file.close()
        self.closed = True


__all__: Sequence[str] = ("LOOK_BACK_RUNS", "BlockPlan", "ByteRange", "cut_inside_quotes", "plan_blocks",
                          "plan_file", "split_point")
