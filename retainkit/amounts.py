"""Amount columns → exact floats, the decimal mark decided per column (SPEC §1).

The decimal mark is **never guessed**: it is decided for the whole column from the values
that settle it, exactly as day/month order is for dates.

Settling evidence, value by value:

- both marks in one value (``1.234,56``, ``1,234.56``): the last one is the decimal mark;
- a mark used twice (``1.234.567``): it groups thousands, the other mark is decimal;
- a mark followed by other than three digits (``10,50``, ``7,5``, ``12.``): it is decimal;
- a lone mark that cannot group thousands (``0,500``, ``1234,567``, ``,5``): it is decimal;
- a currency with no minor unit (₫/VND, ¥/JPY, ₩/KRW): a lone mark groups thousands
  (``250.000 ₫`` is 250000).

A value such as ``1,250`` settles nothing (1.25 or 1250). A column with such values and
no settling value, or whose values settle it both ways, is an error asking for
``--decimal``; ``--decimal`` given by the user always wins. The file's delimiter is not
evidence. Work is done on the column's distinct values (Arrow compute), so a 10M-line
column costs one dictionary encoding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retainkit.errors import RetainkitError

Locate = Callable[[int], str]

#: Currency signs and codes that may surround an amount (removed before reading it).
_CURRENCY = (r"(?i)(?:[$€£¥₫₩₹₱฿₽₺₴₦₪円원]|vnđ|vnd|đồng|dong|usd|eur|gbp|jpy|yen|krw|won|inr|rs|thb|php"
             r"|idr|rp|cny|rmb|chf|aud|cad|sgd|myr|rm|hkd|twd|nt|nzd|sek|nok|dkk|pln|zł|czk|kč|huf|ft|ron|đ)")
#: The ISO 4217 code each sign or name in amounts stands for; ``$``, ``¥`` and a few short
#: names stand for several currencies and are left out: they name none.
CURRENCY_CODES = {
    "₫": "VND", "đ": "VND", "vnđ": "VND", "vnd": "VND", "đồng": "VND", "dong": "VND", "€": "EUR", "eur": "EUR",
    "£": "GBP", "gbp": "GBP", "usd": "USD", "₩": "KRW", "원": "KRW", "won": "KRW", "krw": "KRW", "円": "JPY",
    "jpy": "JPY", "yen": "JPY", "₹": "INR", "inr": "INR", "฿": "THB", "thb": "THB", "₱": "PHP", "php": "PHP",
    "idr": "IDR", "rp": "IDR", "cny": "CNY", "rmb": "CNY", "chf": "CHF", "aud": "AUD", "cad": "CAD", "sgd": "SGD",
    "myr": "MYR", "rm": "MYR", "hkd": "HKD", "twd": "TWD", "nzd": "NZD", "sek": "SEK", "nok": "NOK", "dkk": "DKK",
    "pln": "PLN", "zł": "PLN", "czk": "CZK", "kč": "CZK", "huf": "HUF", "ron": "RON", "₽": "RUB", "₺": "TRY",
    "₴": "UAH", "₦": "NGN", "₪": "ILS",
}
#: Currencies with no minor unit: a lone mark in their amounts groups thousands.
_NO_MINOR_UNIT = r"(?i)(?:[₫¥₩円원đ]|vnd|dong|jpy|yen|krw|won)"
_SPACES = "[\\s\u00a0\u202f\u2009']"
_SHAPE = r"^(?P<lp>\(?)(?P<sign>[+\-−]?)(?P<num>[\d.,]+)(?P<exp>(?:[eE][+-]?\d+)?)(?P<tm>-?)(?P<rp>\)?)$"
_LAST_MARK = r"^(?P<head>.*)(?P<mark>[.,])(?P<frac>\d*)$"
#: Markers of a missing amount (SPEC §1), read as an empty cell; NaN and inf are errors.
MISSING_MARKERS = ("NULL", "null", "NA", "N/A", "None")
MARKS = (".", ",")
_NONE, _DOT, _COMMA, _AMBIGUOUS = 0, 1, 2, 3


@dataclass(frozen=True)
class ReadNumbers:
    """A column read as numbers: ``values`` (NaN where empty), the decimal mark used, and
    the value (with its row) that settled it — ``None`` when the column needed no mark —
    and ``currency``, the ISO 4217 code its signs name (``250.000 ₫``: VND), when they name
    exactly one."""

    values: np.ndarray
    decimal: str | None = None
    settled_by: tuple[str, int] | None = None
    currency: str | None = None


def read_numbers(column: pa.ChunkedArray, *, field: str, decimal: str | None, locate: Locate) -> ReadNumbers:
    """Float values of a numeric or text column (SPEC §1, amounts).

    >>> read = read_numbers(pa.chunked_array([["10,50", "1.234,5", "(2,00 €)", None]]), field="amount",
    ...                     decimal=None, locate=str)
    >>> read.values.tolist(), read.decimal
    ([10.5, 1234.5, -2.0, nan], ',')
    """
    kind = column.type
    if pa.types.is_null(kind):
        return ReadNumbers(np.full(len(column), np.nan))
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        # Whole numbers beyond 2^53 round to the nearest double, as every amount is a double.
        values = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        _check_finite(values, np.isinf(values) | (np.isnan(values) & ~_null_mask(column)), column, field, locate)
        return ReadNumbers(values)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise RetainkitError(f"column {field}: cannot read numbers of type {kind}",
                             f"name a numeric column with --{field.replace('_', '-')}")
    encoded = pc.dictionary_encode(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    distinct = _read_distinct(encoded.dictionary.cast(pa.string()), decimal, codes, field, locate)
    values = np.append(distinct.values, np.nan)[codes]  # code −1 (null) reads the trailing NaN
    return ReadNumbers(values, distinct.decimal, distinct.settled_by, distinct.currency)


def _null_mask(column: pa.ChunkedArray) -> np.ndarray:
    return pc.is_null(column).to_numpy(zero_copy_only=False)


def _check_finite(values: np.ndarray, bad: np.ndarray, column: pa.ChunkedArray, field: str, locate: Locate) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise RetainkitError(f"{locate(row)}, column {field}: {column[row].as_py()!r} is not a finite number",
                             "fix the value in the export")


def _read_distinct(texts: pa.Array, decimal: str | None, codes: np.ndarray, field: str, locate: Locate) -> ReadNumbers:
    """Read each distinct text once; errors name the first row holding the value at fault."""
    trimmed = pc.utf8_trim_whitespace(texts)
    missing = pc.fill_null(pc.or_(pc.equal(trimmed, ""), pc.is_in(trimmed, pa.array(MISSING_MARKERS))), True)
    missing = missing.to_numpy(zero_copy_only=False)
    nonfinite = pc.fill_null(pc.match_substring_regex(trimmed, r"(?i)^[+\-]?(?:inf|infinity|nan)$"), False)
    if pc.any(nonfinite).as_py():
        _raise_first(nonfinite.to_numpy(zero_copy_only=False), texts, codes, field, locate,
                     "{value!r} is not a finite number", "fix the value in the export")
    no_minor = pc.fill_null(pc.match_substring_regex(trimmed, _NO_MINOR_UNIT), False).to_numpy(zero_copy_only=False)
    bare = pc.replace_substring_regex(pc.replace_substring_regex(trimmed, _CURRENCY, ""), _SPACES, "")
    shape = pc.extract_regex(bare, _SHAPE)
    num = pc.struct_field(shape, "num")
    votes = decimal_votes(num, no_minor)
    mark, settled_by = _decide(votes, decimal, texts, codes, field, locate)
    values = _parse(shape, mark)
    unreadable = np.isnan(values) & ~missing
    if unreadable.any():
        _raise_first(unreadable, texts, codes, field, locate, "cannot read number {value!r}",
                     "check --decimal (, or .) and the column chosen")
    _check_distinct_finite(values, texts, codes, field, locate)
    values[missing] = np.nan
    return ReadNumbers(values, mark, settled_by, currency_of(trimmed))


def currency_of(texts: pa.Array) -> str | None:
    """The ISO 4217 code of the one currency that the signs and names in ``texts`` stand for;
    ``None`` when they name none, several, or only a sign shared by several (``$``, ``¥``).

    >>> currency_of(pa.array(["250.000 ₫", "1.200.000₫", "90.000", None]))
    'VND'
    >>> currency_of(pa.array(["$5.00", "€4"])) is None, currency_of(pa.array(["12.50 EUR", "€3"]))
    (True, 'EUR')
    """
    signs = pc.struct_field(pc.extract_regex(texts, f"(?P<sign>{_CURRENCY})"), "sign")
    found = {str(sign).lower() for sign in pc.unique(signs.drop_null()).to_pylist()}
    codes = {CURRENCY_CODES.get(sign) for sign in found}
    return codes.pop() if len(codes) == 1 else None


def decimal_votes(num: pa.Array, no_minor_unit: np.ndarray) -> np.ndarray:
    """What each value says of the decimal mark: 0 nothing, 1 ``.``, 2 ``,``, 3 ambiguous.

    >>> decimal_votes(pa.array(["10,50", "1.234.567", "1,250", "250.000", "42", "1,234.5"]),
    ...               np.array([False, False, False, True, False, False])).tolist()
    [2, 2, 3, 2, 0, 1]
    """
    dots = pc.count_substring(num, ".").fill_null(0).to_numpy(zero_copy_only=False)
    commas = pc.count_substring(num, ",").fill_null(0).to_numpy(zero_copy_only=False)
    last = pc.extract_regex(num, _LAST_MARK)
    head = pc.struct_field(last, "head")
    last_is_dot = pc.fill_null(pc.equal(pc.struct_field(last, "mark"), "."), False).to_numpy(zero_copy_only=False)
    frac_len = pc.fill_null(pc.utf8_length(pc.struct_field(last, "frac")), 0).to_numpy(zero_copy_only=False)
    head_len = pc.fill_null(pc.utf8_length(head), 0).to_numpy(zero_copy_only=False)
    leading_zero = pc.fill_null(pc.starts_with(head, "0"), False).to_numpy(zero_copy_only=False)

    as_last = np.where(last_is_dot, _DOT, _COMMA)
    as_other = np.where(last_is_dot, _COMMA, _DOT)
    marks = dots + commas
    lone = (dots == 0) ^ (commas == 0)  # only one kind of mark
    cannot_group = (frac_len != 3) | (head_len == 0) | (head_len > 3) | leading_zero
    votes = np.full(len(dots), _NONE, dtype=np.int8)
    votes[(dots > 0) & (commas > 0)] = as_last[(dots > 0) & (commas > 0)]
    twice = lone & (marks >= 2)
    votes[twice] = as_other[twice]
    once = lone & (marks == 1)
    votes[once & cannot_group] = as_last[once & cannot_group]
    votes[once & ~cannot_group & no_minor_unit] = as_other[once & ~cannot_group & no_minor_unit]
    votes[once & ~cannot_group & ~no_minor_unit] = _AMBIGUOUS
    return votes


def _decide(votes: np.ndarray, decimal: str | None, texts: pa.Array, codes: np.ndarray, field: str,
            locate: Locate) -> tuple[str, tuple[str, int] | None]:
    """The column's decimal mark: the user's, else the one its values settle (SPEC §1)."""
    if decimal is not None:
        return decimal, None
    first = {vote: _first_row_of(votes == vote, codes) for vote in (_DOT, _COMMA, _AMBIGUOUS)}
    dot, comma, ambiguous = (_with_text(first[v], texts) for v in (_DOT, _COMMA, _AMBIGUOUS))
    if dot and comma:
        raise RetainkitError(
            f"column {field}: the decimal mark is . in {dot[0]!r} ({locate(dot[1])}) but , in {comma[0]!r} "
            f"({locate(comma[1])})", "fix the export, or say which with --decimal . or --decimal ,")
    if dot or comma:
        mark, evidence = (".", dot) if dot else (",", comma)
        assert evidence is not None
        return mark, evidence
    if ambiguous:
        raise RetainkitError(
            f"{locate(ambiguous[1])}, column {field}: {ambiguous[0]!r} could be read with . or , as the decimal "
            "mark and no value in the column settles it", "say which with --decimal . or --decimal ,")
    return ".", None


def _with_text(found: tuple[int, int] | None, texts: pa.Array) -> tuple[str, int] | None:
    return None if found is None else (str(texts[found[0]].as_py()), found[1])


def _first_row_of(distinct_mask: np.ndarray, codes: np.ndarray) -> tuple[int, int] | None:
    """The earliest row holding one of the masked distinct values, with the value."""
    if not distinct_mask.any():
        return None
    rows = np.flatnonzero(np.isin(codes, np.flatnonzero(distinct_mask)))
    return None if len(rows) == 0 else (int(codes[rows[0]]), int(rows[0]))


def _parse(shape: pa.StructArray, mark: str) -> np.ndarray:
    """Numbers of well-formed values with ``mark`` as decimal mark; NaN where malformed."""
    thousands = "," if mark == "." else "."
    t, d = "\\" + thousands, "\\" + mark
    grouped = rf"^(?:\d+|\d{{1,3}}(?:{t}\d{{3}})+|\d{{1,2}}(?:{t}\d{{2}})*{t}\d{{3}})?(?:{d}\d*)?$"
    num = pc.struct_field(shape, "num")
    well_formed = pc.and_(pc.match_substring_regex(num, grouped), pc.match_substring_regex(num, r"\d"))
    lp, rp = pc.struct_field(shape, "lp"), pc.struct_field(shape, "rp")
    well_formed = pc.and_(well_formed, pc.equal(pc.utf8_length(lp), pc.utf8_length(rp)))  # ( and ) in pairs
    plain = pc.replace_substring(pc.replace_substring(num, thousands, ""), mark, ".")
    text = pc.binary_join_element_wise(plain, pc.struct_field(shape, "exp"), "")
    values = pc.cast(pc.if_else(pc.fill_null(well_formed, False), text, None), pa.float64())
    values_np = values.to_numpy(zero_copy_only=False).astype(np.float64)
    negative = pc.or_kleene(pc.or_kleene(pc.equal(lp, "("), pc.is_in(pc.struct_field(shape, "sign"),
                                                                      pa.array(["-", "−"]))),
                            pc.equal(pc.struct_field(shape, "tm"), "-"))
    negative_np = pc.fill_null(negative, False).to_numpy(zero_copy_only=False)
    return np.where(negative_np, -np.abs(values_np), values_np)


def _check_distinct_finite(values: np.ndarray, texts: pa.Array, codes: np.ndarray, field: str,
                           locate: Locate) -> None:
    if np.isinf(values).any():
        _raise_first(np.isinf(values), texts, codes, field, locate, "{value!r} is not a finite number",
                     "fix the value in the export")


def _raise_first(mask: np.ndarray, texts: pa.Array, codes: np.ndarray, field: str, locate: Locate,
                 message: str, hint: str) -> None:
    found = _first_row_of(mask, codes)
    assert found is not None
    code, row = found
    value = texts[int(code)].as_py()  # type: ignore[call-overload]
    raise RetainkitError(f"{locate(row)}, column {field}: " + message.format(value=value), hint)
