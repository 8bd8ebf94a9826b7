"""The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005, "Counting Your
Customers the Easy Way"), fit by maximum likelihood (SPEC §6).

Each customer is (x, t_x, T): repeat purchases, time of the last one and time observed,
in the same unit. Parameters: r, α (purchase rate ~ Gamma(r, α)) and a, b (dropout
probability after each purchase ~ Beta(a, b)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from retainkit.errors import RetainkitError

MIN_REPEAT_BUYERS = 2


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    customers: int = 0

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b, "log_likelihood": self.log_likelihood,
                "customers": self.customers}


def log_likelihood(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood, eq. (6) of the paper in log-sum-exp form:

    ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b)
           + ln[(α+T)^−(r+x) + 1{x>0} · a/(b+x−1) · (α+t_x)^−(r+x)]
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=np.float64)
    head = (special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
            + special.betaln(a, b + x) - special.betaln(a, b))
    stays = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        drops = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                         -np.inf)
    return head + np.logaddexp(stays, drops)


def fit_bgnbd(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, penalizer: float = 0.0
) -> BgNbdParams:
    """Maximum-likelihood fit on log-parameters; identical (x, t_x, T) rows become weights.

    ``penalizer`` adds ``penalizer · Σ θ²`` to the negative log-likelihood (θ = the four
    parameters), which steadies fits on small or odd data. Raises :class:`RetainkitError`
    with what to try when the data cannot support the model or the fit does not converge.
    """
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    if len(x) == 0:
        raise RetainkitError("no customers to fit the purchase model on", "check the period (--to, --holdout)")
    repeaters = int((x > 0).sum())
    if repeaters < MIN_REPEAT_BUYERS:
        raise RetainkitError(
            f"only {repeaters} of {len(x)} customers bought more than once: too few to fit BG/NBD",
            "use a longer period (a later --to or --holdout) or more data",
        )
    rows = np.unique(np.column_stack((x, t_x, T)), axis=0, return_counts=True)
    (ux, ut, uT), weight = rows[0].T, rows[1].astype(np.float64)
    terms = _Factorised(ux, ut, uT, weight)

    def objective(theta: np.ndarray) -> float:
        return -terms.log_likelihood(*np.exp(theta)) + penalizer * float(np.sum(np.exp(theta) ** 2))

    best = _minimise(objective, [np.zeros(4), np.log([0.5, max(float(np.mean(T)), 1.0), 1.0, 2.0])])
    if best is None:
        raise RetainkitError("the purchase model (BG/NBD) did not converge",
                             "try --penalizer 0.001, or a longer period with more repeat buyers")
    r, alpha, a, b = np.exp(best.x)
    if not all(np.isfinite([r, alpha, a, b])) or max(r, alpha, a, b) > 1e6:
        raise RetainkitError("the purchase model (BG/NBD) ran off to extreme parameters",
                             "try --penalizer 0.001, or a longer period with more repeat buyers")
    ll = float(np.dot(weight, log_likelihood(BgNbdParams(r, alpha, a, b), ux, ut, uT)))
    return BgNbdParams(float(r), float(alpha), float(a), float(b), ll, len(x))


class _Factorised:
    """The log-likelihood with every transcendental term computed once per distinct x, t_x
    or T (a few thousand values) instead of once per customer."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weight: np.ndarray) -> None:
        self.xs, self.xi = np.unique(x, return_inverse=True)
        self.ts, self.ti = np.unique(t_x, return_inverse=True)
        self.Ts, self.Ti = np.unique(T, return_inverse=True)
        self.x, self.weight, self.repeat = x, weight, x > 0

    def log_likelihood(self, r: float, alpha: float, a: float, b: float) -> float:
        xs = self.xs
        head = (special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha)
                + special.betaln(a, b + xs) - special.betaln(a, b))[self.xi]
        power = r + self.x
        stays = -power * np.log(alpha + self.Ts)[self.Ti]
        with np.errstate(divide="ignore"):
            drop_x = (np.log(a) - np.log(np.maximum(b + xs - 1, 1e-300)))[self.xi]
        drops = np.where(self.repeat, drop_x - power * np.log(alpha + self.ts)[self.ti], -np.inf)
        return float(np.dot(self.weight, head + np.logaddexp(stays, drops)))


def _minimise(objective, starts: list[np.ndarray]):
    """Quasi-Newton from each start; Nelder-Mead only where that fails. The best finite result."""
    best = None
    for start in starts:
        with np.errstate(all="ignore"):
            result = optimize.minimize(objective, start, method="L-BFGS-B")
            if not (result.success and np.isfinite(result.fun)):
                result = optimize.minimize(objective, result.x if np.all(np.isfinite(result.x)) else start,
                                           method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-8,
                                                                          "fatol": 1e-9})
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    return best


def _alive_log_odds(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """ln[a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)] for x > 0, −∞ for x = 0 (dead-vs-alive odds)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)),
            -np.inf,
        )


def probability_alive(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)), eq. (11)."""
    return np.exp(-np.logaddexp(0.0, _alive_log_odds(params, x, t_x, T)))


def expected_purchases(params: BgNbdParams, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray,
                       T: np.ndarray) -> np.ndarray:
    """E[X(T, T+t) | x, t_x, T], eq. (10), stable for large x.

    (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive).
    Euler's transformation turns the power and ₂F₁ into ((α+T)/(α+T+t))^(a−1) ·
    ₂F₁(a+b−1−r, a−1; a+b+x−1; z), whose arguments do not grow with x.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    z = t / (alpha + T + t)
    shrink = np.exp((a - 1) * (np.log(alpha + T) - np.log(alpha + T + t)))
    bracket = 1.0 - shrink * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    return (a + b + x - 1) / (a - 1) * bracket * probability_alive(params, x, t_x, T)


def probability_no_purchase(params: BgNbdParams, t: float) -> float:
    """P(X(t) = 0) for a new customer observed for t: B(a, b)/B(a, b) · (α/(α+t))^r = (α/(α+t))^r.

    >>> round(probability_no_purchase(BgNbdParams(0.243, 4.414, 0.793, 2.426), 39), 7)
    0.5737864
    """
    return float((params.alpha / (params.alpha + t)) ** params.r)


def expected_purchases_new(params: BgNbdParams, t: float | np.ndarray) -> np.ndarray:
    """E[X(t)] for a customer observed from their first purchase, eq. (9)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=np.float64)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, z))
