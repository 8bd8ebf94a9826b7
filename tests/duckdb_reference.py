"""The SPEC §3 KPIs written independently in DuckDB SQL, for tests and the benchmark.

Deliberately a different method from retainkit's: orders by GROUP BY, gaps by LAG over
sorted orders, the top 20% by ROW_NUMBER, windows by date arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """How to read one export in SQL: a FROM clause and an expression per field."""

    relation: str  # e.g. read_parquet('x.parquet')
    customer: str
    day: str  # a DATE expression
    amount: str
    order_id: str | None = None  # None: each row is an order
    stamp: str | None = None  # the date column as read, for exact duplicates
    duplicate_columns: str = "*"  # columns compared for exact duplicates


def kpi_sql(src: Source, *, start: str | None = None, end: str | None = None, churn_window_days: int | None = None,
            churn_alert: float = 0.07) -> str:
    order_id = src.order_id or "CAST(row_number() OVER () AS VARCHAR)"
    start_sql = f"DATE '{start}'" if start else "(SELECT min(day) FROM orders)"
    end_sql = f"DATE '{end}'" if end else "(SELECT max(day) FROM orders)"
    # SPEC §2: the period's length with --from; else 365 days when the data covers two
    # 365-day windows, else the longest of 180, 90, 30 whose base window it covers, else 365.
    default_window = ("CASE WHEN ds <= t - 729 THEN 365 WHEN ds <= t - 359 THEN 180 WHEN ds <= t - 179 THEN 90 "
                      "WHEN ds <= t - 59 THEN 30 ELSE 365 END")
    window = churn_window_days or ("t - f + 1" if start else default_window)
    return f"""
WITH raw AS (
    SELECT NULLIF(trim(CAST({src.customer} AS VARCHAR)), '') AS customer,
           CAST({order_id} AS VARCHAR) AS order_id,
           {src.day} AS day,
           CAST({src.amount} AS DOUBLE) AS amount
    FROM {src.relation}
),
dups AS (SELECT coalesce(sum(n - 1), 0) AS duplicate_rows FROM
         (SELECT {src.duplicate_columns}, count(*) AS n FROM {src.relation} GROUP BY ALL)),
valid AS (SELECT *, (amount < 0 OR regexp_matches(order_id, '^[Cc][0-9]')) AS is_refund
          FROM raw WHERE customer IS NOT NULL),
orders AS (SELECT order_id, any_value(customer) AS customer, min(day) AS day, sum(amount) AS amount
           FROM valid WHERE NOT is_refund GROUP BY order_id),
refunds AS (SELECT customer, day, -abs(amount) AS amount FROM valid WHERE is_refund),
bounds AS (SELECT {start_sql} AS f, {end_sql} AS t, (SELECT min(day) FROM orders) AS ds),
params AS (SELECT f, t, ds, ({window})::INTEGER AS l FROM bounds),
events AS (SELECT customer, day, amount, FALSE AS is_refund FROM orders
           UNION ALL SELECT customer, day, amount, TRUE FROM refunds),
live AS (SELECT e.* FROM events e, params p WHERE e.day <= p.t),
per AS (
    SELECT customer,
           count(*) FILTER (WHERE NOT is_refund AND day >= p.f) AS n_in,
           count(*) FILTER (WHERE NOT is_refund) AS n_to,
           coalesce(sum(amount) FILTER (WHERE day >= p.f), 0) AS rev_in,
           min(day) FILTER (WHERE NOT is_refund) AS first_day,
           bool_or(NOT is_refund AND day > p.t - 2 * p.l AND day <= p.t - p.l) AS in_base,
           bool_or(NOT is_refund AND day > p.t - p.l) AS in_current,
           coalesce(sum(amount) FILTER (WHERE day > p.t - 365), 0) AS rev_365,
           bool_or(NOT is_refund AND day > p.t - 365) AS in_365
    FROM live, params p GROUP BY customer
),
c AS (SELECT * FROM per WHERE n_in > 0),
purchase_days AS (SELECT DISTINCT customer, day FROM live WHERE NOT is_refund),
gaps AS (
    SELECT day - lag(day) OVER (PARTITION BY customer ORDER BY day) AS gap, day
    FROM purchase_days
),
ranked AS (SELECT rev_in, row_number() OVER (ORDER BY rev_in DESC) AS r FROM c),
totals AS (
    SELECT (SELECT count(*) FROM c) AS customers,
           (SELECT coalesce(sum(n_in), 0) FROM c) AS orders,
           (SELECT coalesce(sum(amount), 0) FROM live, params p WHERE day >= p.f) AS revenue,
           (SELECT count(*) FROM c, params p WHERE first_day >= p.f) AS new_customers,
           (SELECT count(*) FROM c WHERE n_in >= 2) AS repeat_customers,
           (SELECT count(*) FROM c WHERE n_to >= 2) AS returning_customers,
           (SELECT coalesce(sum(rev_in), 0) FROM c WHERE n_to >= 2) AS returning_revenue,
           (SELECT avg(gap) FROM gaps, params p WHERE gap IS NOT NULL AND day >= p.f) AS avg_gap,
           (SELECT coalesce(sum(rev_in), 0) FROM ranked WHERE r <= ((SELECT count(*) FROM c) + 4) // 5) AS top_revenue,
           (SELECT count(*) FROM per WHERE in_base) AS s,
           (SELECT count(*) FROM per WHERE in_current) AS e,
           (SELECT count(*) FROM per WHERE in_base AND NOT in_current) AS lost,
           (SELECT coalesce(sum(amount), 0) FROM live, params p WHERE day > p.t - 365) AS revenue_365,
           (SELECT count(*) FROM per WHERE in_365) AS customers_365,
           (SELECT l FROM params) AS l,
           (SELECT ds <= t - 2 * l + 1 FROM params) AS base_covered,
           (SELECT ds <= t - l + 1 FROM params) AS current_covered,
           (SELECT ds <= t - 364 FROM params) AS year_covered,
           (SELECT duplicate_rows FROM dups) AS duplicate_rows,
           (SELECT count(*) FROM raw) AS rows,
           (SELECT count(*) FROM raw WHERE customer IS NULL) AS missing_customer_rows,
           (SELECT count(*) FROM refunds) AS refund_rows,
           (SELECT count(*) FROM orders) AS all_orders
)
SELECT *, CAST(churn AS DOUBLE) AS churn_rate,
       CASE WHEN churn IS NULL THEN NULL ELSE 1 - pow(1 - churn, 365.0 / l) END AS annual_churn_rate
FROM (SELECT *, CASE WHEN s = 0 THEN NULL ELSE lost / s END AS churn FROM totals)
"""


def kpis_from_row(row: dict, churn_alert: float = 0.07) -> dict:
    """SPEC §3 keys from the SQL result row (plain arithmetic on the SQL aggregates)."""
    def div(a, b):
        return None if not b or a is None else a / b

    annual = row["annual_churn_rate"]
    lifespan = None if annual in (None, 0) else 1 / annual
    arpc = div(row["revenue_365"], row["customers_365"])
    return {
        "customers": row["customers"],
        "orders": row["orders"],
        "revenue": row["revenue"],
        "average_order_value": div(row["revenue"], row["orders"]),
        "purchase_frequency": div(row["orders"], row["customers"]),
        "new_customers": row["new_customers"],
        "repeat_customers": row["repeat_customers"],
        "repeat_customer_rate": div(row["repeat_customers"], row["customers"]),
        "returning_customers": row["returning_customers"],
        "returning_customer_rate": div(row["returning_customers"], row["customers"]),
        "returning_revenue_share": div(row["returning_revenue"], row["revenue"]),
        "avg_days_between_orders": row["avg_gap"],
        "top_20pct_revenue_share": div(row["top_revenue"], row["revenue"]),
        "customers_start": row["s"],
        "customers_end": row["e"],
        "customers_lost": row["lost"],
        "retention_rate": div(row["s"] - row["lost"], row["s"]),
        "churn_rate": row["churn_rate"],
        "churn_rate_net": div(row["s"] - row["e"], row["s"]),
        "annual_churn_rate": annual,
        "churn_alert": None if annual is None else annual > churn_alert,
        "annual_revenue_per_customer": arpc,
        "avg_lifespan_years": lifespan,
        "customer_lifetime_value": None if arpc is None or lifespan is None else arpc * lifespan,
    }


def with_coverage(row: dict, kpis: dict) -> dict:
    """SPEC §2: a KPI whose window the data does not reach is null."""
    uncovered = []
    if not row["base_covered"]:
        uncovered += ["customers_start", "customers_lost", "retention_rate", "churn_rate", "churn_rate_net",
                      "annual_churn_rate", "churn_alert", "avg_lifespan_years", "customer_lifetime_value"]
    if not row["current_covered"]:
        uncovered += ["customers_end", "churn_rate_net"]
    if not row["year_covered"]:
        uncovered += ["annual_revenue_per_customer", "customer_lifetime_value"]
    return kpis | dict.fromkeys(uncovered)


def run(src: Source, **kwargs) -> tuple[dict, dict]:
    """(KPIs, data-quality counts) computed by DuckDB."""
    import duckdb

    con = duckdb.connect()
    cursor = con.execute(kpi_sql(src, **kwargs))
    names = [d[0] for d in cursor.description]
    row = dict(zip(names, cursor.fetchone(), strict=True))
    quality = {k: row[k] for k in ("rows", "missing_customer_rows", "refund_rows", "duplicate_rows")}
    quality["orders"] = row["all_orders"]
    quality["churn_window_days"] = row["l"]
    return with_coverage(row, kpis_from_row(row)), quality


#: The (R, F) grid of SPEC §5 as a flat list: index (5 − R) · 5 + F, 1-based.
GRID_NAMES = [
    "New", "Potential loyalist", "Potential loyalist", "Champions", "Champions",
    "Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal",
    "About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal",
    "Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them",
    "Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them",
]
GRID_LIST = "[" + ", ".join("'" + name.replace("'", "''") + "'" for name in GRID_NAMES) + "]"


def customers_sql(src: Source, *, referrer: str | None = None, inactive_days: int = 60, lost_days: int = 365,
                  vip_top: str = "0.05") -> str:
    """The per-customer table of SPEC §5 (as of the last order), written independently."""
    order_id = src.order_id or "CAST(row_number() OVER () AS VARCHAR)"
    referred = f"NULLIF(trim(CAST({referrer} AS VARCHAR)), '')" if referrer else "CAST(NULL AS VARCHAR)"
    return f"""
WITH raw AS (
    SELECT NULLIF(trim(CAST({src.customer} AS VARCHAR)), '') AS customer, CAST({order_id} AS VARCHAR) AS order_id,
           {src.day} AS day, CAST({src.amount} AS DOUBLE) AS amount, {referred} AS referred_by
    FROM {src.relation}
),
valid AS (SELECT *, (amount < 0 OR regexp_matches(order_id, '^[Cc][0-9]')) AS is_refund
          FROM raw WHERE customer IS NOT NULL),
orders AS (SELECT order_id, any_value(customer) AS customer, min(day) AS day, sum(amount) AS amount,
                  max(referred_by) AS referred_by
           FROM valid WHERE NOT is_refund GROUP BY order_id),
events AS (SELECT customer, day, amount, FALSE AS is_refund FROM orders
           UNION ALL SELECT customer, day, -abs(amount), TRUE FROM valid WHERE is_refund),
params AS (SELECT max(day) AS t FROM orders),
per AS (
    SELECT customer,
           min(day) FILTER (WHERE NOT is_refund) AS first_order,
           max(day) FILTER (WHERE NOT is_refund) AS last_order,
           count(*) FILTER (WHERE NOT is_refund) AS orders,
           count(DISTINCT day) FILTER (WHERE NOT is_refund) AS purchase_days,
           round(sum(amount), 2) AS revenue,
           max(day) FILTER (WHERE is_refund) AS last_refund,
           round(coalesce(sum(amount) FILTER (WHERE day > p.t - 365), 0), 2) AS revenue_365
    FROM events, params p WHERE day <= p.t GROUP BY customer HAVING count(*) FILTER (WHERE NOT is_refund) > 0
),
referrals AS (SELECT referred_by AS customer, count(DISTINCT customer) AS referred
              FROM orders WHERE referred_by IS NOT NULL AND referred_by <> customer GROUP BY referred_by),
scored AS (
    SELECT per.*, coalesce(referrals.referred, 0) AS referred,
           p.t - last_order AS recency_days, last_order - first_order AS tenure_days,
           count(*) OVER () AS n,
           rank() OVER (ORDER BY p.t - last_order DESC) - 1 AS r_worse,
           rank() OVER (ORDER BY orders) - 1 AS f_worse,
           rank() OVER (ORDER BY revenue) - 1 AS m_worse,
           row_number() OVER (ORDER BY (revenue_365 > 0) DESC, revenue_365 DESC, per.customer) AS vip_rank,
           -- sum(CASE …) OVER (): DuckDB 2.0 took 70 s on count(*) FILTER (…) OVER () here
           sum(CASE WHEN revenue_365 > 0 THEN 1 ELSE 0 END) OVER () AS n_positive
    FROM per LEFT JOIN referrals USING (customer), params p
),
flags AS (
    SELECT *, least(5, 1 + (5 * r_worse) // n) AS r_score, least(5, 1 + (5 * f_worse) // n) AS f_score,
           least(5, 1 + (5 * m_worse) // n) AS m_score,
           purchase_days >= 2 AND recency_days >= {inactive_days}
               AND 2 * recency_days * (purchase_days - 1) >= 3 * tenure_days
               AND recency_days < {lost_days} AS at_risk,
           recency_days >= {lost_days} AS lost
    FROM scored
)
SELECT customer AS customer_id, first_order, last_order, orders, revenue, revenue / orders AS average_order_value,
       recency_days, tenure_days,
       CASE WHEN purchase_days >= 2 THEN tenure_days / (purchase_days - 1) END AS avg_days_between_orders,
       revenue_365, r_score, f_score, m_score, {GRID_LIST}[(5 - r_score) * 5 + f_score] AS rfm_segment,
       revenue_365 > 0 AND vip_rank <= ceil({vip_top} * n_positive) AS is_vip,
       at_risk,
       CASE WHEN NOT lost AND referred > 0 THEN 5
            WHEN lost AND last_refund >= last_order THEN -1
            WHEN lost THEN 0
            WHEN orders >= 3 AND tenure_days >= 365 AND NOT at_risk THEN 4
            WHEN orders >= 3 AND NOT at_risk THEN 3
            WHEN orders >= 2 THEN 2 ELSE 1 END AS level
FROM flags
ORDER BY customer_id
"""
