"""Intervals for predictions from the uncertainty of the fitted parameters (SPEC §6).

A maximum-likelihood fit θ̂ (log-parameters) is asymptotically normal with covariance
Σ = H⁻¹, H the Hessian of −ln L at θ̂ (:attr:`~retainkit.models.transaction.Fit.covariance`).
A prediction g(θ) — a customer's expected purchases, P(alive), CLV, or their totals — gets
its interval by the delta method on a scale where it is closer to normal:

    s = link(g),  SE(s) = √(∇sᵀ Σ ∇s),  interval = link⁻¹(s(θ̂) ± z · SE(s))

with link = ln for positive quantities and logit for probabilities, z the normal quantile
of the level (1.2816 for 80 %), and ∇s by central differences over θ (2k evaluations, k
parameters, each vectorised over the customers). :func:`sampled` is the alternative —
quantiles of g over draws θ ~ N(θ̂, Σ) — which costs a prediction per draw; on CDNOW
the two agree to a few per cent (docs/predictions.md), so predict uses the delta method.

CLV is a product of two fits, the purchase model's discounted purchases g(θ) and
Gamma-Gamma's expected order value h(φ): taking the two fits as independent (their
covariance block-diagonal), Var ln(g·h) = ∇ln gᵀ Σ_θ ∇ln g + ∇ln hᵀ Σ_φ ∇ln h
(:func:`product`).

These intervals say how far the *expected* value is known; the purchases a customer will
actually make scatter around it far more (a Poisson count of mean 0.3 is 0 or 1).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special, stats

Prediction = Callable[[np.ndarray], np.ndarray]  # log-parameters → values per row
STEP = 1e-4  # central differences on the log-parameters


def z_value(level: float) -> float:
    """The two-sided normal quantile: 1.2816 for 0.8."""
    return float(stats.norm.ppf(0.5 + level / 2))


def _link(kind: str) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    if kind == "probability":
        return (lambda p: special.logit(np.clip(p, 1e-300, 1 - 1e-16))), special.expit
    return (lambda v: np.log(np.maximum(v, 1e-300))), np.exp


def points(theta: np.ndarray) -> list[np.ndarray]:
    """Where :func:`spread` evaluates a prediction: θ̂, then θ̂ + h·eᵢ and θ̂ − h·eᵢ for each
    parameter i (h = :data:`STEP`) — known in advance, so sums over customers at them can
    be made in the shards."""
    found = [np.asarray(theta)]
    for i in range(len(theta)):
        step = np.zeros(len(theta))
        step[i] = STEP
        found += [theta + step, theta - step]
    return found


def spread(prediction: Prediction, theta: np.ndarray, covariance: np.ndarray, *,
           kind: str = "positive") -> tuple[np.ndarray, np.ndarray]:
    """(s(θ̂), Var s) with s = link(``prediction``) on the ``kind`` scale ("positive": ln;
    "probability": logit): Var s = ∇sᵀ Σ ∇s = Σᵢ Σⱼ ∂ᵢs · Σᵢⱼ · ∂ⱼs, ∇s by central differences
    over θ at :func:`points`. Element by element in a fixed order: a row's variance does
    not depend on which other rows are computed with it (a shard's customers)."""
    forward, _ = _link(kind)
    at = points(theta)
    centre = forward(prediction(at[0]))
    gradient = [(forward(prediction(at[1 + 2 * i])) - forward(prediction(at[2 + 2 * i]))) / (2 * STEP)
                for i in range(len(theta))]
    variance = np.zeros(np.shape(centre))
    for i in range(len(theta)):
        for j in range(len(theta)):
            variance = variance + gradient[i] * covariance[i, j] * gradient[j]
    return centre, variance


def delta(prediction: Prediction, theta: np.ndarray, covariance: np.ndarray, *, level: float,
          kind: str = "positive") -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of ``prediction`` at ``theta`` by the delta method on the ``kind`` scale
    ("positive": ln; "probability": logit). Where the value is 0 (or 1) exactly the
    interval is that value."""
    centre, variance = spread(prediction, theta, covariance, kind=kind)
    return bounds(centre, variance, level=level, kind=kind)


def bounds(centre: np.ndarray, variance: np.ndarray, *, level: float,
           kind: str = "positive") -> tuple[np.ndarray, np.ndarray]:
    """link⁻¹(s ± z·√Var s): the interval from a value and its variance on the link scale."""
    _, back = _link(kind)
    half = z_value(level) * np.sqrt(np.maximum(variance, 0.0))
    return back(centre - half), back(centre + half)


def product(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray], *,
            level: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of g·h from :func:`spread` of g over θ and of h over φ (both "positive"),
    the two fits independent: ln(g·h) = ln g + ln h, so Var = Var ln g + Var ln h.

    >>> low, high = product((np.log([2.0]), np.array([0.01])), (np.log([3.0]), np.array([0.03])), level=0.8)
    >>> # 6 · exp(±1.2816 · √0.04)
    >>> [round(float(v), 4) for v in (low[0], high[0])]
    [4.6434, 7.7529]
    """
    return bounds(first[0] + second[0], first[1] + second[1], level=level)


def sampled(prediction: Prediction, theta: np.ndarray, covariance: np.ndarray, *, level: float,
            draws: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): the (1 ∓ level)/2 quantiles of ``prediction`` over ``draws`` parameter
    vectors from N(theta, covariance)."""
    rng = np.random.default_rng(seed)
    values = np.array([prediction(t) for t in rng.multivariate_normal(theta, covariance, size=draws)])
    tail = (1 - level) / 2
    return np.quantile(values, tail, axis=0), np.quantile(values, 1 - tail, axis=0)


def parameter_intervals(params: np.ndarray, covariance: np.ndarray, *, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Each parameter's interval, exp(ln θ̂ ± z · SE(ln θ̂)): never below 0."""
    half = z_value(level) * np.sqrt(np.diag(covariance))
    return params * np.exp(-half), params * np.exp(half)
