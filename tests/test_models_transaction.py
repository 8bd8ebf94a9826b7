"""SPEC §6: the transaction models behind one interface — hand-worked likelihoods on three
customers, the published CDNOW fits, and the properties every model shares."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from retainkit.errors import RetainkitError
from retainkit.models.catalogue import MODELS
from retainkit.models.transaction import Rows, fit_model
from tests.conftest import DATA, need

# Three customers: no repeat purchase; one at week 1; two, the last at week 1 — all seen for 2 weeks.
X, T_X, T = np.array([0.0, 1, 2]), np.array([0.0, 1, 1]), np.array([2.0, 2, 2])
ONES = np.array([1.0, 1.0, 1.0, 2.0])  # r, α, a (or s), b (or β)


def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    summary = pd.read_csv(need(DATA / "cdnow" / "cdnow_customers_summary.csv"))
    return tuple(summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))  # type: ignore[return-value]


# ---------------------------------------------------------------- likelihoods worked by hand


def test_bgnbd_likelihood_by_hand():
    # r = α = a = 1, b = 2: Γ(1+x)/Γ(1) = x!, B(1, 2+x)/B(1, 2) = 2/(2+x), so
    # L = x! · 2/(2+x) · [3^−(1+x) + 1{x>0} · 1/(1+x) · (1+t_x)^−(1+x)]
    #   = 1/3;  2/3 · (1/9 + 1/8) = 17/108;  2 · 1/2 · (1/27 + 1/24) = 17/216.
    got = np.exp(MODELS["bgnbd"].log_likelihood(ONES, X, T_X, T))
    assert got == pytest.approx([1 / 3, 17 / 108, 17 / 216], rel=1e-12)


def test_mbgnbd_likelihood_by_hand():
    # r = α = a = 1, b = 2: B(1, 3+x)/B(1, 2) = 2/(3+x), and the dropout branch a/(b+x)
    # counts for x = 0 too: L = x! · 2/(3+x) · [3^−(1+x) + 1/(2+x) · (1+t_x)^−(1+x)]
    #   = 2/3 · (1/3 + 1/2) = 5/9;  1/2 · (1/9 + 1/12) = 7/72;  4/5 · (1/27 + 1/32) = 59/1080.
    got = np.exp(MODELS["mbgnbd"].log_likelihood(ONES, X, T_X, T))
    assert got == pytest.approx([5 / 9, 7 / 72, 59 / 1080], rel=1e-12)


def test_pnbd_likelihood_by_hand():
    # r = α = s = β = 1: the ₂F₁ terms vanish (α = β), A₀ = (1+t_x)^−(2+x) − 3^−(2+x), and
    # L = x! · [3^−(2+x) + A₀/(2+x)] = 1/9 + 4/9 = 5/9;  1/27 + 19/648 = 43/648;
    # 2 · (1/81 + 65/5184) = 129/2592.
    got = np.exp(MODELS["pnbd"].log_likelihood(np.ones(4), X, T_X, T))
    assert got == pytest.approx([5 / 9, 43 / 648, 129 / 2592], rel=1e-12)


@pytest.mark.parametrize("params", [(0.55, 10.58, 0.61, 11.67), (0.55, 15.0, 0.61, 5.0), (2.0, 3.0, 0.9, 30.0),
                                    (0.3, 2.0, 4.0, 1.0)])
def test_pnbd_likelihood_equals_the_integral_over_the_lifetime(params):
    # Independent of the ₂F₁ algebra (both branches, α ≥ β and α < β):
    # L = Γ(r+x) α^r / Γ(r) · [(α+T)^−(r+x) (β/(β+T))^s + ∫ from t_x to T of
    #     (α+τ)^−(r+x) · s β^s (β+τ)^−(s+1) dτ]     (alive at T, or died at τ after t_x)
    r, alpha, s, beta = params
    x, t_x, seen = np.array([0.0, 1, 4, 30]), np.array([0.0, 3.5, 20, 38]), np.array([10.0, 12, 39, 39])
    expected = []
    for xi, ti, end in zip(x, t_x, seen, strict=True):
        def density(tau: float, xi: float = xi) -> float:
            return (alpha + tau) ** -(r + xi) * s * beta**s * (beta + tau) ** -(s + 1)

        died, _ = integrate.quad(density, ti, end, epsabs=0, epsrel=1e-12)
        alive = (alpha + end) ** -(r + xi) * (beta / (beta + end)) ** s
        expected.append(special.gammaln(r + xi) - special.gammaln(r) + r * math.log(alpha)
                        + math.log(alive + died))
    assert MODELS["pnbd"].log_likelihood(np.array(params), x, t_x, seen) == pytest.approx(expected, rel=1e-10)


def test_pnbd_probability_alive_published():
    # Fader & Hardie (2005): x 26, t_x 30.86, T 31 with the CDNOW fit — 0.9979.
    params = np.array([0.5534, 10.5802, 0.6061, 11.6562])
    alive = MODELS["pnbd"].probability_alive(params, np.array([26.0]), np.array([30.86]), np.array([31.0]))
    assert round(float(alive[0]), 4) == 0.9979


# ---------------------------------------------------------------- published fits on CDNOW


def test_bgnbd_published_fit():
    # Fader, Hardie & Lee (2005): r 0.2426, α 4.4136, a 0.7929, b 2.4259, LL −9582.43. This
    # summary's times are rounded to 0.01 week, which moves α and b in the 4th decimal
    # (tests/test_models.py); the export itself gives all four (the CLI test there).
    fit = fit_model(MODELS["bgnbd"], *cdnow())
    assert [round(float(v), 4) for v in fit.params] == [0.2426, 4.4135, 0.7929, 2.4258]
    assert round(fit.log_likelihood, 2) == -9582.43 and fit.note == ""


def test_pnbd_published_fit():
    # Fader, Hardie & Lee (2005), "RFM and CLV": r 0.553, α 10.58, s 0.606, β 11.67, LL −9595.0.
    fit = fit_model(MODELS["pnbd"], *cdnow())
    assert [float(f"{v:.3g}") for v in fit.params] == [0.553, 10.6, 0.606, 11.7]
    assert [round(float(fit.params[1]), 2), round(float(fit.params[3]), 1)] == [10.58, 11.7]
    assert round(fit.log_likelihood, 1) == -9595.0


def test_mbgnbd_published_fit():
    # BTYDplus (as lifetimes' tests pin it): r 0.525, α 6.183, a 0.891, b 1.614.
    fit = fit_model(MODELS["mbgnbd"], *cdnow())
    assert [round(float(v), 3) for v in fit.params] == [0.525, 6.183, 0.891, 1.614]


def test_standard_errors_of_the_bgnbd_fit():
    # The inverse Hessian at the CDNOW optimum; lifetimes reports 0.0126, 0.3781, 0.1850, 0.7054.
    fit = fit_model(MODELS["bgnbd"], *cdnow())
    assert fit.standard_errors() == pytest.approx([0.0126, 0.3782, 0.1857, 0.7053], abs=2e-3)


# ---------------------------------------------------------------- what every model shares


@pytest.mark.parametrize("name", sorted(MODELS))
def test_new_customer_is_the_limit_of_the_conditional(name):
    model, params = MODELS[name], {"bgnbd": [0.243, 4.414, 0.793, 2.426], "pnbd": [0.553, 10.58, 0.606, 11.67],
                                   "mbgnbd": [0.525, 6.183, 0.891, 1.614]}[name]
    # a customer who has just made their first purchase: x = t_x = T = 0 — except MBG/NBD,
    # where they may already have dropped out at it: E[X(t)] = P(alive at 0) · E[X | alive].
    conditional = model.expected_purchases(np.array(params), 39.0, np.zeros(1), np.zeros(1), np.zeros(1))[0]
    assert float(model.expected_purchases_new(np.array(params), 39.0)) == pytest.approx(conditional, rel=1e-9)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_predictions_are_finite_for_heavy_buyers_and_long_horizons(name):
    model = MODELS[name]
    fit = fit_model(model, *cdnow())
    x, t_x, seen = np.array([0.0, 1, 400, 400]), np.array([0.0, 30, 38.8, 2]), np.full(4, 38.86)
    for horizon in (1.0, 52.0, 5200.0):
        expected = model.expected_purchases(fit.params, horizon, x, t_x, seen)
        assert np.isfinite(expected).all() and (expected >= 0).all()
    alive = model.probability_alive(fit.params, x, t_x, seen)
    assert np.isfinite(alive).all() and ((alive >= 0) & (alive <= 1)).all()
    assert alive[2] > 0.99 > 1e-6 > alive[3]


def test_rows_weight_identical_customers():
    rows = Rows.of(np.array([1.0, 0, 1]), np.array([2.0, 0, 2]), np.array([5.0, 5, 5]))
    assert rows.weight.tolist() == [1, 2] and rows.x[rows.back].tolist() == [1, 0, 1]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_too_few_repeat_buyers_is_one_clear_line(name):
    with pytest.raises(RetainkitError, match=f"only 1 of 3 customers bought more than once: too few to fit "
                                             f"{re_escape(MODELS[name].label)}"):
        fit_model(MODELS[name], np.array([0.0, 0, 3]), np.array([0.0, 0, 2]), np.array([5.0, 5, 5]))


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


def test_mbgnbd_analytic_gradient_equals_finite_differences():
    from retainkit.models.transaction import TransactionModel

    rng = np.random.default_rng(7)
    x = rng.integers(0, 9, 400).astype(float)
    seen = rng.uniform(10, 40, 400).round(2)
    rows = Rows.of(x, np.where(x > 0, seen * rng.uniform(0, 1, 400), 0).round(2), seen)
    model = MODELS["mbgnbd"]
    for params in ([0.3, 5.0, 0.8, 2.0], [2.0, 80.0, 3.0, 15.0], [0.05, 0.5, 0.2, 40.0]):
        analytic = model.log_likelihood_and_gradient(rows, np.array(params))
        numeric = TransactionModel.log_likelihood_and_gradient(model, rows, np.array(params))  # central differences
        assert analytic[0] == pytest.approx(numeric[0], rel=1e-12)
        assert np.allclose(analytic[1], numeric[1], rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("params", [(0.55, 10.58, 0.61, 11.67), (0.55, 15.0, 0.61, 5.0), (2.0, 3.0, 0.9, 30.0),
                                    (1.0, 1.0, 1.0, 1.0), (0.5, 0.02, 0.6, 200.0), (0.5, 500.0, 0.6, 0.01)])
def test_pnbd_analytic_gradient_equals_finite_differences(params):
    # Both branches of F (α ≥ β, α < β), α = β (z = 0), z near 1 (the series runs long or
    # hands over to SciPy's ₂F₁), customers with t_x = T (A₀ = 0) and without repeat purchases.
    from retainkit.models.transaction import TransactionModel

    rng = np.random.default_rng(7)
    x = rng.integers(0, 30, 600).astype(float)
    x[:150] = 0
    seen = rng.uniform(10, 40, 600).round(2)
    t_x = np.where(x > 0, seen * rng.uniform(0, 1, 600), 0).round(2)
    t_x[150:160] = seen[150:160]
    rows = Rows.of(x, t_x, seen)
    model = MODELS["pnbd"]
    analytic = model.log_likelihood_and_gradient(rows, np.array(params))
    numeric = TransactionModel.log_likelihood_and_gradient(model, rows, np.array(params))  # central differences
    assert analytic[0] == pytest.approx(numeric[0], rel=1e-12)
    assert np.allclose(analytic[1], numeric[1], rtol=1e-7, atol=1e-6)


# ---------------------------------------------------------------- a fit at the limit, on any CPU


def test_ends_that_stall_at_one_value_stand_for_the_maximum():
    from scipy.optimize import OptimizeResult

    from retainkit.models.fitting import SAME_VALUE, stalled_alike

    def end(fun: float) -> OptimizeResult:
        return OptimizeResult(x=np.array([1.0, 2.0]), fun=fun)

    value = 5.992335045758371  # three starts on ten customers (AVX-512): 1e-10 apart
    best = stalled_alike([end(value + 3e-10), end(value), end(value + 1.3e-10)])
    assert len(best) == 1 and best[0].fun == value
    assert stalled_alike([end(value), end(value * (1 + 10 * SAME_VALUE))]) == []  # two different ends
    assert stalled_alike([end(value)]) == []  # one end agrees with nothing
    assert stalled_alike([end(value), end(math.nan), end(math.inf)]) == []
    assert len(stalled_alike([end(-1e-12), end(0.0)])) == 1  # near zero: absolute 1e-9


def _limit_fit_json(tmp_path, environment: dict[str, str]) -> dict:
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import TEN_CUSTOMERS, write_csv

    path = write_csv(tmp_path / "ten.csv", TEN_CUSTOMERS)
    done = subprocess.run([sys.executable, "-m", "retainkit", "predict", str(path), "--format", "json"],
                          capture_output=True, text=True, env={**os.environ, **environment}, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_fit_held_at_its_limit_is_the_same_with_and_without_avx512(tmp_path):
    # Ten customers whose BG/NBD likelihood rises toward a, b → ∞: near the limit the
    # gradient's rounding depends on NumPy's vector code (AVX-512 or AVX2), and with AVX-512
    # no start reached a gradient flat to 1e-6 — the fit failed. Both now give the limit.
    from numpy._core._multiarray_umath import __cpu_features__

    wide = sorted(name for name, found in __cpu_features__.items() if found and name.startswith(("AVX512", "X86_V4")))
    native = _limit_fit_json(tmp_path, {})
    narrow = _limit_fit_json(tmp_path, {"NPY_DISABLE_CPU_FEATURES": " ".join(wide)} if wide else {})
    for document in (native, narrow):
        assert document["purchase_model"]["parameters"]["b"] == pytest.approx(1e6)
        assert "(b held at 1,000,000)" in document["notes"][0]
    assert native["totals"]["expected_purchases"] == pytest.approx(narrow["totals"]["expected_purchases"], rel=1e-6)
    assert native["totals"]["clv"] == pytest.approx(narrow["totals"]["clv"], rel=1e-6)
