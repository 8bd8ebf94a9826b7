"""The rules that cross customers, run before sharding, as Spark aggregations (SPEC §1).

A row's *shard key* is its customer id cleaned as :mod:`retainkit.ids` cleans it for
comparison (trimmed, Unicode NFC, a missing-value marker is no id, ``17850.0`` as
``17850``): ids the local engine takes for one customer always share a key, so they meet in
one shard, where the exact rules run. A line without a customer takes its order's key (the
local engine gives it the order's customer); rows with no key at all go to one shard
together, where they are counted as rows without a customer. An order id whose lines carry
two keys is two customers' — the error the local engine gives, found here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from retainkit.errors import RetainkitError
from retainkit.parsing import MISSING_MARKERS
from retainkit.spark.shards import KEY

_ORDER = "_order"
_CUSTOMER = "_customer"
#: Unicode spaces at either end (``str.strip``), in Java's regular expressions.
TRIM = r"(?U)^\s+|\s+$"


def customer_key(ids: pd.Series) -> pd.Series:
    """Customer ids as shard keys (a pandas Series of text in, out; None: no customer).

    >>> import pandas as pd
    >>> customer_key(pd.Series([" 17850.0", "17850", "NA", "", None, "Ân"])).tolist()
    ['17850', '17850', None, None, None, 'Ân']
    """
    return _cleaned(ids.astype("string").str.strip().str.normalize("NFC").str.replace(r"\.0+$", "", regex=True))


def order_key(ids: pd.Series) -> pd.Series:
    """Order ids as the local engine compares them (:mod:`retainkit.order_ids`): trimmed,
    Unicode NFC, a missing-value marker is no id; as written otherwise (``C7`` is not ``c7``).

    >>> import unicodedata
    >>> order_key(pd.Series([" C7", unicodedata.normalize("NFD", "HĐ-ễ"), "NA", "", None])).tolist()
    ['C7', 'HĐ-ễ', None, None, None]
    """
    return _cleaned(ids.astype("string").str.strip().str.normalize("NFC"))


def _cleaned(text: pd.Series) -> pd.Series:
    text = text.mask(text.isin(MISSING_MARKERS) | (text == ""))
    return pd.Series(text.astype(object).where(text.notna(), None), index=text.index, dtype=object)


def with_shard_keys(frame: Any, *, has_order_id: bool) -> tuple[Any, Any]:
    """``frame`` with the shard key ``_key`` of every row, and the per-order keys it holds on
    to (to unpersist once the rows are sharded; None without order ids); raises for an order
    id shared by two customers, naming the first such order (by id) and how many there are."""
    from pyspark.sql import functions as sf
    from pyspark.sql.functions import pandas_udf

    key = pandas_udf(customer_key, "string")  # type: ignore[call-overload]
    keyed = frame.withColumn(_CUSTOMER, key(sf.col("customer_id").cast("string")))
    if not has_order_id:
        return keyed.withColumn(KEY, sf.coalesce(sf.col(_CUSTOMER), sf.lit(""))).drop(_CUSTOMER), None
    keyed = keyed.withColumn(_ORDER, pandas_udf(order_key, "string")(  # type: ignore[call-overload]
        sf.col("order_id").cast("string")))
    per_order = (keyed.where(sf.col(_ORDER).isNotNull() & sf.col(_CUSTOMER).isNotNull()).groupBy(_ORDER)
                 .agg(sf.min(_CUSTOMER).alias("_low"), sf.max(_CUSTOMER).alias("_high"))).persist()
    _check_shared_orders(per_order)
    joined = keyed.join(per_order.select(_ORDER, sf.col("_low").alias("_of_order")), on=_ORDER, how="left")
    key_column = sf.coalesce(sf.col(_CUSTOMER), sf.col("_of_order"), sf.lit(""))
    return joined.withColumn(KEY, key_column).drop(_CUSTOMER, _ORDER, "_of_order"), per_order


def _check_shared_orders(per_order: Any) -> None:
    from pyspark.sql import functions as sf

    shared = per_order.where(sf.col("_low") != sf.col("_high"))
    first = shared.orderBy(_ORDER).limit(1).collect()
    if first:
        row, count = first[0], shared.count()
        raise RetainkitError(
            f"column order_id: order {row[_ORDER]!r} belongs to customer {row['_high']!r} and to {row['_low']!r} "
            f"({count} order ids are shared like this)",
            "fix the export, or leave out the order id column (--order) so that each row is an order",
        )
