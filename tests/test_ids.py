"""Ids → integer codes (SPEC §1): the integer path for order ids that are whole numbers,
the text path for every other id, and customer codes in id order — each checked by hand."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retainkit.ids import _encode_text_ids
from retainkit.order_ids import _first_seen_codes, _integer_order_keys, encode_order_ids
from retainkit.pipeline import kpi_report, read_orders
from tests.conftest import write_csv


def orders(*ids):
    return pa.chunked_array([pa.array(list(ids))])


def test_whole_number_order_ids_are_integer_keys_with_a_refund_mark():
    # 1000 → 3000, C1000 → 3001 (its refund, another order), c1000 → 3002 (a third id, as in
    # text), 1001 → 3003.
    keys, refund = _integer_order_keys(pa.array(["1000", "C1000", "c1000", "1001", "c1001"]))
    assert keys.tolist() == [3000, 3001, 3002, 3003, 3005] and refund.tolist() == [False, True, True, False, True]
    codes, is_refund, *_, empty = encode_order_ids(orders("1000", "1000", "C1000", "1001", "1000"))
    assert codes.tolist() == [0, 0, 1, 2, 0] and is_refund.tolist() == [False, False, True, False, False]
    assert empty == 0


@pytest.mark.parametrize("ids", [("0123", "123"), ("+5", "5"), (" 7", "8"), ("CC1", "C1"), ("12A", "12"), ("", "1")])
def test_ids_that_are_not_plain_numbers_take_the_text_path(ids):
    assert _integer_order_keys(pa.array(list(ids))) is None


def test_c_and_lowercase_c_refund_ids_are_two_orders_on_either_path():
    # Ids compare as written (SPEC §1): C7 and c7 are two ids whether every id of the column
    # is a number (integer keys) or one is not ("x", the text path).
    numeric, refund, *_ = encode_order_ids(orders("7", "C7", "c7", "C7"))
    text, text_refund, *_ = encode_order_ids(orders("7", "C7", "c7", "C7", "x"))
    assert numeric.tolist() == [0, 1, 2, 1] and text.tolist()[:4] == [0, 1, 2, 1]
    assert refund.tolist() == text_refund.tolist()[:4] == [False, True, True, True]


def test_leading_zeros_keep_two_orders_apart():
    codes, *_ = encode_order_ids(orders("0123", "123", "0123"))
    assert codes.tolist() == [0, 1, 0]


def test_integer_columns_beyond_the_key_take_the_text_path():
    for value, kind in ((2**63 + 5, pa.uint64()), (2**64 - 1, pa.uint64()), (-(2**63), pa.int64())):
        codes, *_, empty = encode_order_ids(pa.chunked_array([pa.array([value, 1, value], type=kind)]))
        assert codes.tolist() == [0, 1, 0] and empty == 0


def test_empty_order_ids_are_each_an_order_of_their_own():
    codes, *_, empty = encode_order_ids(orders("", "", "A", "A"))
    assert empty == 2 and len(set(codes.tolist())) == 3 and codes[2] == codes[3]


def test_first_seen_codes_with_and_without_runs():
    assert _first_seen_codes(np.array([9, 9, 4, 7, 7])).tolist() == [0, 0, 1, 2, 2]  # runs: the count of changes
    assert _first_seen_codes(np.array([9, 4, 9, 4])).tolist() == [0, 1, 0, 1]  # a key back again: factorised
    wide = np.array([10**15, 1, 10**15])  # span too wide for a bitmap: a hash says whether runs repeat
    assert _first_seen_codes(wide).tolist() == [0, 1, 0]


def test_customer_codes_are_in_id_order_whatever_the_row_order():
    codes, names, markers, changed = _encode_text_ids(pa.chunked_array([pa.array(["zoe", None, "ann", "zoe", " bo"])]))
    assert names.tolist() == ["ann", "bo", "zoe"] and codes.tolist() == [2, -1, 0, 2, 1]
    assert markers == {} and changed == 1  # " bo" trimmed: a change, reported (SPEC §1)


def test_a_whole_number_amount_beyond_two_to_the_53_is_read(tmp_path):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"customer_id": ["a", "a"], "order_date": ["2024-01-01", "2024-02-01"],
                             "amount": pa.array([2**53 + 1, 1], pa.int64())}), path)
    assert kpi_report(read_orders(str(path)))["metrics"]["revenue"] == pytest.approx(2**53 + 2)


def test_order_amounts_add_in_row_order_on_every_path(tmp_path):
    # 253.70 + 84.35 + 253.70 + 84.35 in row order is 676.1; pairwise (add.reduceat) 676.0999999999999.
    lines = "order_id,customer_id,order_date,amount\n" + "".join(
        f"1000,B,2024-03-19,{a}\n" for a in ("253.70", "84.35", "253.70", "84.35"))
    together = read_orders(str(write_csv(tmp_path / "together.csv", lines)), dedupe=False)
    assert together.orders["amount"].tolist() == [676.1]
    apart = lines + "1001,E,2024-03-20,1.00\n"
    apart = apart.replace("1000,B,2024-03-19,84.35\n", "", 1) + "1000,B,2024-03-19,84.35\n"
    # The same lines, one moved after another order: the scattered path, the same cents.
    assert read_orders(str(write_csv(tmp_path / "apart.csv", apart))).orders["amount"].tolist()[0] == 676.1


def dictionary_column(*chunks):
    """A column as Parquet row groups read it: chunks of (indices, dictionary values)."""
    return pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array(i, pa.int32()), pa.array(d, pa.string()))
                             for i, d in chunks])


def test_row_group_dictionaries_unify_to_the_codes_of_the_text():
    # Chunk 1 repeats "b" in its dictionary and holds "zz", which no row uses; chunk 2 has
    # " a" (the same customer as "a" once trimmed) and a null row.
    column = dictionary_column(([0, 1, 3, 0], ["b", "a", "zz", "b"]), ([1, None, 0], ["c", " a"]))
    codes, names, markers, changed = _encode_text_ids(column)
    assert names.tolist() == ["a", "b", "c"]  # no "zz": no row names it
    assert codes.tolist() == [1, 0, 1, 1, 0, -1, 2]
    text_codes, text_names, _, _ = _encode_text_ids(column.cast(pa.string()))
    assert (codes.tolist(), names.tolist()) == (text_codes.tolist(), text_names.tolist())
    assert markers == {} and changed == 1  # " a" trimmed: a change, reported (SPEC §1)


def test_clean_row_group_dictionaries_keep_their_codes_in_id_order():
    column = dictionary_column(([1, 0, 1], ["CU2", "CU1"]), ([0, 0], ["CU3"]))
    codes, names, _, _ = _encode_text_ids(column)
    assert names.tolist() == ["CU1", "CU2", "CU3"] and codes.tolist() == [0, 1, 0, 2, 2]


def test_order_ids_read_from_row_group_dictionaries():
    numbers = dictionary_column(([0, 0, 1], ["5", "C5"]), ([1, 0], ["7", "C5"]))
    codes, refund, *_, empty = encode_order_ids(numbers)
    assert codes.tolist() == [0, 0, 1, 1, 2] and refund.tolist() == [False, False, True, True, False] and empty == 0
    # One row group with an id that is not a plain number: every row takes the text path.
    mixed = dictionary_column(([0, 1], ["5", "007"]), ([0], ["7"]))
    assert encode_order_ids(mixed)[0].tolist() == [0, 1, 2]
    assert encode_order_ids(dictionary_column(([0], ["007"]), ([0], ["7"])))[0].tolist() == [0, 1]


def test_a_parquet_file_of_many_row_groups_reads_as_its_csv(tmp_path):
    rows = [(f"{1000 + i // 2}", f"CU{i // 2 % 7:03d}" if i % 11 else None, f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
             f"SKU{i % 3}", 1 + i % 4, 2.5 + i) for i in range(200)]
    names = ["order_id", "customer_id", "order_date", "product", "quantity", "unit_price"]
    table = pa.table({n: [r[k] for r in rows] for k, n in enumerate(names)})
    pq.write_table(table, tmp_path / "orders.parquet", row_group_size=17)
    write_csv(tmp_path / "orders.csv", "\n".join([",".join(names)] + [
        ",".join("" if v is None else str(v) for v in r) for r in rows]) + "\n")
    parquet, text = (kpi_report(read_orders(str(tmp_path / f"orders.{s}"))) for s in ("parquet", "csv"))
    for document in (parquet, text):
        document.pop("files")
        document["data_quality"].pop("decimal_marks")
    assert parquet == text


def test_a_csv_read_in_many_blocks_gives_the_kpis_of_one_block(monkeypatch, tmp_path):
    import retainkit.load_csv

    header = "order_id,customer_id,order_date,product,quantity,unit_price,referred_by\n"
    rows = [f"{1000 + i // 3},{f' CU{i // 3 % 9}' if i % 13 else ''},2024-{1 + i % 12:02d}-{1 + i % 28:02d},"
            f"SKU{i % 4},{1 + i % 3},{i}.25,{'CU1' if i % 5 == 0 else ''}\n" for i in range(300)]
    path = write_csv(tmp_path / "orders.csv", header + "".join(rows[:150]) + header + "".join(rows[150:]))
    whole = kpi_report(read_orders(str(path)))
    monkeypatch.setattr(retainkit.load_csv, "BLOCK_SIZE", 300)  # about 50 blocks, each its own dictionary
    blocks = kpi_report(read_orders(str(path)))
    assert blocks == whole and whole["data_quality"]["rows"] == 300


#: Ids as exports spell them: the same customer with spaces around it, decomposed (NFD),
#: missing-value markers, empty text, and integer-valued floats.
SPELLINGS = ("CU1", " CU1", "CU2", "ann", "Nguy\u1ec5n", "Nguye\u0302\u0303n", "NA", "NULL", "", None, "17850.0",
             "17850", "17851.00", "9")


def expected_customer_codes(values: list) -> tuple[list[int], list[str]]:
    """Codes and names worked out one id at a time, as SPEC §1 states the rule."""
    import re
    import unicodedata

    cleaned = [None if v is None else unicodedata.normalize("NFC", v.strip()) for v in values]
    cleaned = [None if v in ("", "NULL", "null", "NA", "N/A", "nan", "None") else v for v in cleaned]
    present = [v for v in cleaned if v is not None]
    if present and all(re.fullmatch(r"-?\d+(?:\.0+)?", v) for v in present) and any("." in v for v in present):
        cleaned = [None if v is None else re.sub(r"\.0+$", "", v) for v in cleaned]
    names = sorted({v for v in cleaned if v is not None})
    return [-1 if v is None else names.index(v) for v in cleaned], names


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(SPELLINGS), min_size=1, max_size=40), st.integers(1, 6), st.booleans(), st.data())
def test_customer_codes_on_every_path_are_those_of_the_rule(values, chunks, runs, data):
    # Runs of one id (a customer's lines together) take the run path; row-group dictionaries
    # (Parquet), each holding ids no row uses, are unified; plain text is hashed row by row.
    if runs:
        values = [v for v in values for _ in range(3)]
    codes, names = expected_customer_codes(values)
    text = pa.chunked_array([pa.array(values, pa.string())])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(values)), min_size=chunks - 1, max_size=chunks - 1)))
    pieces = [values[a:b] for a, b in zip([0, *cuts], [*cuts, len(values)], strict=True)]
    unused = data.draw(st.lists(st.sampled_from(["zz", "CU1", " zz"]), max_size=2))
    coded = dictionary_column(*(([None if v is None else (sorted({x for x in p if x is not None}) + unused).index(v)
                                  for v in p], sorted({x for x in p if x is not None}) + unused) for p in pieces))
    blocks = pa.chunked_array([pa.array(p, pa.string()) for p in pieces], pa.string())  # a CSV's blocks
    for column in (text, blocks, coded):
        got_codes, got_names, _, _ = _encode_text_ids(column)
        assert (got_codes.tolist(), got_names.tolist()) == (codes, names)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 400))
def test_interleaved_ids_in_many_blocks_are_coded_by_the_rule(seed, blocks):
    # Long enough (> 16k rows) and interleaved, so every row is hashed; as a CSV's blocks
    # and as row groups (Parquet), whose rows per spelling (markers, NFC) are counted in
    # batches of row groups.
    rng = np.random.default_rng(seed)
    values = [SPELLINGS[i] for i in rng.integers(0, len(SPELLINGS), 20_000)]
    codes, names = expected_customer_codes(values)
    cuts = np.sort(rng.integers(0, len(values), blocks - 1)).tolist()
    pieces = [values[a:b] for a, b in zip([0, *cuts], [*cuts, len(values)], strict=True)]
    text = pa.chunked_array([pa.array(p, pa.string()) for p in pieces], pa.string())
    groups = dictionary_column(*(([None if v is None else sorted(set(p) - {None}).index(v) for v in p],
                                  sorted(set(p) - {None})) for p in pieces))
    for column in (text, groups):
        got_codes, got_names, markers, changed = _encode_text_ids(column)
        assert (got_codes.tolist(), got_names.tolist()) == (codes, names)
        assert markers == {m: values.count(m) for m in ("NA", "NULL") if m in values}
        assert changed == values.count("Nguye\u0302\u0303n") + values.count(" CU1")  # composed or trimmed


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1000", "C1000", "1001", "c1001", "C1001", "1002", "C1002"]),
                          st.integers(1, 4)),
                min_size=1, max_size=30))
def test_order_codes_from_runs_are_those_of_every_row(runs):
    # An order's lines together (runs of one id), an order back again later, refunds (C…):
    # the codes are first-seen codes of the ids, whichever path makes them.
    ids = [order for order, length in runs for _ in range(length)]
    keys = [(i[0] if i[0] in "Cc" else "", int(i.lstrip("Cc"))) for i in ids]  # C1001 and c1001: two ids
    first_seen = list(dict.fromkeys(keys))
    blocks = pa.chunked_array([pa.array(ids[i:i + 4], pa.string()) for i in range(0, len(ids), 4)])  # runs cut
    for column in (orders(*ids), blocks):
        codes, is_refund, *_, empty = encode_order_ids(column)
        assert codes.tolist() == [first_seen.index(k) for k in keys]
        assert is_refund.tolist() == [i[0] in "Cc" for i in ids] and empty == 0


def test_a_missing_value_marker_does_not_keep_float_ids_apart_from_integer_ids():
    # "NA" is no id (SPEC §1), so every id of the column is still an integer: 17850.0 is 17850.
    codes, names, markers, _ = _encode_text_ids(pa.chunked_array([pa.array(["NA", "17850.0", "17850"])]))
    assert names.tolist() == ["17850"] and codes.tolist() == [-1, 0, 0] and markers == {"NA": 1}


def test_one_row_group_whose_dictionary_repeats_a_value_or_holds_a_null_is_one_customer_per_id():
    # A writer may repeat a value in a dictionary, or put a null in it: one chunk is not
    # unified with another, so its dictionary is made distinct on its own.
    repeated = pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int32()), pa.array(["a", "a"]))])
    codes, names, _, _ = _encode_text_ids(repeated)
    assert names.tolist() == ["a"] and codes.tolist() == [0, 0, 0]
    with_null = pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array([0, 1, 2], pa.int8()), pa.array(["b", None, "a"]))])
    codes, names, _, _ = _encode_text_ids(with_null)
    assert names.tolist() == ["a", "b"] and codes.tolist() == [1, -1, 0]


def test_a_nan_float_id_is_no_id():
    codes, names, _, _ = _encode_text_ids(pa.chunked_array([pa.array([17850.0, float("nan"), None, 17851.0])]))
    assert names.tolist() == ["17850", "17851"] and codes.tolist() == [0, -1, -1, 1]


def test_guest_lines_beside_clean_ids_are_no_id_on_every_path():
    # A CSV reads a guest line's empty customer as "" (Parquet: null); the other ids need no
    # cleaning, so the fast path sets the blanks aside — with the codes of the rule.
    values = ["CU2", "", None, "CU1", "", "CU2"]
    text = pa.chunked_array([pa.array(values, pa.string())])
    coded = dictionary_column(([1, 2, None, 0, 2, 1], ["CU1", "CU2", "", "unused"]))
    for column in (text, coded):
        codes, names, markers, changed = _encode_text_ids(column)
        assert codes.tolist() == [1, -1, -1, 0, -1, 1] and names.tolist() == ["CU1", "CU2"]
        assert markers == {} and changed == 0
