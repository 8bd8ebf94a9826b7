"""The report's "Who will buy again" section (SPEC §6, issue 14): the purchase model checked
on a holdout, as ``predict`` checks it, and its map of who is still a customer.

From the predict pipeline (:mod:`retainkit.models.scoreboard`, :mod:`retainkit.models.predict`):

* the scoreboard on the default holdout — the last quarter of the period up to the
  report's date (at least :data:`~retainkit.models.scoreboard.MIN_DAYS` days): BG/NBD and
  the naive guess fitted on the purchases before it, scored week by week and by frequency
  group on the purchases in it;
* BG/NBD fitted on every purchase up to the report's date, and its P(alive) over
  frequency × purchase span (:func:`~retainkit.models.alive.alive_grid`).

The report has the cost of ``kpis`` plus a little; a model fit does not. So the section
fits on a fixed share of the customers: 1 in ``step`` = ⌈customer codes / :data:`SAMPLE`⌉,
those whose code (customer ids in sorted order) is a multiple of ``step`` — every customer
up to :data:`SAMPLE` of them, about :data:`SAMPLE` beyond, the same ones every run. Its
cost then does not grow with the data. ``predict`` fits every customer and scores every model.

Choosing the sample (:func:`sample_of`) and fitting on it (:func:`buy_again_on_sample`) are
apart: the local engine takes the sample from its orders frame; Spark finds the same
customers by a distributed sort of the distinct ids and brings only their orders to the
driver (:mod:`retainkit.spark.buyers`); both run the one fit on them.

When the data cannot support it (a period under four weeks, too few customers buying
twice before the holdout, no maximum of the likelihood, no SciPy) the section is one
sentence, ``note``, saying why.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from retainkit import defaults
from retainkit.errors import RetainkitError
from retainkit.periods import from_day_number
from retainkit.values import Note

SAMPLE = 5_000  # customers the section fits on at most (about)
MODEL = "bgnbd"  # the purchase model of the section: predict's default


def step_of(customers: int, *, sample: int | None = None) -> int:
    """1 in how many of ``customers`` the section fits on: ⌈customers / ``sample``⌉ (default
    :data:`SAMPLE`, read when called)."""
    return max(1, math.ceil(customers / (SAMPLE if sample is None else sample)))


def sample_of(orders: pd.DataFrame, *, step: int) -> pd.DataFrame:
    """The orders of the customers whose code (rank among the sorted ids) is a multiple of
    ``step``; with ``step`` > 1 only their ids as categories (each look-up of an id is then
    among a few thousand), with 1 the orders as they are."""
    if step == 1:
        return orders
    sample = orders[orders["customer_id"].cat.codes.to_numpy() % step == 0]
    return sample.assign(customer_id=sample["customer_id"].cat.remove_unused_categories())


def local_sample(orders: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The local orders' sample and its ``step``: 1 in :func:`step_of` customer codes (every
    id among the categories), chosen by :func:`sample_of`."""
    step = step_of(len(orders["customer_id"].cat.categories))
    return sample_of(orders, step=step), step


def buy_again(orders: pd.DataFrame, *, start_day: int, end_day: int,
              time_unit_days: float = defaults.TIME_UNIT_DAYS) -> dict[str, Any]:
    """:func:`buy_again_on_sample` on the local orders' :func:`local_sample`."""
    return buy_again_on_sample(lambda: local_sample(orders), start_day=start_day, end_day=end_day,
                               time_unit_days=time_unit_days)


def buy_again_on_sample(draw: Callable[[], tuple[pd.DataFrame, int]], *, start_day: int, end_day: int,
                        time_unit_days: float = defaults.TIME_UNIT_DAYS) -> dict[str, Any]:
    """The section's data: ``board`` (the scoreboard of BG/NBD and the naive guess),
    ``grid`` (P(alive) over frequency × purchase span; None if the fit on all the data
    fails), the holdout's dates, the sample (``step``, ``customers``: the sample's customers
    with a purchase by ``end_day``) and ``note`` None; or only ``note``, one sentence saying
    why there is no prediction. Either engine's: ``draw()`` gives the sample's orders (the
    canonical orders frame of those customers, ids as categories in sorted order) and its
    ``step``, called only once the period can hold a holdout out.

    ``start_day`` and ``end_day`` are day numbers (days since 1970-01-01) of the period.
    """
    try:
        from retainkit.models.alive import alive_grid
        from retainkit.models.catalogue import MODELS
        from retainkit.models.scoreboard import MIN_DAYS, default_holdout_day, score_models
        from retainkit.models.summary import summarise
        from retainkit.models.transaction import MIN_REPEAT_BUYERS, fit_model
    except ImportError:  # pragma: no cover - depends on the install
        return {"note": Note("No prediction: it needs SciPy (pip install 'retainkit[predict]').")}
    holdout_day = default_holdout_day(start_day, end_day)
    if holdout_day is None:
        days = end_day - start_day + 1
        return {"note": Note("No prediction: the data covers %(days)s days; checking a model needs at least "
                             "%(least)s days, the last quarter held out.", days=days, least=MIN_DAYS)}
    sample, step = draw()
    try:
        board = score_models(sample, holdout_day=holdout_day, end_day=end_day, time_unit_days=time_unit_days,
                             names=(MODEL,))
    except RetainkitError:
        before = summarise(sample, end_day=holdout_day - 1, time_unit_days=time_unit_days).frame
        repeaters = int((before["frequency"] > 0).sum())
        if repeaters < MIN_REPEAT_BUYERS:
            counts = {"repeaters": format(repeaters, ","), "customers": format(len(before), ",")}
            return {"note": Note("No prediction: %(repeaters)s of %(customers)s customers bought more than once "
                                 "before %(date)s, too few to fit a purchase model.", **counts,
                                 date=from_day_number(holdout_day))}
        return {"note": Note("No prediction: the purchase model has no best fit on the orders before %(date)s.",
                             date=from_day_number(holdout_day))}
    whole = summarise(sample, end_day=end_day, time_unit_days=time_unit_days).frame
    x, t_x, age = (whole[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    try:
        grid = alive_grid(fit_model(MODELS[MODEL], x, t_x, age), x, age, time_unit_days)
    except RetainkitError:
        grid = None
    dates = {"calibration_end": holdout_day - 1, "holdout_start": holdout_day, "holdout_end": end_day}
    return {"board": board, "grid": grid, "step": step, "customers": len(whole), "note": None} | {
        key: from_day_number(day).isoformat() for key, day in dates.items()}
