"""What each command does, as library calls: load → normalise → compute (no formatting).

The public API (``import retainkit``) re-exports these, so a notebook gets exactly what
the command line prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd

from retainkit import defaults, values
from retainkit.actions import act_on_this, action_columns
from retainkit.config import AnalysisOptions, ReadOptions
from retainkit.customers import CustomerOptions, at_risk_customers, customer_table, product_lapses
from retainkit.duplicates import overlap_sentence
from retainkit.errors import RetainkitError
from retainkit.kernel import combine_quality, customer_rows
from retainkit.load import load_export
from retainkit.metrics import KpiOptions, kpis_from_windows
from retainkit.normalise import Normalised, normalise
from retainkit.periods import Period, orders_after, resolve_period
from retainkit.reductions import CustomerWindows


def read_orders(
    paths: Sequence[str] | str | Any,
    options: ReadOptions | None = None,
    *,
    product_lines: bool = False,
    stage: Callable[[str], None] | None = None,
    engine: str = "local",
    spark: Any = None,
    **kwargs: Any,
) -> Normalised | Any:
    """Read exports into the canonical orders frame and its data-quality record.

    ``kwargs`` are :class:`ReadOptions` fields (``dayfirst=True``, ``tz="Asia/Ho_Chi_Minh"``…);
    ``product_lines`` keeps the per-line products that product lapses need; ``stage`` is told
    when reading and then normalising begin (a progress bar). With ``engine="spark"`` — or a
    Spark DataFrame as ``paths`` — Spark reads and normalises, sharded by customer
    (:mod:`retainkit.spark`; ``spark`` is a :class:`retainkit.spark.session.SparkOptions`), and
    the orders stay in Spark.
    """
    opts = options or ReadOptions(**kwargs)
    if engine == "spark" or type(paths).__module__.startswith("pyspark"):
        from retainkit.spark.engine import read_orders_spark

        return read_orders_spark([paths] if isinstance(paths, str) else paths, opts, spark, product_lines=product_lines)
    if isinstance(paths, str):
        paths = [paths]
    tell = stage or (lambda _: None)
    tell(f"Reading {len(paths):,} input{'s' if len(paths) > 1 else ''}")
    exports = [load_export(paths, opts)]
    tell(f"Normalising {exports[0].table.num_rows:,} rows")
    # Handed over, not kept here: normalise frees the text columns once they are read.
    data = normalise(exports.pop(), opts, product_lines=product_lines)
    return replace(data, quality=combine_quality([data.quality]))


def orders_of(data: Any) -> Any:
    """``data`` as read orders: a Spark DataFrame of order lines is read first (a notebook's)."""
    return read_orders(data) if type(data).__module__.startswith("pyspark") else data


def period_of(data: Any, *, start: date | None = None, end: date | None = None,
              churn_window_days: int | None = None) -> Period:
    """The period of SPEC §2 for orders of either engine."""
    if isinstance(data, Normalised):
        return resolve_period(data.orders, start=start, end=end, churn_window_days=churn_window_days)
    return data.resolve_period(start=start, end=end, churn_window_days=churn_window_days)


def rows_of(data: Any, period: Period) -> CustomerWindows:
    """The per-customer rows (the kernel, on one shard or on Spark's)."""
    return customer_rows(data.orders, period) if isinstance(data, Normalised) else data.customer_rows(period)


def kpi_report(
    data: Normalised,
    *,
    files: Sequence[str] = (),
    start: date | None = None,
    end: date | None = None,
    analysis: AnalysisOptions | None = None,
    customer_options: CustomerOptions | None = None,
) -> dict[str, Any]:
    """The ``kpis`` document of SPEC §7: period, data quality, every KPI, and what to act on."""
    data = orders_of(data)
    analysis = analysis or AnalysisOptions()
    period = period_of(data, start=start, end=end, churn_window_days=analysis.churn_window_days)
    kpi_options = KpiOptions(analysis.churn_alert, analysis.margin)
    if isinstance(data, Normalised):
        windows = rows_of(data, period)
        metrics = kpis_from_windows(windows, kpi_options)
        actions = act_on_this(action_columns(windows, customer_options))
    else:  # Spark: per-customer rows stay there, aggregates come over
        metrics, actions = data.kpis(period, kpi_options, customer_options)
    after = orders_after(data.orders, period) if isinstance(data, Normalised) else data.orders_after(period)
    period_info = period.as_dict() | {"orders_after_to_ignored": after}
    return kpis_document(period_info, data.quality.as_dict(), metrics, files=list(files), act_on_this=actions)


def kpis_document(
    period: Mapping[str, Any],
    quality: Mapping[str, Any],
    metrics: Mapping[str, Any],
    *,
    files: list[str],
    act_on_this: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON object of ``retainkit kpis`` (SPEC §7)."""
    document = {
        "schema_version": values.SCHEMA_VERSION,
        "files": files,
        "period": dict(period),
        "data_quality": dict(quality),
        "metrics": dict(metrics),
    }
    if act_on_this is not None:
        document["act_on_this"] = dict(act_on_this)
    return values.clean(document)


def with_quality(frame: pd.DataFrame, data: Normalised) -> pd.DataFrame:
    """Attach the data-quality record to a result frame (``attrs["data_quality"]``, in JSON
    beside the rows) and the rows repeated across files to its notes (SPEC §1, overlap)."""
    quality = data.quality.as_dict()
    frame.attrs["data_quality"] = quality
    overlap = overlap_sentence(quality)
    if overlap:
        frame.attrs["notes"] = [*frame.attrs.get("notes", []), overlap]
    return frame


def customer_report(
    data: Normalised, *, end: date | None = None, options: CustomerOptions | None = None
) -> pd.DataFrame:
    """The per-customer table of SPEC §5 as of ``end`` (default: the last order)."""
    data = orders_of(data)
    period = period_of(data, end=end)
    if not isinstance(data, Normalised):  # held by Spark (retainkit.spark.tables.SparkTable)
        return data.customer_table(period, options)
    return with_quality(customer_table(rows_of(data, period), options), data)


def at_risk_report(
    data: Normalised, *, end: date | None = None, options: CustomerOptions | None = None, products: bool = False,
    by: str = "revenue",
) -> pd.DataFrame:
    """Customers at risk by value at risk; with ``products``, their product lapses instead.

    ``by="revenue"``: most revenue over the last 365 days first. ``by="value"``: priced by
    ``predict``'s default models (:func:`priced_at_risk`), most ``value_if_alive`` first."""
    if by not in AT_RISK_BY:
        raise RetainkitError(f"--by {by} is not a ranking", f"choose one of {', '.join(AT_RISK_BY)}")
    if products and by != "revenue":
        raise RetainkitError("--by value ranks customers, not product lapses", "drop --products or --by value")
    data = orders_of(data)
    period = period_of(data, end=end)
    if products and not (data.product_lines is not None if isinstance(data, Normalised) else data.has_products):
        raise RetainkitError(
            "--products needs a product column (product_id, sku, StockCode …)", "name it with --product COLUMN"
        )
    if not isinstance(data, Normalised):  # held by Spark
        if products:
            return data.product_lapses(period, options)
        held = data.customer_table(period, options, at_risk=True)
        if by == "value":  # priced in Spark: the predictions joined to the at-risk rows there
            from retainkit.spark.predict import priced_at_risk_spark

            return priced_at_risk_spark(held, data, period)
        return held
    table = customer_table(rows_of(data, period), options)
    if not products:
        risky = at_risk_customers(table)[list(AT_RISK_COLUMNS)]
        return with_quality(priced_at_risk(risky, data, period) if by == "value" else risky, data)
    assert data.product_lines is not None
    return with_quality(product_lapses(data.product_lines, table, period.end_day, options), data)


def trend_report(
    data: Normalised, *, every: str = "month", start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """KPIs per calendar period (SPEC §4)."""
    from retainkit.calendar import check_every
    from retainkit.cohorts import trend_table

    data = orders_of(data)
    every = check_every(every)
    period = period_of(data, start=start, end=end)
    if not isinstance(data, Normalised):  # Spark: each shard's counts and sums, added
        return with_quality(data.trend(period, every), data)
    return with_quality(trend_table(data.orders, period, every), data)


def cohort_report(
    data: Normalised,
    *,
    every: str = "month",
    metric: str = "customers",
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """The cohort matrix of SPEC §4 in long form (:func:`retainkit.cohorts.cohort_wide` pivots it)."""
    from retainkit.calendar import check_every
    from retainkit.cohorts import METRICS, cohort_table

    if metric not in METRICS:
        raise RetainkitError(f"--metric {metric!r} is not a cohort metric", f"use one of {', '.join(METRICS)}")
    data = orders_of(data)
    every = check_every(every)
    period = period_of(data, start=start, end=end)
    if not isinstance(data, Normalised):  # Spark: each shard's counts and sums, added
        return with_quality(data.cohorts(period, every, metric), data)
    return with_quality(cohort_table(data.orders, period, every, metric), data)


def report_data(
    data: Normalised,
    *,
    every: str = "week",
    end: date | None = None,
    churn_alert: float = defaults.CHURN_ALERT,
    churn_window_days: int | None = None,
    customer_options: CustomerOptions | None = None,
    change_alert: float | None = None,
    worker: Any = None,
) -> dict[str, Any]:
    """The content of ``retainkit report`` (render it with :mod:`retainkit.render_report`), with
    the currency the amounts' signs name for the renderer (``_currency``: not in the JSON);
    ``worker``: the :class:`~retainkit.report_worker.ModelWorker` that computes the model
    section beside this process (local engine)."""
    from retainkit.report import ReportOptions, local_source, report_from

    data = orders_of(data)
    options = ReportOptions(every=every, churn_alert=churn_alert, churn_window_days=churn_window_days,
                            customers=customer_options or CustomerOptions(), change_alert=change_alert)
    if isinstance(data, Normalised):
        source = local_source(data.orders, worker=worker)
    else:  # Spark: the same report from pieces added over its shards (retainkit.spark.report)
        from retainkit.spark.report import spark_source

        source = spark_source(data)
    return report_from(source, data.quality.as_dict(), options, end=end) | {"_currency": data.quality.currency}


def prediction_report(
    data: Normalised,
    *,
    end: date | None = None,
    holdout: date | None = None,
    horizon_days: float = defaults.HORIZON_DAYS,
    time_unit_days: float = defaults.TIME_UNIT_DAYS,
    discount_rate: float = defaults.DISCOUNT_RATE,
    margin: float | None = None,
    penalizer: float = defaults.PENALIZER,
    model: str = defaults.MODEL,
    interval: float = defaults.INTERVAL,
    more_horizons_days: tuple[float, ...] = (),
):
    """A purchase model (``model``: bgnbd, pnbd, mbgnbd or auto) + Gamma-Gamma (SPEC §6) as
    of ``end``, with the scoreboard of every model against a naive guess; with ``holdout``,
    fit before it and compare predicted with actual repeat purchases from it to ``end``.

    Orders without amounts (no ``amount`` column) get the purchase model alone: P(alive)
    and expected purchases, expected order value and CLV null, and ``notes`` saying why.
    ``margin`` None: CLV as revenue (a margin of 1).
    A model whose likelihood has no maximum on the data is fitted at the limit it runs to,
    and ``notes`` says which. Raises :class:`RetainkitError` for a horizon that is not a
    finite number from 1 to 36,525 days (100 years), and likewise for the other options.
    """
    try:
        from retainkit.models.predict import PredictOptions, check_options, predict_orders
    except ImportError:  # pragma: no cover - depends on the install
        raise RetainkitError("predict needs SciPy", "pip install 'retainkit[predict]'") from None
    from retainkit.periods import day_number

    options = PredictOptions(horizon_days, time_unit_days, discount_rate, 1.0 if margin is None else margin, penalizer,
                             model, interval, more_horizons_days)
    check_options(options)
    data = orders_of(data)
    period = period_of(data, end=end)
    if holdout is not None and not period.start < holdout <= period.end:
        why = (f"no day to fit on before it: the data starts {period.start}" if holdout <= period.start else
               f"no day to check after it: the data ends {period.end}")
        raise RetainkitError(f"--holdout {holdout} leaves {why}",
                             f"pick a date after {period.start}, up to {period.end}")
    start_day, holdout_day = day_number(period.start), None if holdout is None else day_number(holdout)
    if not isinstance(data, Normalised):  # Spark: fitted here on the shards' parts, the customers stay there
        from retainkit.spark.predict import predict_spark

        return predict_spark(data, start_day=start_day, end_day=period.end_day, holdout_day=holdout_day,
                             options=options)
    return predict_orders(data.orders, start_day=start_day, end_day=period.end_day, holdout_day=holdout_day,
                          options=options)


AT_RISK_COLUMNS = (
    "customer_id", "revenue_365", "recency_days", "avg_days_between_orders", "days_overdue", "why", "orders",
    "revenue", "last_order", "expected_next_order", "rfm_segment", "level_name", "is_vip",
)
#: ``at-risk --by``: the rankings, and the columns ``value`` adds (SPEC §6's p_alive, value_if_alive, clv).
AT_RISK_BY = ("revenue", "value")
AT_RISK_VALUE_COLUMNS = ("p_alive", "value_if_alive", "expected_value")


def priced_at_risk(risky: pd.DataFrame, data: Normalised, period: Period) -> pd.DataFrame:
    """``risky`` (at-risk customers) with ``p_alive``, ``value_if_alive`` (CLV / P(alive): the
    value over ``predict``'s default horizon if the customer is still alive) and
    ``expected_value`` (CLV), from BG/NBD and Gamma-Gamma fitted as ``predict`` fits them by
    default (no intervals: they change no value; :func:`pricing_fit`), most value if alive
    first, ties by id."""
    try:
        from retainkit.models.per_customer import customer_predictions
        from retainkit.models.predict import OneShard
        from retainkit.models.shard import Plan
    except ImportError:  # pragma: no cover - depends on the install
        raise RetainkitError("at-risk --by value needs SciPy",
                             f"pip install 'retainkit[predict]', {PRICING_INSTEAD}") from None
    orders = data.orders
    shards, plan = OneShard(orders), Plan(period.end_day, defaults.TIME_UNIT_DAYS)
    fitted = pricing_fit(lambda: shards.parts(plan), has_amounts="amount" in orders)
    found = customer_predictions(shards.shard(plan), fitted).table
    found = found.set_index(found["customer_id"].astype(str))
    ids = risky["customer_id"].astype(str)
    priced = risky.assign(p_alive=ids.map(found["p_alive"]).to_numpy(float),
                          value_if_alive=ids.map(found["value_if_alive"]).to_numpy(float),
                          expected_value=ids.map(found["clv"]).to_numpy(float))
    priced.attrs["notes"] = [*priced.attrs.get("notes", []), *pricing_notes(fitted)]
    return priced.sort_values(["value_if_alive", "customer_id"], ascending=[False, True], kind="stable",
                              na_position="last", ignore_index=True)


PRICING_INSTEAD = "or rank by revenue: --by revenue"


def pricing_fit(parts: Callable[[], dict[str, Any]], *, has_amounts: bool) -> Any:
    """The fits of ``at-risk --by value`` — ``predict``'s default models at its default
    horizon, without intervals — on the parts of the orders' shards up to the period's end
    (``parts``: of one process, or of Spark's shards); a
    :class:`retainkit.models.per_customer.Fitted`. Raises :class:`RetainkitError` where the
    models cannot be fitted (no amounts, too few repeat buyers), naming ``--by revenue``."""
    from retainkit.models.predict import PredictOptions, fit_state

    if not has_amounts:
        raise RetainkitError("at-risk --by value needs amounts: the export has no amount column (nor quantity × "
                             "unit price)", f"name it with --amount (or --quantity and --price), {PRICING_INSTEAD}")
    try:
        fitted = fit_state(parts(), PredictOptions(model=defaults.MODEL, interval=0.0))
    except RetainkitError as error:
        hint = error.hint.replace(" or --holdout", "")  # at-risk fits on every order up to --to
        raise RetainkitError(f"at-risk --by value: {error.message}", f"{hint}, {PRICING_INSTEAD}") from None
    if fitted.gg is None:  # amounts, but none finite
        raise RetainkitError("at-risk --by value: the amounts are all empty, so spend cannot be modelled",
                             f"check the amount column, {PRICING_INSTEAD}")
    return fitted


def pricing_notes(fitted: Any) -> list[str]:
    """What ``at-risk --by value`` says about its fits: a model fitted at a limit."""
    return [note for note in (fitted.fit.note, fitted.gg.note) if note]


def segments_report(
    data: Normalised, *, end: date | None = None, options: CustomerOptions | None = None
) -> pd.DataFrame:
    """One row per RFM segment and per loyalty level (SPEC §5)."""
    from retainkit.segments import segment_summary

    data = orders_of(data)
    table = customer_report(data, end=end, options=options)
    if not isinstance(table, pd.DataFrame):  # held by Spark: the shards' parts come over, added
        return with_quality(table.segments(), data)
    return with_quality(segment_summary(table), data)
