"""The fits read distinct rows and their weights: any split of the customers into shards,
put together, gives the fit of all of them at once (SPEC §6, issue 13). No Spark here."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from retainkit.exact import exact_sum
from retainkit.models.catalogue import MODELS
from retainkit.models.gammagamma import _SpendTerms, fit_gamma_gamma, fit_gamma_gamma_rows
from retainkit.models.shard import add_parts, add_sums, decode, encode, spend_rows
from retainkit.models.transaction import Rows, fit_model, fit_rows, merge_counted

# Five customers; two share (1, 2, 5) with a third: the distinct rows, in order, are
# (0, 0, 5) × 1, (1, 2, 5) × 3, (2, 3, 6) × 1.
X = np.array([1.0, 1.0, 0.0, 2.0, 1.0])
T_X = np.array([2.0, 2.0, 0.0, 3.0, 2.0])
T = np.array([5.0, 5.0, 5.0, 6.0, 5.0])


def test_distinct_rows_with_weights_by_hand():
    rows = Rows.of(X, T_X, T)
    assert rows.x.tolist() == [0.0, 1.0, 2.0] and rows.t_x.tolist() == [0.0, 2.0, 3.0]
    assert rows.T.tolist() == [5.0, 5.0, 6.0] and rows.weight.tolist() == [1.0, 3.0, 1.0]
    # Two shards' distinct rows, one after the other, put together: the same rows and weights.
    first, second = Rows.of(X[:2], T_X[:2], T[:2]), Rows.of(X[2:], T_X[2:], T[2:])
    added = Rows.added(np.concatenate([first.x, second.x]), np.concatenate([first.t_x, second.t_x]),
                       np.concatenate([first.T, second.T]), np.concatenate([first.weight, second.weight]))
    for name in ("x", "t_x", "T", "weight"):
        assert getattr(added, name).tolist() == getattr(rows, name).tolist()


def test_the_weighted_log_likelihood_is_the_sum_over_customers_by_hand():
    """BG/NBD at r = α = a = b = 1: a customer with x = 0 and T = 5 has
    L = Γ(r+x)αʳ/(Γ(r)(α+T)^(r+x)) · B(a, b+x)/B(a, b) = 1/6 · 1/1 … ; whatever each row's
    ln L, Σ weight · ln L over the rows is the sum over the five customers."""
    model, params = MODELS["bgnbd"], np.ones(4)
    rows = Rows.of(X, T_X, T)
    per_customer = model.log_likelihood(params, X, T_X, T)
    assert per_customer[2] == pytest.approx(np.log(1 / 6))  # x = 0: (α/(α+T))^r · 1 = 1/6
    total, _ = model.log_likelihood_and_gradient(rows, params)
    assert total == pytest.approx(per_customer.sum(), rel=1e-14)


@pytest.mark.parametrize("name", ["bgnbd", "pnbd", "mbgnbd"])
def test_a_fit_on_shards_rows_is_the_fit_on_the_customers(name):
    rng = np.random.default_rng(3)
    x = rng.poisson(1.5, 300).astype(float)
    age = rng.integers(10, 52, 300).astype(float)
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, 300) * age), 0.0)
    whole = fit_model(MODELS[name], x, t_x, age, penalizer=0.01)
    parts = [Rows.of(x[i::3], t_x[i::3], age[i::3]) for i in range(3)]  # three shards
    added = Rows.added(*(np.concatenate([getattr(p, c) for p in parts]) for c in ("x", "t_x", "T", "weight")))
    split = fit_rows(MODELS[name], added, penalizer=0.01)
    assert split.params.tolist() == whole.params.tolist()  # exactly: the same rows, the same floats
    assert split.log_likelihood == whole.log_likelihood and split.customers == 300


def test_gamma_gamma_on_weighted_rows_by_hand():
    """Three repeat buyers: (x 1, m̄ 10) twice and (2, 30) once, a fourth with a mean ≤ 0 and
    one without amounts, left out. The weighted terms are the per-customer terms added."""
    x = np.array([1.0, 2.0, 1.0, 3.0, 1.0, 0.0])
    m = np.array([10.0, 30.0, 10.0, -5.0, np.nan, np.nan])
    (xs, ms), weight = merge_counted(x[:4], m[:4], weight=np.ones(4))
    assert xs.tolist() == [1.0, 2.0, 3.0] and ms.tolist() == [10.0, 30.0, -5.0] and weight.tolist() == [2.0, 1.0, 1.0]
    fitted = fit_gamma_gamma_rows(xs, ms, weight, unknown=1)
    assert fitted.customers == 3 and fitted.left_out == 2
    weighted = _SpendTerms(np.array([1.0, 2.0]), np.array([10.0, 30.0]), np.array([2.0, 1.0]))
    each = _SpendTerms(np.array([1.0, 2.0, 1.0]), np.array([10.0, 30.0, 10.0]))
    ll, gradient = weighted.log_likelihood_and_gradient(2.0, 3.0, 15.0)
    ll_each, gradient_each = each.log_likelihood_and_gradient(2.0, 3.0, 15.0)
    assert ll == pytest.approx(ll_each, rel=1e-14) and gradient == pytest.approx(gradient_each, rel=1e-13)
    assert weighted.customers == 3


def test_gamma_gamma_on_shards_is_the_fit_on_the_customers():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 6, 400).astype(float)
    m = np.where(x > 0, np.round(rng.gamma(3.0, 10.0, 400), 1), np.nan)  # prices repeat: rows are shared
    whole = fit_gamma_gamma(x, m)
    shards = []
    for i in range(4):
        xi, mi = x[i::4], m[i::4]
        known = (xi > 0) & np.isfinite(mi)
        (xs, ms), w = merge_counted(xi[known], mi[known], weight=np.ones(int(known.sum())))
        shards.append({"columns": np.array([xs, ms]), "weight": w})
    xs, ms, w = spend_rows({"columns": np.concatenate([s["columns"] for s in shards], axis=1),
                            "weight": np.concatenate([s["weight"] for s in shards])})
    split = fit_gamma_gamma_rows(xs, ms, w)
    assert (split.p, split.q, split.gamma, split.log_likelihood) == (whole.p, whole.q, whole.gamma,
                                                                     whole.log_likelihood)
    assert split.customers == whole.customers == int(((x > 0) & (m > 0)).sum())


def test_shard_sums_travel_and_add_exactly():
    a = {"n": 2, "s": exact_sum(np.array([0.1, 0.2])), "by": {"1": Fraction(1, 3)}, "w": np.array([1, 2]),
         "l": [Fraction(1), 3]}
    b = {"n": 1, "s": exact_sum(np.array([0.3])), "by": {"1": Fraction(1, 6), "4": Fraction(2)},
         "w": np.array([0, 5]), "l": [Fraction(2), 4]}
    added = add_sums(decode(encode(a)), decode(encode(b)))
    assert added["n"] == 3 and added["s"] == exact_sum(np.array([0.1, 0.2, 0.3]))
    assert added["by"] == {"1": Fraction(1, 2), "4": Fraction(2)} and added["w"].tolist() == [1, 7]
    assert added["l"] == [Fraction(3), 7]
    parts = [{"rows": {"columns": np.array([[1.0], [2.0], [5.0]]), "weight": np.array([2.0])}, "spend_unknown": 1,
              "has_amounts": True}] * 2
    together = add_parts(parts)
    assert together["rows"]["weight"].tolist() == [2.0, 2.0] and together["spend_unknown"] == 2
