"""How the command line's process is set up before it computes: BLAS threads and memory.

The command line calls these (:func:`retainkit.cli.main` as it starts, the Arrow pool when it
first loads an export), and so do the benchmark scripts; ``import retainkit`` in a notebook
leaves the user's process as it is.

Memory: the work is a series of column-sized arrays (NumPy and Arrow), each made, used and
freed. By default glibc gives every allocation above 32 MiB its own mapping and unmaps it
when freed, and Arrow's jemalloc hands freed memory back after a second; every page of the
next array is then a fresh page — a fault and a zeroing each, and on a virtual machine a
costly one (the host backs the page then). So the process keeps what it frees instead
(:func:`keep_freed_memory`) and Arrow allocates from the same heap (:func:`choose_arrow_pool`),
so that memory freed by one step is reused by the next. Measured paired against the
defaults (``kpis``, real-export shape, Parquet): 10M lines 0.82× wall, peak 1.53 against
1.97 GiB; 30M lines 0.74× wall (system time 12.1 → 7.0 s), peak 4.44 against 4.19 GiB;
1M lines the same wall, peak 270 against 393 MiB. A process whose settings were only partly
taken keeps jemalloc for Arrow.

Page size: NumPy asks for huge pages (2 MiB) for its large arrays. A virtual machine whose
kernel reports free memory to its host (a balloon with free page reporting) hands back
exactly its free 2 MiB blocks, so every huge page is memory the host must back afresh,
while small pages come first from the free memory the guest still holds in smaller
blocks. :func:`choose_page_size` takes small pages when the command's expected peak fits
in that memory and huge pages when it does not (every page is fresh then, and a huge page
is one fault instead of 512).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import mmap
import os
import platform
import sys
from collections.abc import Sequence

#: ``mallopt`` parameters (glibc's ``malloc.h``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -3, -4, -8
#: The largest value ``mallopt`` takes (a C int): allocations up to 2 GiB come from the heap,
#: and up to 2 GiB of free memory at its top is kept.
_KEEP_BYTES = 2**31 - 1
_STATE = {"heap_kept": False}
#: Peak bytes of a command per byte of a text export read, and per row of a Parquet one
#: (``kpis``/``customers``, real-export shape, 10M and 30M lines: 2.8–3.2 and 140–150).
_PEAK_PER_TEXT_BYTE, _PEAK_PER_PARQUET_ROW = 3, 150
_PAGE_REPORTING_ORDER = "/sys/module/page_reporting/parameters/page_reporting_order"
#: The virtio balloons bound, and ``VIRTIO_BALLOON_F_REPORTING``: the bit of a device's
#: ``features`` (one character per bit) that says it reports free pages to the host.
_BALLOONS, _BALLOON_REPORTS = "/sys/bus/virtio/drivers/virtio_balloon", 5
_PARQUET_MAGIC = b"PAR1"
#: gzip; zip (xlsx, xlsm, ods); OLE2 (xls).
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def prepare_command_line() -> None:
    """What the command line does as it starts: :func:`single_threaded_blas`,
    :func:`keep_freed_memory`, :func:`terminal_width_from_the_terminal`."""
    single_threaded_blas()
    keep_freed_memory()
    terminal_width_from_the_terminal()


def terminal_width_from_the_terminal() -> None:
    """Forget a ``COLUMNS`` that is no width (``0``, empty, text): Rich would take it as given
    and print every table 0 characters wide, i.e. nothing, and exit 0 — a blank report in a
    job whose environment exports ``COLUMNS=0`` (Python's ``shutil`` reads 0 as unknown).
    The terminal's width, or 80 in a pipe, is used instead."""
    columns = os.environ.get("COLUMNS")
    if columns is None:
        return
    try:
        width = int(columns)
    except ValueError:  # text, empty, or a digit int() does not take ("²")
        width = 0
    if width <= 0:
        del os.environ["COLUMNS"]


def single_threaded_blas() -> None:
    """One OpenBLAS thread unless the user set ``OPENBLAS_NUM_THREADS``: set before NumPy and
    SciPy load it. The model fits (L-BFGS-B on 3–4 parameters) call BLAS on vectors of that
    length, where more threads only wait on each other: on a busy 2-core machine a BG/NBD
    fit took 20 s with them and 0.9 s without. Nothing else retainkit does is BLAS-bound."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse: allocations up to 2 GiB from the heap instead
    of a mapping of their own, no trimming of the heap's top below 2 GiB, and one arena for
    every thread (NumPy's arrays made on the worker threads of :mod:`retainkit.normalise`
    are then reused by the main thread's steps). Call before threads start. Returns whether
    it was done: not on another C library, nor when the user tunes glibc through its
    environment variables.

    glibc before 2.35 refuses a mapping threshold above 32 MiB; there no allocation gets a
    mapping of its own (``M_MMAP_MAX`` 0), which keeps large arrays in the heap as well."""
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc" or _user_tunes_glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = [  # each one tried, whatever the others gave
        mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES) == 1 or mallopt(_M_MMAP_MAX, 0) == 1,
        mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES) == 1,
        mallopt(_M_ARENA_MAX, 1) == 1,
    ]
    _STATE["heap_kept"] = all(applied)
    return _STATE["heap_kept"]


def _user_tunes_glibc() -> bool:
    """Whether the user set glibc's allocator through its environment (``GLIBC_TUNABLES``,
    ``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_`` …): then it is left as they set it."""
    return "GLIBC_TUNABLES" in os.environ or any(name.startswith("MALLOC_") for name in os.environ)


def choose_arrow_pool() -> str:
    """Arrow's memory pool, unless the user chose one with ``ARROW_DEFAULT_MEMORY_POOL``: the
    system allocator when :func:`keep_freed_memory` made it keep freed memory (one heap for
    Arrow and NumPy, so either reuses what the other freed), else jemalloc where the build
    has it (10M lines: 2.8 s of system time zeroing fresh pages against mimalloc's 4.1 s).
    Returns the pool's backend name."""
    import pyarrow as pa

    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        if _STATE["heap_kept"]:
            pa.set_memory_pool(pa.system_memory_pool())
        else:
            with contextlib.suppress(NotImplementedError):  # a pyarrow built without jemalloc keeps its default
                pa.set_memory_pool(pa.jemalloc_memory_pool())
    return pa.default_memory_pool().backend_name


def choose_page_size(files: Sequence[str]) -> bool | None:
    """Tell NumPy whether its large arrays go on huge pages for the command that reads
    ``files``: not when the kernel reports free memory to a host and the expected peak
    (:func:`expected_peak_bytes`) fits in the free memory it still holds below the
    reporting order (:func:`memory_held_in_small_blocks`); yes otherwise. Returns the
    choice, or None when it was left as it was (no page reporting, the user set
    ``NUMPY_MADVISE_HUGEPAGE``, an input of unknown size such as stdin or a compressed
    file, or a system file that could not be read).

    Measured (``kpis``, real-export shape, Parquet, paired, 1.98 GiB held in small blocks):
    10M lines (peak 1.4 GiB) 0.82× wall with small pages (system time 2.1 → 0.8 s); 20M
    (2.7 GiB) 1.06×; 30M (4.0 GiB) 1.29× — huge pages there."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return None
    try:
        held = memory_held_in_small_blocks()
        peak = expected_peak_bytes(files) if held is not None else None
    except (OSError, ValueError):  # a file gone meanwhile, an unexpected /proc: only a tuning
        return None
    if held is None or peak is None:
        return None
    huge = peak > held
    _set_numpy_huge_pages(huge)
    return huge


def expected_peak_bytes(files: Sequence[str]) -> int | None:
    """A command's peak memory on ``files``, from what they hold: rows × 150 B for Parquet
    (its compression varies too much for bytes to tell), bytes × 3 for text. None when a
    file's size is unknown (stdin, a pipe) or says little of its rows (gzip, a workbook:
    compressed, and known by their first bytes, whatever their names)."""
    total = 0
    for name in files:
        if not os.path.isfile(name):
            return None
        with open(name, "rb") as file:
            magic = file.read(4)
        if magic == _PARQUET_MAGIC:
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                total += pq.read_metadata(name).num_rows * _PEAK_PER_PARQUET_ROW
                continue
            except pa.ArrowException:  # not Parquet after all: the reader says so later
                return None
        if magic.startswith(_COMPRESSED_MAGIC):
            return None
        total += os.path.getsize(name) * _PEAK_PER_TEXT_BYTE
    return total


def memory_held_in_small_blocks(*, buddyinfo: str | None = None, order: int | None = None) -> int | None:
    """Bytes of free memory in blocks below the order the kernel reports to its host
    (``/proc/buddyinfo``: free blocks per order, each ``2**order`` pages), or None when no
    device reports free pages (a physical machine, or a VM without free page reporting)."""
    if order is None:
        order = _reporting_order()
        if order is None:
            return None
    if buddyinfo is None:
        with open("/proc/buddyinfo", encoding="ascii") as info:
            buddyinfo = info.read()
    page = mmap.PAGESIZE
    held = 0
    for line in buddyinfo.splitlines():
        counts = line.split()[4:]  # "Node 0, zone Normal c0 c1 …"
        held += sum(int(count) * (page << size) for size, count in enumerate(counts[:order]))
    return held


def _reporting_order() -> int | None:
    """The order of the free blocks the kernel reports to its host, when a virtio balloon
    with free page reporting is bound; else None."""
    try:
        with open(_PAGE_REPORTING_ORDER, encoding="ascii") as param:
            order = int(param.read())
    except (OSError, ValueError):
        return None
    for device in glob.glob(os.path.join(_BALLOONS, "virtio*")):
        try:
            with open(os.path.join(device, "features"), encoding="ascii") as features:
                if features.read()[_BALLOON_REPORTS:_BALLOON_REPORTS + 1] == "1":
                    return order
        except OSError:
            continue
    return None


def _set_numpy_huge_pages(enabled: bool) -> None:
    """NumPy's switch for ``madvise(MADV_HUGEPAGE)`` on its large arrays (what the
    ``NUMPY_MADVISE_HUGEPAGE`` environment variable sets at import)."""
    import numpy as np

    for core in ("_core", "core"):  # NumPy 2, NumPy 1
        setter = getattr(getattr(getattr(np, core, None), "multiarray", None), "_set_madvise_hugepage", None)
        if setter is not None:
            setter(enabled)
            return
