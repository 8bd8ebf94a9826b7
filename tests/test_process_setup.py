"""The command line's process keeps the memory it frees, and Arrow allocates from the same
heap (:mod:`retainkit.process_setup`). Each case runs in a fresh interpreter: the settings
are for a whole process, and the test runner's own must stay as they are."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator settings are glibc's")
_TUNING = ("GLIBC_TUNABLES", "ARROW_DEFAULT_MEMORY_POOL")


def run(code: str, **env: str) -> dict:
    """Run ``code`` in a new interpreter (no allocator tuning in its environment but ``env``);
    it prints one JSON object, returned here."""
    clean = {k: v for k, v in os.environ.items() if k not in _TUNING and not k.startswith("MALLOC_")} | env
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=clean,
                          check=True, timeout=120)
    return json.loads(done.stdout)


FAULTS = """
    import json, resource
    import numpy as np
    from retainkit import process_setup

    def faults_of_a_fresh_array():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        array = np.ones(64 << 20, dtype=np.uint8)  # 64 MiB: above glibc's largest default mmap threshold
        del array
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    default = [faults_of_a_fresh_array() for _ in range(3)]
    kept = process_setup.keep_freed_memory()
    after = [faults_of_a_fresh_array() for _ in range(3)]
    print(json.dumps({"default": default, "kept": kept, "after": after}))
"""


@glibc
def test_memory_freed_is_reused_instead_of_fresh_pages():
    result = run(FAULTS)
    assert result["kept"] is True
    # By default each 64 MiB array is a mapping of its own: fresh pages every time (16,384
    # faults in 4 KiB pages, 32 in huge pages). Kept, the first array grows the heap and the
    # next ones reuse it.
    assert min(result["default"][1:]) >= 32
    assert max(result["after"][1:]) <= min(result["default"][1:]) // 8


@glibc
def test_arrow_allocates_from_the_kept_heap():
    result = run("""
        import json
        from retainkit import process_setup
        kept = process_setup.keep_freed_memory()
        print(json.dumps({"kept": kept, "pool": process_setup.choose_arrow_pool()}))
    """)
    assert result == {"kept": True, "pool": "system"}


@pytest.mark.parametrize("name", ["MALLOC_ARENA_MAX", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"])
def test_the_users_own_allocator_settings_are_kept(name):
    result = run("""
        import json
        import pyarrow as pa
        from retainkit import process_setup
        kept = process_setup.keep_freed_memory()
        try:
            pa.jemalloc_memory_pool()
            expected = "jemalloc"
        except NotImplementedError:  # a pyarrow built without it keeps its default
            expected = pa.default_memory_pool().backend_name
        print(json.dumps({"kept": kept, "pool": process_setup.choose_arrow_pool(), "expected": expected}))
    """, **{name: "glibc.malloc.arena_max=2" if name == "GLIBC_TUNABLES" else "2"})
    assert result["kept"] is False
    assert result["pool"] == result["expected"]


def test_the_users_arrow_pool_is_kept():
    pa = pytest.importorskip("pyarrow")
    try:
        pa.mimalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow is built without mimalloc")
    result = run("""
        import json
        from retainkit import process_setup
        process_setup.keep_freed_memory()
        print(json.dumps({"pool": process_setup.choose_arrow_pool()}))
    """, ARROW_DEFAULT_MEMORY_POOL="mimalloc")
    assert result["pool"] == "mimalloc"
