"""Ids → integer codes (SPEC §1): the integer path for order ids that are whole numbers,
the text path for every other id, and customer codes in id order — each checked by hand."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from retainkit.ids import _encode_order_ids, _encode_text_ids, _first_seen_codes, _integer_order_keys
from retainkit.pipeline import kpi_report, read_orders
from tests.conftest import write_csv


def orders(*ids):
    return pa.chunked_array([pa.array(list(ids))])


def test_whole_number_order_ids_are_integer_keys_with_a_refund_bit():
    # 1000 → 2000, C1000 → 2001 (its refund, another order), 1001 → 2002.
    keys, refund = _integer_order_keys(pa.array(["1000", "C1000", "1001", "c1001"]))
    assert keys.tolist() == [2000, 2001, 2002, 2003] and refund.tolist() == [False, True, False, True]
    codes, is_refund, empty = _encode_order_ids(orders("1000", "1000", "C1000", "1001", "1000"))
    assert codes.tolist() == [0, 0, 1, 2, 0] and is_refund.tolist() == [False, False, True, False, False]
    assert empty == 0


@pytest.mark.parametrize("ids", [("0123", "123"), ("+5", "5"), (" 7", "8"), ("CC1", "C1"), ("12A", "12"), ("", "1")])
def test_ids_that_are_not_plain_numbers_take_the_text_path(ids):
    assert _integer_order_keys(pa.array(list(ids))) is None


def test_leading_zeros_keep_two_orders_apart():
    codes, _, _ = _encode_order_ids(orders("0123", "123", "0123"))
    assert codes.tolist() == [0, 1, 0]


def test_integer_columns_beyond_the_key_take_the_text_path():
    for value, kind in ((2**63 + 5, pa.uint64()), (2**64 - 1, pa.uint64()), (-(2**63), pa.int64())):
        codes, _, empty = _encode_order_ids(pa.chunked_array([pa.array([value, 1, value], type=kind)]))
        assert codes.tolist() == [0, 1, 0] and empty == 0


def test_empty_order_ids_are_each_an_order_of_their_own():
    codes, _, empty = _encode_order_ids(orders("", "", "A", "A"))
    assert empty == 2 and len(set(codes.tolist())) == 3 and codes[2] == codes[3]


def test_first_seen_codes_with_and_without_runs():
    assert _first_seen_codes(np.array([9, 9, 4, 7, 7])).tolist() == [0, 0, 1, 2, 2]  # runs: the count of changes
    assert _first_seen_codes(np.array([9, 4, 9, 4])).tolist() == [0, 1, 0, 1]  # a key back again: factorised
    wide = np.array([10**15, 1, 10**15])  # span too wide for a bitmap: a hash says whether runs repeat
    assert _first_seen_codes(wide).tolist() == [0, 1, 0]


def test_customer_codes_are_in_id_order_whatever_the_row_order():
    codes, names, markers, changed = _encode_text_ids(pa.chunked_array([pa.array(["zoe", None, "ann", "zoe", " bo"])]))
    assert names.tolist() == ["ann", "bo", "zoe"] and codes.tolist() == [2, -1, 0, 2, 1]
    assert markers == {} and changed == 0


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
    assert markers == {} and changed == 0


def test_clean_row_group_dictionaries_keep_their_codes_in_id_order():
    column = dictionary_column(([1, 0, 1], ["CU2", "CU1"]), ([0, 0], ["CU3"]))
    codes, names, _, _ = _encode_text_ids(column)
    assert names.tolist() == ["CU1", "CU2", "CU3"] and codes.tolist() == [0, 1, 0, 2, 2]


def test_order_ids_read_from_row_group_dictionaries():
    numbers = dictionary_column(([0, 0, 1], ["5", "C5"]), ([1, 0], ["7", "C5"]))
    codes, refund, empty = _encode_order_ids(numbers)
    assert codes.tolist() == [0, 0, 1, 1, 2] and refund.tolist() == [False, False, True, True, False] and empty == 0
    # One row group with an id that is not a plain number: every row takes the text path.
    mixed = dictionary_column(([0, 1], ["5", "007"]), ([0], ["7"]))
    assert _encode_order_ids(mixed)[0].tolist() == [0, 1, 2]
    assert _encode_order_ids(dictionary_column(([0], ["007"]), ([0], ["7"])))[0].tolist() == [0, 1]


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
