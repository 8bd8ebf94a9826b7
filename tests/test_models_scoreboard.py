"""SPEC §6: the scoreboard — the naive guess by hand, the errors of a prediction on a
hand-made holdout, CDNOW's board, --model auto — and intervals that cover the truth as
often as they say."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from retainkit.models import scoreboard
from retainkit.models.catalogue import MODELS
from retainkit.models.intervals import delta, parameter_intervals, sampled
from retainkit.models.shard import Plan, parts_of, rows, summarise_shard
from retainkit.models.transaction import fit_model
from retainkit.periods import day_number
from tests.conftest import DATA, need, orders_frame, run_cli

# ---------------------------------------------------------------- the naive guess by hand


def test_naive_guess_keeps_each_customers_past_rate():
    # 3 repeat purchases in 6 weeks → 0.5 a week → 2 in the next 4; nobody seen for 0 weeks buys nothing.
    guess = scoreboard.naive_expected(np.array([3.0, 0.0, 1.0]), np.array([6.0, 2.0, 0.0]), 4.0)
    assert guess.tolist() == [2.0, 0.0, 0.0]


def test_default_holdout_is_the_last_quarter_of_a_long_enough_period():
    assert scoreboard.default_holdout_day(0, 99) == 75  # 100 days: days 75–99 held out
    assert scoreboard.default_holdout_day(0, 26) is None  # under four weeks: no default holdout


def test_the_naive_line_of_the_board_by_hand():
    # Calibration to 2024-01-28 (day numbers: holdout from 2024-01-29 to 2024-02-11, two weeks).
    #   a: first 01-01, again 01-15 → x 1, T 27 days; holdout: 01-30 and 02-06 (one in each week)
    #   b: first 01-22 only → x 0;                     holdout: 02-10
    # Naive, in days (time unit 1): a 1/27 · 14 = 0.5185…; b 0. Errors −1.4815, −1:
    # MAE 1.2407…, RMSE √((1.4815² + 1²)/2) = 1.2638…; cumulative predicted after week 1:
    # 1/27 · 7 = 0.2593, actual 1 (a's 01-30); after week 2: 0.5185 against 3.
    orders = orders_frame([("a", "2024-01-01", 5.0), ("a", "2024-01-15", 5.0), ("a", "2024-01-30", 5.0),
                           ("a", "2024-02-06", 5.0), ("b", "2024-01-22", 5.0), ("b", "2024-02-10", 5.0)])
    holdout_day, end_day = day_number(date(2024, 1, 29)), day_number(date(2024, 2, 11))
    shard = summarise_shard(orders, Plan(end_day, 1.0, board_day=holdout_day))
    board = scoreboard.fit_board(rows(parts_of(shard)["board"]), holdout_day=holdout_day, end_day=end_day,
                                 time_unit_days=1.0, names=())
    sums = scoreboard.board_sums(shard, board)
    line = scoreboard.score_lines(board, sums)[0]
    assert shard.board_actual.tolist() == [2, 1] and sums["weekly"].tolist() == [1, 2]
    assert line["predicted_total"] == pytest.approx(14 / 27)
    assert line["mean_absolute_error"] == pytest.approx((2 - 14 / 27 + 1) / 2)
    assert line["rmse"] == pytest.approx(np.sqrt(((2 - 14 / 27) ** 2 + 1) / 2))
    assert line["cumulative"] == pytest.approx([7 / 27, 14 / 27])
    assert line["tracking_error"] == pytest.approx((abs(7 / 27 - 1) + abs(14 / 27 - 3)) / 2)
    assert [g["frequency"] for g in line["by_frequency"]] == ["0", "1"]


def test_the_verdict_says_plainly_when_no_model_beats_the_guess():
    naive = {"label": "naive guess", "rmse": 1.0}
    worse = {"label": "BG/NBD", "rmse": 1.2, "predicted_total": 10.0}
    assert scoreboard.verdict(worse, [naive, worse]).startswith("no purchase model beats the naive guess")
    better = {"label": "BG/NBD", "rmse": 0.8, "predicted_total": 10.0}
    assert scoreboard.verdict(better, [naive, better]).startswith("BG/NBD predicts the holdout best")


# ---------------------------------------------------------------- CDNOW

CDNOW = DATA / "cdnow" / "cdnow_sample.csv"


def cdnow_predict(*options: str) -> dict:
    """``predict``'s JSON on CDNOW (spend in ``dollar_value``) with ``options``."""
    run = run_cli("predict", need(CDNOW), "--amount", "dollar_value", *options, "--format", "json")
    assert run.code == 0, run.stderr
    return run.json()



@pytest.mark.slow
def test_cdnow_scoreboard_and_auto():
    document = cdnow_predict("--holdout", "1997-10-01", "--model", "auto", "--top", "3")
    board = document["scoreboard"]
    lines = {s["model"]: s for s in board["scores"]}
    assert list(lines) == ["naive", "bgnbd", "pnbd", "mbgnbd"] and board["customers"] == 2357
    assert board["holdout_days"] == 273 and len(board["actual_cumulative"]) == 39
    assert board["calibration_end"] == "1997-09-30"
    assert board["actual_cumulative"][-1] == board["actual_total"] == document["holdout"]["actual_total"]
    # Every model beats the naive guess on CDNOW: RMSE 1.60–1.61 against 2.21 per customer.
    assert all(lines[m]["rmse"] < 0.75 * lines["naive"]["rmse"] for m in MODELS) and board["beats_naive"]
    assert board["best"] == min(MODELS, key=lambda m: lines[m]["rmse"]) == document["purchase_model"]["name"]
    assert document["notes"][0].startswith(f"--model auto chose {MODELS[board['best']].label}: ")
    # The holdout check of the chosen model is the scoreboard's line for it.
    assert document["holdout"]["predicted_total"] == pytest.approx(lines[board["best"]]["predicted_total"], rel=1e-9)


# ---------------------------------------------------------------- intervals


def simulate_bgnbd(params: np.ndarray, customers: int, weeks: float, rng: np.random.Generator,
                   most: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers drawn from BG/NBD: a rate λ ~ Gamma(r, 1/α), a dropout chance p ~ Beta(a, b),
    exponential gaps between purchases, and death right after the J-th repeat purchase,
    J ~ Geometric(p); observed for ``weeks`` from the first purchase."""
    r, alpha, a, b = params
    rate = rng.gamma(r, 1 / alpha, customers)
    times = np.cumsum(rng.exponential(1.0, (customers, most)) / rate[:, None], axis=1)
    made = np.minimum((times <= weeks).sum(axis=1), rng.geometric(rng.beta(a, b, customers)))
    t_x = np.where(made > 0, times[np.arange(customers), np.maximum(made - 1, 0)], 0.0)
    return made.astype(float), t_x, np.full(customers, float(weeks))


def test_intervals_cover_the_truth_as_often_as_they_say():
    # 40 data sets of 1,000 customers from known parameters: the 80 % interval of a new
    # customer's expected purchases in a year, and of each parameter, should hold the true
    # value in about 80 % of them (binomial spread ±6 %; a 95 % interval would hold it in
    # ~95 %, a 50 % one in ~50 %: both fail here).
    true = np.array([0.25, 4.0, 0.8, 2.5])
    model, rng = MODELS["bgnbd"], np.random.default_rng(1)

    def year(theta: np.ndarray) -> np.ndarray:
        return np.atleast_1d(model.expected_purchases_new(np.exp(theta), 52.0))

    covered, parameters = [], []
    for _ in range(40):
        fit = fit_model(model, *simulate_bgnbd(true, 1000, 39.0, rng))
        assert fit.covariance is not None
        low, high = delta(year, np.log(fit.params), fit.covariance, level=0.8)
        covered.append(low[0] <= year(np.log(true))[0] <= high[0])
        low, high = parameter_intervals(fit.params, fit.covariance, level=0.8)
        parameters.append((low <= true) & (true <= high))
    assert 0.68 <= np.mean(covered) <= 0.92
    assert 0.68 <= np.mean(parameters) <= 0.92


def test_delta_intervals_agree_with_sampled_parameters_on_cdnow():
    # The delta method against quantiles over 400 parameter draws: the same widths to 10 %.
    from tests.test_models_transaction import cdnow

    x, t_x, T = cdnow()  # noqa: N806
    model = MODELS["pnbd"]
    fit = fit_model(model, x, t_x, T)
    assert fit.covariance is not None
    theta = np.log(fit.params)

    def total(t: np.ndarray) -> np.ndarray:
        return np.atleast_1d(model.expected_purchases(np.exp(t), 39.0, x, t_x, T).sum())

    by_delta, by_draws = delta(total, theta, fit.covariance, level=0.8), sampled(total, theta, fit.covariance,
                                                                                 level=0.8)
    width = by_delta[1][0] - by_delta[0][0]
    assert width == pytest.approx(by_draws[1][0] - by_draws[0][0], rel=0.1)
    assert by_delta[0][0] < total(theta)[0] < by_delta[1][0]


# ---------------------------------------------------------------- charts


def test_plot_writes_the_same_svg_every_run_and_refuses_other_files(tmp_path):
    path = need(CDNOW)
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    for target in (first, second):
        run = run_cli("predict", path, "--holdout", "1997-10-01", "--format", "json", "--plot", target)
        assert run.code == 0, run.stderr
    svg = first.read_text(encoding="utf-8")
    assert first.read_bytes() == second.read_bytes() and "<metadata>" not in svg
    assert svg.count("<g id=\"axes_") >= 3  # tracking, by frequency, P(alive) (and its colour bar)
    bad = run_cli("predict", path, "--plot", tmp_path / "chart.pdf")
    assert bad.code != 0 and "must end in .svg or .png" in bad.stderr


def test_a_model_without_an_interior_maximum_is_one_clear_line(tmp_path):
    # Ten hand-made customers: BG/NBD is fitted at its limit (tests/test_models.py); Pareto/NBD,
    # fitted only where it has an interior maximum, says in one line that it has none.
    from tests.conftest import TEN_CUSTOMERS, write_csv

    run = run_cli("predict", write_csv(tmp_path / "x.csv", TEN_CUSTOMERS), "--model", "pnbd")
    assert run.code == 2 and run.stdout == ""
    assert run.stderr.startswith("retainkit: error: the purchase model (Pareto/NBD) did not converge")
    assert len(run.stderr.strip().splitlines()) <= 2  # the error and its hint


def test_several_horizons_in_one_run():
    document = cdnow_predict("--horizon", "365", "--horizons", "90,365", "--interval", "0")
    columns = document["customers"]["columns"]
    assert columns[-4:] == ["expected_purchases_90d", "clv_90d", "expected_purchases_365d", "clv_365d"]
    rows = [dict(zip(columns, r, strict=True)) for r in document["customers"]["rows"]]
    # The further horizon of 365 days is --horizon's own; 90 days hold less of it.
    assert all(r["expected_purchases_365d"] == r["expected_purchases"] and r["clv_365d"] == r["clv"] for r in rows)
    assert all(r["expected_purchases_90d"] <= r["expected_purchases"] for r in rows)
    ninety, year = document["totals"]["horizons"]
    assert ninety["horizon_days"] == 90 and year["clv"] == pytest.approx(document["totals"]["clv"], rel=1e-12)
    assert run_cli("predict", need(CDNOW), "--horizons", "90,soon").code == 2
