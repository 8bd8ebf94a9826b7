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


class FakeMallopt:
    """``mallopt`` that records its calls and refuses the parameters in ``refused``."""

    def __init__(self, refused: tuple[int, ...] = ()):
        self.calls: list[tuple[int, int]] = []
        self.refused = refused

    def __call__(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 0 if param in self.refused else 1


def fake_libc(monkeypatch, mallopt: FakeMallopt) -> None:
    from retainkit import process_setup
    monkeypatch.setattr(process_setup.sys, "platform", "linux")
    monkeypatch.setattr(process_setup.platform, "libc_ver", lambda: ("glibc", "2.31"))
    monkeypatch.setattr(process_setup.ctypes, "CDLL", lambda _name: type("Libc", (), {"mallopt": mallopt})())
    monkeypatch.setitem(process_setup._STATE, "heap_kept", False)
    for name in [k for k in os.environ if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"]:
        monkeypatch.delenv(name)


def test_older_glibc_keeps_large_arrays_in_the_heap_without_own_mappings(monkeypatch):
    from retainkit import process_setup
    mallopt = FakeMallopt(refused=(-3,))  # before 2.35: no threshold above 32 MiB
    fake_libc(monkeypatch, mallopt)
    assert process_setup.keep_freed_memory() is True
    assert mallopt.calls == [(-3, 2**31 - 1), (-4, 0), (-1, 2**31 - 1), (-8, 1)]


def test_a_setting_refused_is_no_kept_heap_and_every_setting_is_tried(monkeypatch):
    from retainkit import process_setup
    mallopt = FakeMallopt(refused=(-8,))
    fake_libc(monkeypatch, mallopt)
    assert process_setup.keep_freed_memory() is False
    assert [param for param, _ in mallopt.calls] == [-3, -1, -8]
    assert process_setup._STATE["heap_kept"] is False


def test_no_mallopt_to_call_leaves_the_process_as_it_is(monkeypatch):
    from retainkit import process_setup
    fake_libc(monkeypatch, FakeMallopt())

    def no_libc(_name):
        raise OSError("cannot load")
    monkeypatch.setattr(process_setup.ctypes, "CDLL", no_libc)
    assert process_setup.keep_freed_memory() is False


def test_other_c_libraries_are_left_alone(monkeypatch):
    from retainkit import process_setup
    mallopt = FakeMallopt()
    fake_libc(monkeypatch, mallopt)
    monkeypatch.setattr(process_setup.platform, "libc_ver", lambda: ("", ""))  # musl
    assert process_setup.keep_freed_memory() is False
    assert mallopt.calls == []


BUDDYINFO = """\
Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3
Node 0, zone   Normal     10      4      0      0      0      0      0      0      2      5      7
"""


def test_memory_held_is_the_free_blocks_below_the_reporting_order():
    from retainkit import process_setup
    # Order 9 (2 MiB) and up is reported to the host. Held: DMA has one block of 1 MiB
    # (order 8); Normal has 10 blocks of 4 KiB, 4 of 8 KiB and 2 of 1 MiB.
    held = process_setup.memory_held_in_small_blocks(buddyinfo=BUDDYINFO, order=9)
    assert held == (1 << 20) + 10 * 4096 + 4 * 8192 + 2 * (1 << 20)
    assert process_setup.memory_held_in_small_blocks(buddyinfo=BUDDYINFO, order=1) == 10 * 4096


def test_no_free_page_reporting_means_nothing_is_held_back(monkeypatch):
    from retainkit import process_setup
    monkeypatch.setattr(process_setup, "_PAGE_REPORTING_ORDER", "/nonexistent/page_reporting_order")
    assert process_setup.memory_held_in_small_blocks(buddyinfo=BUDDYINFO) is None


def test_expected_peak_is_three_bytes_a_byte_of_text_and_150_a_parquet_row(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from retainkit import process_setup
    text = tmp_path / "orders.csv"
    text.write_bytes(b"x" * 1000)
    table = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"customer_id": ["a"] * 40}), table)
    assert process_setup.expected_peak_bytes([str(text)]) == 3000
    assert process_setup.expected_peak_bytes([str(text), str(table)]) == 3000 + 40 * 150
    not_parquet = tmp_path / "named.parquet"
    not_parquet.write_bytes(b"y" * 10)  # the reader will say what it is; its size still counts
    assert process_setup.expected_peak_bytes([str(not_parquet)]) == 30
    assert process_setup.expected_peak_bytes(["-"]) is None


CHOICE = """
    import json, sys
    from numpy._core import multiarray
    from retainkit import process_setup
    process_setup.memory_held_in_small_blocks = lambda: int(sys.argv[1]) if sys.argv[1] != "none" else None
    multiarray._set_madvise_hugepage(sys.argv[3] == "huge")  # as it was before the choice
    choice = process_setup.choose_page_size([sys.argv[2]])
    print(json.dumps({"choice": choice, "huge": multiarray._set_madvise_hugepage(True)}))
"""


@pytest.mark.parametrize(("held", "before", "expected", "huge"), [
    ("1000000", "huge", False, False),  # the peak (3000 B) fits: small pages
    ("100", "small", True, True),  # it does not: huge pages
    ("none", "huge", None, True),  # no page reporting: NumPy's switch untouched
    ("none", "small", None, False),
])
def test_numpy_takes_huge_pages_only_when_the_peak_outgrows_the_memory_held(tmp_path, held, before, expected, huge):
    pytest.importorskip("numpy._core")  # NumPy 2's module path
    text = tmp_path / "orders.csv"
    text.write_bytes(b"x" * 1000)  # expected peak 3000 B
    clean = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CHOICE), held, str(text), before],
                          capture_output=True, text=True, env=clean, check=True, timeout=120)
    assert json.loads(done.stdout) == {"choice": expected, "huge": huge}


def test_the_users_numpy_setting_is_left_as_they_set_it(monkeypatch, tmp_path):
    from retainkit import process_setup
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    monkeypatch.setattr(process_setup, "memory_held_in_small_blocks", lambda: 10**12)
    monkeypatch.setattr(process_setup, "_set_numpy_huge_pages", lambda _on: pytest.fail("NumPy's switch was set"))
    text = tmp_path / "orders.csv"
    text.write_bytes(b"x")
    assert process_setup.choose_page_size([str(text)]) is None


def test_compressed_inputs_have_no_expected_peak_whatever_their_names(tmp_path):
    import gzip

    from retainkit import process_setup
    packed = tmp_path / "orders.csv"  # gzip under a plain name: its size says little of its rows
    packed.write_bytes(gzip.compress(b"customer_id,order_date\n" * 1000))
    workbook = tmp_path / "orders.xlsx"
    workbook.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    assert process_setup.expected_peak_bytes([str(packed)]) is None
    assert process_setup.expected_peak_bytes([str(workbook)]) is None


def test_page_reporting_is_a_bound_balloon_with_its_reporting_bit(monkeypatch, tmp_path):
    from retainkit import process_setup
    order = tmp_path / "page_reporting_order"
    order.write_text("9\n")
    device = tmp_path / "virtio_balloon" / "virtio0"
    device.mkdir(parents=True)
    monkeypatch.setattr(process_setup, "_PAGE_REPORTING_ORDER", str(order))
    monkeypatch.setattr(process_setup, "_BALLOONS", str(tmp_path / "virtio_balloon"))
    (device / "features").write_text("0110010100000000\n")  # bit 5 set (bits 1, 2, 5, 7)
    assert process_setup._reporting_order() == 9
    (device / "features").write_text("0110000100000000\n")  # a balloon that does not report
    assert process_setup._reporting_order() is None
    order.unlink()  # a kernel without page reporting
    (device / "features").write_text("0110010100000000\n")
    assert process_setup._reporting_order() is None


@pytest.mark.parametrize("failure", [ValueError("invalid literal for int()"), FileNotFoundError("orders.csv")])
def test_a_system_file_that_cannot_be_read_leaves_numpy_as_it_is(monkeypatch, tmp_path, failure):
    # An unexpected /proc/buddyinfo (a ValueError parsing it) or an input gone meanwhile: the
    # tuning is skipped, never the command failed.
    from retainkit import process_setup
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.setattr(process_setup, "_reporting_order", lambda: 9)

    def broken(*_args, **_kwargs):
        raise failure
    target = "expected_peak_bytes" if isinstance(failure, OSError) else "memory_held_in_small_blocks"
    monkeypatch.setattr(process_setup, target, broken)
    if target == "expected_peak_bytes":
        monkeypatch.setattr(process_setup, "memory_held_in_small_blocks", lambda: 10**12)
    monkeypatch.setattr(process_setup, "_set_numpy_huge_pages", lambda _on: pytest.fail("NumPy's switch was set"))
    assert process_setup.choose_page_size([str(tmp_path / "orders.csv")]) is None


def test_a_malformed_buddyinfo_is_a_value_error_the_choice_catches():
    from retainkit import process_setup
    with pytest.raises(ValueError, match="invalid literal"):
        process_setup.memory_held_in_small_blocks(buddyinfo="Node 0, zone Normal 12 x 3", order=9)
