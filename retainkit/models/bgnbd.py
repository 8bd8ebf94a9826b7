"""The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005, "Counting Your
Customers the Easy Way"), fit by maximum likelihood (SPEC §6).

Each customer is (x, t_x, T): repeat purchases, time of the last one and time observed,
in the same unit. Parameters: r, α (purchase rate ~ Gamma(r, α)) and a, b (dropout
probability after each purchase ~ Beta(a, b)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from retainkit.models import expectation
from retainkit.models.fitting import Box, Held
from retainkit.models.transaction import Rows, TransactionModel, fit_model


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    customers: int = 0
    note: str = ""  # fitted at a boundary: which limit, for ``notes`` (not a parameter: not in as_dict)

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
    """Maximum-likelihood fit (:func:`~retainkit.models.transaction.fit_model` of
    :class:`BgNbd`) as a :class:`BgNbdParams`.

    The optimiser uses the analytic gradient (:meth:`Factorised.log_likelihood_and_gradient`)
    and stops only when it is flat to :data:`~retainkit.models.fitting.GRADIENT_TOLERANCE`
    per customer, so the CDNOW fit lands on the published r, α, a, b to 4 decimals.
    Where the likelihood has no interior maximum (:func:`_box`; a ridge in the Hessian) the
    model is fitted at the boundary it runs to and ``note`` says which limit that is.
    Raises :class:`RetainkitError` with what to try when the data cannot support the model.
    """
    fit = fit_model(BgNbd(), x, t_x, T, penalizer=penalizer)
    r, alpha, a, b = (float(v) for v in fit.params)
    return BgNbdParams(r, alpha, a, b, fit.log_likelihood, fit.customers, fit.note)


HOMOGENEOUS_R = 1e4  # r beyond: purchase rates differ by < 1 % (CV = 1/√r) — the ridge, not an estimate
EXTREME = 1e6  # a, b, α / mean T beyond 1e±6: likewise
NAMES = ("r", "α", "a", "b")


def _box(time_scale: float) -> Box:
    """Where an estimate of (ln r, ln α, ln a, ln b) can be; beyond, the fit ran along a ridge.

    Where the data show no difference between customers' purchase rates (everyone buys at
    one rate) the likelihood keeps rising as r, α → ∞ at a fixed ratio r/α (the Gamma
    mixing collapses to one rate, coefficient of variation 1/√r); a tightly converged
    optimiser walks out along it until rounding stops it, near r ≈ 10⁶. Likewise a, b → ∞
    at a fixed ratio (everyone has the same dropout chance) and a → 0 (nobody drops out).
    So: r from 1/:data:`EXTREME` to :data:`HOMOGENEOUS_R`, a and b within 1e±6, and α
    within 1e±6 × ``time_scale`` (α is in time units).
    """
    low = np.log([1 / EXTREME, time_scale / EXTREME, 1 / EXTREME, 1 / EXTREME])
    return Box(low, np.log([HOMOGENEOUS_R, time_scale * EXTREME, EXTREME, EXTREME]))


def _boundary_note(params: np.ndarray, held: tuple[Held, ...]) -> str:
    """Which limit the fit was held at, in words, for ``notes``."""
    limits = []
    if any(h.index == 0 and h.upper for h in held):
        limits.append("one purchase rate for every customer")
    if any(h.index in (2, 3) for h in held):
        limits.append(_dropout_limit(params[2], params[3]))
    values = ", ".join(f"{NAMES[h.index]} held at {_number(params[h.index])}" for h in held)
    return (f"the purchase model (BG/NBD) is fitted at a limit: its likelihood has no maximum on this data but "
            f"keeps rising toward {' and '.join(limits) or 'the bound of a parameter'} ({values})")


def _dropout_limit(a: float, b: float) -> str:
    """What Beta(a, b) of the dropout chance collapses to at a bound: one value (a + b → ∞),
    or 0 and 1 (a or b → 0: a share a / (a + b) drops out at the next purchase)."""
    share = a / (a + b)
    if share < 1e-4:
        return "no customer ever dropping out"
    if a + b >= 1e4:
        return f"one dropout chance after a purchase, {share:.1%}, for every customer"
    if share > 1 - 1e-4:
        return "every customer dropping out at their next purchase"
    return f"customers who either never drop out or, {share:.1%} of them, drop out at their next purchase"


def _number(value: float) -> str:
    """A bound as it reads: 10,000 or 0.000001."""
    return f"{value:,.0f}" if value >= 1 else f"{value:.6f}".rstrip("0")


class Factorised:
    """The BG/NBD (or MBG/NBD) log-likelihood with every transcendental term computed once per distinct x, t_x
    or T (a few thousand values) instead of once per customer, every term that depends
    on x alone summed once per distinct x and every term of the "still alive" branch
    summed once per distinct T (weighted by its customers); only the share of the
    "dropped out" branch is computed per row, and only for rows with x > 0 (it is 0 for
    the others)."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weight: np.ndarray, shift: int = 0) -> None:
        self.shift = shift  # 1: MBG/NBD, whose customers may drop out at their first purchase too
        self.xs, xi = np.unique(x, return_inverse=True)
        self.Ts, Ti = np.unique(T, return_inverse=True)
        self.per_x = np.bincount(xi, weights=weight, minlength=len(self.xs))  # customers per distinct x
        self.per_T = np.bincount(Ti, weights=weight, minlength=len(self.Ts))  # customers per distinct T
        self.x_per_T = np.bincount(Ti, weights=weight * x, minlength=len(self.Ts))  # their Σ x
        repeat = (x > 0) | (shift > 0)
        self.ts, self.ti = np.unique(t_x[repeat], return_inverse=True)
        self.xi, self.Ti = xi[repeat], Ti[repeat]
        self.x, self.weight = x[repeat], weight[repeat]

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

        each multiplied by its parameter (the chain rule for log-parameters). With
        ``shift`` 1 (MBG/NBD, Batislam et al. 2007) every b+x above is b+x+1 and x = 0 has
        the "dropped" branch too. The terms
        without w are sums over distinct T, with n_T customers and Σx_T their purchases:
        r ln α − (r+x) ln(α+T) sums to −Σ_T [r·n_T ln(1 + T/α) + Σx_T ln(α+T)].
        """
        xs, n = self.xs, self.per_x
        log_Ts, inv_Ts = np.log(alpha + self.Ts), 1.0 / (alpha + self.Ts)
        grow = np.log1p(self.Ts / alpha)  # ln(α+T) − ln α, without the cancellation of two large logs
        b_x = b + xs + self.shift  # the Beta's second parameter after x repeat purchases
        inverse_bx = 1.0 / np.maximum(b_x - 1, 1e-300)
        with np.errstate(divide="ignore"):
            drop_x = np.log(a) + np.log(inverse_bx)  # BG/NBD: unused for x = 0, which has no "dropped" branch
        head = (special.gammaln(r + xs) - special.gammaln(r) + special.betaln(a, b_x) - special.betaln(a, b))
        ll = np.dot(n, head) - r * np.dot(self.per_T, grow) - np.dot(self.x_per_T, log_Ts)
        psi_ab = special.digamma(a + b_x)
        d_r = np.dot(n, special.digamma(r + xs) - special.digamma(r)) - np.dot(self.per_T, grow)
        # α ∂/∂α of r ln α − (r+x) ln(α+T) is (r·T − α·x)/(α+T): summed per distinct T
        d_alpha = (r * np.dot(self.per_T, self.Ts * inv_Ts) - alpha * np.dot(self.x_per_T, inv_Ts)) / alpha
        d_a = np.dot(n, special.digamma(a + b) - psi_ab)
        d_b = np.dot(n, special.digamma(b_x) - psi_ab - special.digamma(b) + special.digamma(a + b))
        if len(self.x):
            log_T, inv_T = log_Ts[self.Ti], inv_Ts[self.Ti]
            power = r + self.x
            step = np.log(alpha + self.ts)[self.ti] - log_T
            gap = drop_x[self.xi] - power * step  # D − S
            ww = self.weight * special.expit(gap)
            ll += np.dot(self.weight, np.logaddexp(0.0, gap))
            d_r -= np.dot(ww, step)
            d_alpha -= np.dot(ww * power, (1.0 / (alpha + self.ts))[self.ti] - inv_T)
            d_a += ww.sum() / a
            d_b -= np.dot(ww, inverse_bx[self.xi])
        return float(ll), np.array([r, alpha, a, b]) * np.array([d_r, d_alpha, d_a, d_b])


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
    ₂F₁(a+b−1−r, a−1; a+b+x−1; z), whose arguments do not grow with x. Where SciPy's ₂F₁
    fails — not finite, or outside the bounds Jensen puts on the result (large a, b or r:
    a fit at a boundary; horizons of decades) — the same expectation by quadrature over
    the dropout probability (:mod:`retainkit.models.expectation`).
    """
    x, t, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t, t_x, T)))
    return expected_purchases_if_alive(params, t, x, T) * probability_alive(params, x, t_x, T)


def expected_purchases_if_alive(params: BgNbdParams, t: float | np.ndarray, x: np.ndarray,
                                T: np.ndarray) -> np.ndarray:
    """E[X(T, T+t) | alive, x, T]: :func:`expected_purchases` without its P(alive)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t, T = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t, T)))
    z = t / (alpha + T + t)
    with np.errstate(all="ignore"):
        shrink = np.exp((a - 1) * (np.log(alpha + T) - np.log(alpha + T + t)))
        bracket = 1.0 - shrink * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        alive_mean = (a + b + x - 1) / (a - 1) * bracket  # E[h(p)] of :mod:`.expectation`
    c = t / (alpha + T)
    low, high = expectation.bounds(np.asarray(a), b + x, r + x, c)
    failed = ~np.isfinite(alive_mean) | (alive_mean < low * (1 - 1e-6)) | (alive_mean > high * (1 + 1e-6))
    if failed.any():
        alive_mean = np.array(alive_mean, dtype=np.float64)
        alive_mean[failed] = expectation.mean_over_dropout(a, (b + x)[failed], (r + x)[failed], c[failed])
    return alive_mean


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


class BgNbd(TransactionModel):
    """BG/NBD behind the common interface; parameters (r, α, a, b)."""

    name = "bgnbd"
    label = "BG/NBD"
    parameters = ("r", "alpha", "a", "b")

    def __init__(self) -> None:
        self._terms: tuple[Rows, Factorised] | None = None  # the last rows' factorised terms

    def log_likelihood(self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        return log_likelihood(BgNbdParams(*params), x, t_x, T)

    def log_likelihood_and_gradient(self, rows: Rows, params: np.ndarray) -> tuple[float, np.ndarray]:
        """The analytic gradient of :meth:`Factorised.log_likelihood_and_gradient`."""
        if self._terms is None or self._terms[0] is not rows:
            self._terms = (rows, Factorised(rows.x, rows.t_x, rows.T, rows.weight))
        return self._terms[1].log_likelihood_and_gradient(*params)

    def probability_alive(self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        return probability_alive(BgNbdParams(*params), x, t_x, T)

    def expected_purchases(self, params: np.ndarray, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray,
                           T: np.ndarray) -> np.ndarray:
        return expected_purchases(BgNbdParams(*params), t, x, t_x, T)

    def expected_purchases_if_alive(self, params: np.ndarray, t: float | np.ndarray, x: np.ndarray,
                                    T: np.ndarray) -> np.ndarray:
        return expected_purchases_if_alive(BgNbdParams(*params), t, x, T)

    def expected_purchases_new(self, params: np.ndarray, t: float | np.ndarray) -> np.ndarray:
        return expected_purchases_new(BgNbdParams(*params), t)

    def box(self, time_scale: float) -> Box:
        return _box(time_scale)

    def boundary_note(self, params: np.ndarray, held: tuple[Held, ...]) -> str:
        return _boundary_note(params, held)
