"""The one place that maps raw export headers to canonical fields (SPEC §1).

Headers are compared after folding: accents removed (``đ`` → ``d``), lower case, and
spaces, ``_``, ``-``, ``.`` and ``#`` dropped — so ``Customer ID``, ``customer_id`` and
``CUSTOMERID`` are one header, and ``Mã khách hàng`` folds to ``makhachhang``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from retainkit.errors import RetainkitError

#: Canonical fields and the headers that name them, best match first.
ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customer_id", "customerid", "customer id", "customer_unique_id", "client_id", "clientid",
        "user_id", "userid", "customer", "client", "mã khách hàng", "mã kh", "khách hàng",
        "customer email", "email", "e-mail",
    ),
    "order_date": (
        "order_date", "orderdate", "order date", "invoicedate", "invoice date", "created at",
        "created_at", "order_purchase_timestamp", "purchase_date", "transaction_date",
        "ngày đặt hàng", "ngày mua", "ngày", "date", "timestamp", "datetime",
    ),
    "order_id": (
        "order_id", "orderid", "order id", "invoiceno", "invoice_no", "invoice", "order_number",
        "order number", "order_no", "transaction_id", "mã đơn hàng", "mã đơn", "số hóa đơn",
    ),
    "amount": (
        "amount", "order_total", "total", "revenue", "sales", "total_amount", "grand_total",
        "order_amount", "net_sales", "thành tiền", "tổng tiền", "doanh thu",
    ),
    "quantity": ("quantity", "qty", "lineitem quantity", "số lượng"),
    "unit_price": ("unit_price", "unitprice", "price", "lineitem price", "đơn giá", "giá"),
    "product": (
        "product_id", "productid", "sku", "stockcode", "stock_code", "lineitem sku", "product",
        "item_id", "mã sản phẩm", "sản phẩm", "mã hàng",
    ),
    "referred_by": (
        "referred_by", "referredby", "referrer", "referral_code_owner", "referred by",
        "người giới thiệu",
    ),
    "refund_amount": ("refunded amount", "refunded_amount", "refund_amount", "số tiền hoàn"),
}

#: Shopify's order export names the order ``Name`` (``#1001``); only trusted when the
#: file carries Shopify's own line-item headers, since ``Name`` is usually a person's name.
SHOPIFY_ORDER_HEADER = "name"
SHOPIFY_SIGNATURE = frozenset({"lineitemquantity", "lineitemname", "financialstatus"})

#: Which option overrides each field (``--customer`` sets ``customer_id`` …).
OPTION_FOR_FIELD: dict[str, str] = {
    "customer_id": "--customer",
    "order_date": "--date",
    "order_id": "--order",
    "amount": "--amount",
    "quantity": "--quantity",
    "unit_price": "--price",
    "product": "--product",
    "referred_by": "--referrer",
    "refund_amount": "--refund",
}

REQUIRED_FIELDS = ("customer_id", "order_date")
_FOLD_DROP = re.compile(r"[\s_\-.#/]+")


def fold_header(header: str) -> str:
    """Fold a header for comparison: no accents, lower case, no separators.

    >>> fold_header("Mã khách hàng"), fold_header(" Customer_ID "), fold_header("Đơn giá")
    ('makhachhang', 'customerid', 'dongia')
    """
    text = unicodedata.normalize("NFKD", header.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _FOLD_DROP.sub("", text.casefold())


@dataclass(frozen=True)
class ColumnMapping:
    """Which raw header feeds each canonical field, and which headers are left unread."""

    fields: dict[str, str]
    ignored: tuple[str, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> list[str]:
        """The raw headers to read, in field order."""
        return list(dict.fromkeys(self.fields.values()))


def resolve_mapping(
    headers: Sequence[str], overrides: Mapping[str, str | None] | None = None, *, source: str = ""
) -> ColumnMapping:
    """Map raw ``headers`` to canonical fields; ``overrides`` (field → header) win.

    Raises :class:`RetainkitError` when a required field has no header, listing the
    headers seen and the option that names one.

    >>> fields = resolve_mapping(["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]).fields
    >>> fields["customer_id"], fields["order_date"], fields["order_id"], fields["unit_price"]
    ('CustomerID', 'InvoiceDate', 'InvoiceNo', 'UnitPrice')
    """
    by_fold: dict[str, str] = {}
    for header in headers:
        by_fold.setdefault(fold_header(header), header)
    chosen: dict[str, str] = {}
    for name, given in (overrides or {}).items():
        if given:
            chosen[name] = _find_override(name, given, headers, by_fold, source)
    taken = set(chosen.values())
    for name, aliases in ALIASES.items():
        if name in chosen:
            continue
        for alias in _aliases_for(name, aliases, by_fold):
            found = by_fold.get(fold_header(alias))
            if found is not None and found not in taken:
                chosen[name] = found
                taken.add(found)
                break
    _check_required(chosen, headers, source)
    ordered = {name: chosen[name] for name in ALIASES if name in chosen}
    ignored = tuple(h for h in headers if h not in taken)
    return ColumnMapping(ordered, ignored)


def _aliases_for(name: str, aliases: tuple[str, ...], by_fold: Mapping[str, str]) -> tuple[str, ...]:
    if name == "order_id" and SHOPIFY_SIGNATURE & by_fold.keys():
        return (*aliases, SHOPIFY_ORDER_HEADER)
    return aliases


def _find_override(
    name: str, header: str, headers: Sequence[str], by_fold: Mapping[str, str], source: str
) -> str:
    if header in headers:
        return header
    folded = by_fold.get(fold_header(header))
    if folded is not None:
        return folded
    where = f"{source}: " if source else ""
    raise RetainkitError(
        f"{where}no column {header!r} for {OPTION_FOR_FIELD.get(name, name)}",
        f"headers seen: {', '.join(headers)}",
    )


def _check_required(chosen: Mapping[str, str], headers: Sequence[str], source: str) -> None:
    missing = [name for name in REQUIRED_FIELDS if name not in chosen]
    if not missing:
        return
    where = f"{source}: " if source else ""
    names = " and ".join(missing)
    options = " / ".join(f"{OPTION_FOR_FIELD[m]} COLUMN" for m in missing)
    raise RetainkitError(
        f"{where}no {names} column found among headers: {', '.join(headers) or '(none)'}",
        f"name it with {options} (or in retainkit.toml)",
    )
