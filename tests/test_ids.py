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
