"""The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005, "Counting Your
Customers the Easy Way"), fit by maximum likelihood (SPEC §6).

Each customer is (x, t_x, T): repeat purchases, time of the last one and time observed,
in the same unit. Parameters: r, α (purchase rate ~ Gamma(r, α)) and a, b (dropout
probability after each purchase ~ Beta(a, b)).
"""

from __future__ import annotations

from collections.abc import Callable
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
    parameters), which steadies fits on small or odd data. The optimiser uses the analytic
    gradient (:meth:`_Factorised.log_likelihood_and_gradient`) and stops only when it is
    flat to :data:`GRADIENT_TOLERANCE` per customer, so the CDNOW fit lands on the
    published r, α, a, b to 4 decimals. Raises :class:`RetainkitError` with what to try
    when the data cannot support the model or the fit does not converge.
    """
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    _check_enough_repeaters(x)
    rows = np.unique(np.column_stack((x, t_x, T)), axis=0, return_counts=True)
    (ux, ut, uT), weight = rows[0].T, rows[1].astype(np.float64)
    terms = _Factorised(ux, ut, uT, weight)
    scale = 1.0 / len(x)  # per-customer objective: one tolerance fits 300 or 3 million customers

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        ll, gradient = terms.log_likelihood_and_gradient(*params)
        penalty = penalizer * params**2
        return scale * (-ll + float(penalty.sum())), scale * (-gradient + 2 * penalty)

    time_scale = max(float(np.mean(T)), 1e-9)

    def ran_off(theta: np.ndarray) -> bool:
        return _ran_off(np.exp(theta), time_scale=time_scale)

    best = _minimise(objective, [np.zeros(4), np.log([0.5, max(float(np.mean(T)), 1.0), 1.0, 2.0])], ran_off)
    if best is None or ran_off(best.x):
        raise RetainkitError(DIVERGED, "try --penalizer 0.001, or a longer period with more repeat buyers")
    r, alpha, a, b = (float(v) for v in np.exp(best.x))
    ll = float(np.dot(weight, log_likelihood(BgNbdParams(r, alpha, a, b), ux, ut, uT)))
    return BgNbdParams(r, alpha, a, b, ll, len(x))


DIVERGED = "the purchase model (BG/NBD) did not converge: the likelihood has no maximum on this data"
GRADIENT_TOLERANCE = 1e-10  # per customer, on the log-parameters: what L-BFGS-B aims for
FLAT_ENOUGH = 1e-6  # per customer: a stop short of GRADIENT_TOLERANCE at this is rounding, not a failure
HOMOGENEOUS_R = 1e4  # r beyond: purchase rates differ by < 1 % (CV = 1/√r) — the ridge, not an estimate
EXTREME = 1e6  # a, b, α / mean T beyond 1e±6: likewise


def _check_enough_repeaters(x: np.ndarray) -> None:
    """BG/NBD needs customers, and at least :data:`MIN_REPEAT_BUYERS` with x > 0."""
    if len(x) == 0:
        raise RetainkitError("no customers to fit the purchase model on", "check the period (--to, --holdout)")
    repeaters = int((x > 0).sum())
    if repeaters < MIN_REPEAT_BUYERS:
        raise RetainkitError(
            f"only {repeaters} of {len(x)} customers bought more than once: too few to fit BG/NBD",
            "use a longer period (a later --to or --holdout) or more data",
        )


def _ran_off(params: np.ndarray, *, time_scale: float) -> bool:
    """True when the fit ran along a ridge of the likelihood instead of reaching a maximum.

    Where the data show no difference between customers' purchase rates (everyone buys at
    one rate, nobody drops out) the likelihood keeps rising as r, α → ∞ at a fixed ratio
    r/α (the Gamma mixing collapses to one rate, coefficient of variation 1/√r); a tightly
    converged optimiser walks out along it until rounding stops it, near r ≈ 10⁶. So:
    a parameter not finite, r > :data:`HOMOGENEOUS_R`, r, a or b < 1/:data:`EXTREME`,
    a or b > :data:`EXTREME`, or α beyond 1e±6 × ``time_scale`` (α is in time units).
    """
    r, alpha, a, b = params
    if not np.all(np.isfinite(params)) or r > HOMOGENEOUS_R:
        return True
    scale_free = np.array([r, a, b, alpha / time_scale])
    return bool(np.any(scale_free < 1 / EXTREME) or np.any(scale_free[1:] > EXTREME))


class _Factorised:
    """The log-likelihood with every transcendental term computed once per distinct x, t_x
    or T (a few thousand values) instead of once per customer, and every term that depends
    on x alone summed once per distinct x (weighted by its customers)."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weight: np.ndarray) -> None:
        self.xs, self.xi = np.unique(x, return_inverse=True)
        self.ts, self.ti = np.unique(t_x, return_inverse=True)
        self.Ts, self.Ti = np.unique(T, return_inverse=True)
        self.x, self.weight = x, weight
        self.per_x = np.bincount(self.xi, weights=weight, minlength=len(self.xs))  # customers per distinct x

    def log_likelihood(self, r: float, alpha: float, a: float, b: float) -> float:
        """Σ weight · ln L, eq. (6) (see :func:`log_likelihood`)."""
        return self.log_likelihood_and_gradient(r, alpha, a, b)[0]

    def log_likelihood_and_gradient(self, r: float, alpha: float, a: float, b: float) -> tuple[float, np.ndarray]:
        """Σ weight · ln L and its gradient with respect to (ln r, ln α, ln a, ln b).

        ln L = A(x) + r ln α + S + ln(1 + e^(D−S)) (:func:`log_likelihood`), with
        A(x) = ln Γ(r+x) − ln Γ(r) + ln B(a, b+x) − ln B(a, b), S = −(r+x) ln(α+T),
        D = ln a − ln(b+x−1) − (r+x) ln(α+t_x) (−∞ for x = 0), w = 1/(1 + e^(S−D)) the
        share of the "dropped out after the last purchase" branch and ψ the digamma:

            ∂/∂r = ψ(r+x) − ψ(r) + ln α − ln(α+T) − w [ln(α+t_x) − ln(α+T)]
            ∂/∂α = r/α − (r+x) · [1/(α+T) + w (1/(α+t_x) − 1/(α+T))]
            ∂/∂a = ψ(a+b) − ψ(a+b+x) + w/a
            ∂/∂b = ψ(b+x) − ψ(a+b+x) − ψ(b) + ψ(a+b) − w/(b+x−1)

        each multiplied by its parameter (the chain rule for log-parameters).
        """
        xs, xi, weight, n = self.xs, self.xi, self.weight, self.per_x
        log_T, log_t = np.log(alpha + self.Ts)[self.Ti], np.log(alpha + self.ts)[self.ti]
        inv_T, inv_t = (1.0 / (alpha + self.Ts))[self.Ti], (1.0 / (alpha + self.ts))[self.ti]
        inverse_bx = np.where(xs > 0, 1.0 / np.maximum(b + xs - 1, 1e-300), 0.0)
        with np.errstate(divide="ignore"):
            drop_x = np.log(a) + np.log(inverse_bx)  # −∞ for x = 0: no "dropped" branch
        power = r + self.x
        step = log_t - log_T
        gap = drop_x[xi] - power * step  # D − S
        w = special.expit(gap)
        ww, wp = weight * w, weight * power
        head = (special.gammaln(r + xs) - special.gammaln(r) + special.betaln(a, b + xs) - special.betaln(a, b))
        ll = np.dot(n, head) + r * np.log(alpha) * n.sum() - np.dot(wp, log_T) + np.dot(weight, np.logaddexp(0.0, gap))
        psi_ab = special.digamma(a + b + xs)
        d_r = (np.dot(n, special.digamma(r + xs) - special.digamma(r) + np.log(alpha))
               - np.dot(weight, log_T) - np.dot(ww, step))
        d_alpha = r / alpha * n.sum() - np.dot(wp, inv_T) - np.dot(ww * power, inv_t - inv_T)
        d_a = np.dot(n, special.digamma(a + b) - psi_ab) + ww.sum() / a
        d_b = np.dot(n, special.digamma(b + xs) - psi_ab - special.digamma(b) + special.digamma(a + b)) \
            - np.dot(ww, inverse_bx[xi])
        return float(ll), np.array([r, alpha, a, b]) * np.array([d_r, d_alpha, d_a, d_b])


Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def _minimise(objective: Objective, starts: list[np.ndarray],
              ran_off: Callable[[np.ndarray], bool] | None = None) -> optimize.OptimizeResult | None:
    """L-BFGS-B with the analytic gradient from each start, run until the gradient is flat
    to :data:`GRADIENT_TOLERANCE` or the value stops falling at all (``ftol=0``) — not
    until one step changes the value by a relative 2·10⁻⁹, SciPy's default, which stops
    short on the flat valleys of these likelihoods (CDNOW's α and b then miss the 4th
    decimal). Nelder-Mead on the value only where that fails, unless ``ran_off`` says the
    point is already out on a ridge (polishing there costs thousands of evaluations and
    finds no maximum). The best finite result, or None."""
    best = None
    for start in starts:
        with np.errstate(all="ignore"):
            result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                                       options={"ftol": 0.0, "gtol": GRADIENT_TOLERANCE, "maxiter": 2000,
                                                "maxcor": 20})
            if not _converged(result) and not (ran_off is not None and ran_off(result.x)):
                result = _polish(objective, result, start)
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    return best


def _converged(result: optimize.OptimizeResult) -> bool:
    """Finite, and either SciPy's own success or a gradient flat to :data:`FLAT_ENOUGH`
    (L-BFGS-B's line search gives up, "ABNORMAL", when rounding hides any further gain)."""
    if not (np.isfinite(result.fun) and np.all(np.isfinite(result.x))):
        return False
    return bool(result.success) or float(np.max(np.abs(result.jac))) <= FLAT_ENOUGH


def _polish(objective: Objective, result: optimize.OptimizeResult, start: np.ndarray) -> optimize.OptimizeResult:
    """Nelder-Mead from where L-BFGS-B stopped (or from ``start`` if that is not finite)."""
    origin = result.x if np.all(np.isfinite(result.x)) else start
    return optimize.minimize(lambda theta: objective(theta)[0], origin, method="Nelder-Mead",
                             options={"maxiter": 4000, "xatol": 1e-10, "fatol": 1e-14})


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
