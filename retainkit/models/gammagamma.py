"""The Gamma-Gamma model of spend per transaction (Fader & Hardie, "The Gamma-Gamma Model
of Monetary Value", 2013), fit by maximum likelihood (SPEC §6).

A customer with x repeat purchases of mean value m̄: each value ~ Gamma(p, ν), ν ~ Gamma(q, γ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from retainkit.errors import RetainkitError

MIN_CUSTOMERS = 2


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")
    customers: int = 0
    left_out: int = 0  # repeat buyers whose mean value was ≤ 0

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma, "log_likelihood": self.log_likelihood,
                "customers": self.customers, "left_out": self.left_out}


def log_likelihood(params: GammaGammaParams, x: np.ndarray, mean_value: np.ndarray) -> np.ndarray:
    """ln f(m̄ | p, q, γ, x), eq. (4) of the note, up to the constant −ln Γ(px) terms' data part:

    ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m̄ + px ln x − (px+q) ln(γ + x·m̄)
    """
    p, q, g = params.p, params.q, params.gamma
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
            + (px - 1) * np.log(mean_value) + px * np.log(x) - (px + q) * np.log(g + x * mean_value))


def fit_gamma_gamma(x: np.ndarray, mean_value: np.ndarray, *, penalizer: float = 0.0) -> GammaGammaParams:
    """Fit on the repeat buyers (x > 0) whose mean value is positive; the others are counted."""
    x = np.asarray(x, dtype=np.float64)
    mean_value = np.asarray(mean_value, dtype=np.float64)
    repeat = x > 0
    usable = repeat & np.isfinite(mean_value) & (mean_value > 0)
    left_out = int((repeat & ~usable).sum())
    if int(usable.sum()) < MIN_CUSTOMERS:
        raise RetainkitError(
            f"{int(usable.sum())} repeat buyers with a positive mean order value: too few to fit the spend model",
            "check the amount column (refunds net to ≤ 0?) or use a longer period",
        )
    from retainkit.models.bgnbd import _minimise

    ux, um = x[usable], mean_value[usable]
    xs, xi = np.unique(ux, return_inverse=True)  # gammaln once per distinct x
    log_m, log_x = np.log(um), np.log(ux)

    def objective(theta: np.ndarray) -> float:
        p, q, g = np.exp(theta)
        per_x = (special.gammaln(p * xs + q) - special.gammaln(p * xs))[xi]
        ll = (per_x - special.gammaln(q) + q * np.log(g) + (p * ux - 1) * log_m + p * ux * log_x
              - (p * ux + q) * np.log(g + ux * um))
        return -float(np.sum(ll)) + penalizer * float(np.sum(np.exp(theta) ** 2))

    result = _minimise(objective, [np.log([1.0, 1.0, max(float(np.mean(um)), 1e-6)]), np.zeros(3)])
    p, q, g = np.exp(result.x)
    if not np.isfinite(result.fun) or max(p, q, g) > 1e8:
        raise RetainkitError("the spend model (Gamma-Gamma) did not converge",
                             "try --penalizer 0.001, or a longer period with more repeat buyers")
    ll = float(np.sum(log_likelihood(GammaGammaParams(p, q, g), ux, um)))
    return GammaGammaParams(float(p), float(q), float(g), ll, int(usable.sum()), left_out)


def expected_order_value(params: GammaGammaParams, x: np.ndarray, mean_value: np.ndarray) -> np.ndarray:
    """E[M | p, q, γ, m̄, x] = p(γ + x·m̄) / (px + q − 1), eq. (5); the population mean
    pγ / (q − 1) for customers without repeat purchases (or with a mean ≤ 0)."""
    p, q, g = params.p, params.q, params.gamma
    x = np.asarray(x, dtype=np.float64)
    m = np.nan_to_num(np.asarray(mean_value, dtype=np.float64), nan=0.0)
    known = (x > 0) & (m > 0)
    conditional = p * (g + x * m) / (p * x + q - 1)
    population = p * g / (q - 1) if q > 1 else np.nan
    return np.where(known, conditional, population)
