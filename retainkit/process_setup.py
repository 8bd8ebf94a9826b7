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
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys

#: ``mallopt`` parameters (glibc's ``malloc.h``).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -3, -4, -8
#: The largest value ``mallopt`` takes (a C int): allocations up to 2 GiB come from the heap,
#: and up to 2 GiB of free memory at its top is kept.
_KEEP_BYTES = 2**31 - 1
_STATE = {"heap_kept": False}


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
