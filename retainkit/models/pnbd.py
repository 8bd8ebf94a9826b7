"""The Pareto/NBD model of repeat purchases (Schmittlein, Morrison & Colombo 1987), in the
formulation of Fader & Hardie, "A Note on Deriving the Pareto/NBD Model and Related
Expressions" (2005) (SPEC §6).

While alive a customer buys at rate λ ~ Gamma(r, α); their lifetime is exponential with
rate μ ~ Gamma(s, β). Parameters (r, α, s, β); α and β are in model time units.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from retainkit.models.fitting import Box
from retainkit.models.pnbd_terms import ParetoNbdTerms
from retainkit.models.transaction import Rows, TransactionModel

HOMOGENEOUS = 1e4  # r or s beyond: rates differ by < 1 % between customers (CV = 1/√shape)
EXTREME = 1e6  # α, β / mean T beyond 1e±6, r or s below 1e−6: a ridge, not an estimate
UNIT_S = 1e-8  # |s − 1| below: the limit s → 1 of the expectation
SERIES_TERMS = 400  # ₂F₁(1, b; c; z) by its series up to here; SciPy's hyp2f1 for rows it leaves unconverged


def log_f(r: float, alpha: float, s: float, beta: float, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """ln F(t), where A₀ = F(t_x) − F(T) and (Fader & Hardie 2005, eq. 19)

        F(t) = ₂F₁(r+s+x, b₂; r+s+x+1; |α−β|/(max(α,β)+t)) / (max(α,β)+t)^(r+s+x),

    b₂ = s+1 when α ≥ β, r+x otherwise. Euler's transformation ₂F₁(a, b; a+1; z) =
    (1−z)^(1−b) ₂F₁(1, a+1−b; a+1; z) turns both branches into

        α ≥ β:  ₂F₁(1, r+x; r+s+x+1; z) / ((β+t)^s (α+t)^(r+x))
        α < β:  ₂F₁(1, s+1; r+s+x+1; z) / ((α+t)^(r+x−1) (β+t)^(s+1))

    whose ₂F₁ has a first parameter of 1 and grows no faster than (1−z)^−(s or r+x−1):
    it neither overflows for customers with hundreds of purchases nor loses digits.
    """
    big, small = max(alpha, beta), min(alpha, beta)
    z = (big - small) / (big + t)
    c = r + s + x + 1
    if alpha >= beta:
        series = hyp2f1_one(r + x, c, z)
        return np.log(series) - s * np.log(beta + t) - (r + x) * np.log(alpha + t)
    series = hyp2f1_one(s + 1, c, z)
    return np.log(series) - (r + x - 1) * np.log(alpha + t) - (s + 1) * np.log(beta + t)


def hyp2f1_one(b: np.ndarray | float, c: np.ndarray, z: np.ndarray | float) -> np.ndarray:
    """₂F₁(1, b; c; z) = Σₙ (b)ₙ/(c)ₙ · zⁿ for b ≤ c and 0 ≤ z < 1: every term is positive
    and each is the last × (b+n)/(c+n) · z < z, so the sum runs until a term adds less than
    10⁻¹⁷ of it — a few terms for the usual fits. SciPy's ``hyp2f1`` takes the rows still
    running after :data:`SERIES_TERMS` terms (z near 1 with b near c); it is slow, and
    returns NaN, for the large b and c of a fit running off to a limit, which the series is
    not.

    >>> round(float(hyp2f1_one(2.0, np.array([3.0]), 0.5)[0]), 12) == round(float(special.hyp2f1(1, 2, 3, 0.5)), 12)
    True
    """
    b, c, z = (np.array(v, dtype=np.float64) for v in np.broadcast_arrays(b, c, z))
    total, term = np.ones(c.shape), np.ones(c.shape)
    running = np.flatnonzero(z > 0)
    for n in range(SERIES_TERMS):
        if not running.size:
            return total
        term[running] *= (b[running] + n) / (c[running] + n) * z[running]
        total[running] += term[running]
        running = running[term[running] > 1e-17 * total[running]]
    total[running] = special.hyp2f1(1.0, b[running], c[running], z[running])
    return total


def log_a0(r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray,
           T: np.ndarray) -> np.ndarray:
    """ln A₀ = ln(F(t_x) − F(T)), as ln F(t_x) + ln(1 − e^(ln F(T) − ln F(t_x))); −∞ when t_x = T."""
    at_last, at_end = log_f(r, alpha, s, beta, x, t_x), log_f(r, alpha, s, beta, x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        return at_last + np.log(-np.expm1(np.minimum(at_end - at_last, 0.0)))


def _alive_log_odds(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """ln[s/(r+s+x) · (α+T)^(r+x) (β+T)^s · A₀]: the odds that the customer has left."""
    r, alpha, s, beta = params
    return (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T)
            + log_a0(r, alpha, s, beta, x, t_x, T))


class ParetoNbd(TransactionModel):
    """Pareto/NBD: purchases Poisson(λ) while alive, lifetimes exponential(μ)."""

    name = "pnbd"
    label = "Pareto/NBD"
    parameters = ("r", "alpha", "s", "beta")
    fits_at_limits = False  # its ₂F₁ is slow where r runs to 10⁴: no fit at a limit, a clear error instead

    def __init__(self) -> None:
        self._terms: tuple[Rows, ParetoNbdTerms] | None = None  # the last rows' factorised terms

    def log_likelihood_and_gradient(self, rows: Rows, params: np.ndarray) -> tuple[float, np.ndarray]:
        """The analytic gradient of :meth:`~retainkit.models.pnbd_terms.ParetoNbdTerms.log_likelihood_and_gradient`."""
        if self._terms is None or self._terms[0] is not rows:
            self._terms = (rows, ParetoNbdTerms(rows.x, rows.t_x, rows.T, rows.weight))
        return self._terms[1].log_likelihood_and_gradient(*params)

    def log_likelihood(self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """ln L, eq. (18) of the note, in log-sum-exp form:

        ln L = ln Γ(r+x) − ln Γ(r) + r ln α + s ln β
               + ln[(α+T)^−(r+x) (β+T)^−s + s/(r+s+x) · A₀]
        """
        r, alpha, s, beta = params
        x = np.asarray(x, dtype=np.float64)
        head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        left = np.log(s) - np.log(r + s + x) + log_a0(r, alpha, s, beta, x, t_x, T)
        return head + np.logaddexp(alive, left)

    def probability_alive(self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) · (α+T)^(r+x) (β+T)^s · A₀), eq. (21)."""
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        return np.exp(-np.logaddexp(0.0, _alive_log_odds(params, x, t_x, T)))

    def expected_purchases(self, params: np.ndarray, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray,
                           T: np.ndarray) -> np.ndarray:
        """E[X(T, T+t) | x, t_x, T] = (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)]
        · P(alive), eq. (22); the bracket over (s−1) is ln(1 + t/(β+T)) at s = 1."""
        x, t, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t, t_x, T)))
        return self.expected_purchases_if_alive(params, t, x, T) * self.probability_alive(params, x, t_x, T)

    def expected_purchases_if_alive(self, params: np.ndarray, t: float | np.ndarray, x: np.ndarray,
                                    T: np.ndarray) -> np.ndarray:
        """E[X(T, T+t) | alive, x, T] = (r+x)/(α+T) · E[min(lifetime, t)]: eq. (22) without P(alive)."""
        r, alpha, s, beta = params
        x, t, T = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t, T)))
        return (r + x) / (alpha + T) * _lifetime_weeks(s, beta + T, t)

    def expected_purchases_new(self, params: np.ndarray, t: float | np.ndarray) -> np.ndarray:
        """E[X(t)] = rβ / (α(s−1)) · [1 − (β/(β+t))^(s−1)], eq. (17)."""
        r, alpha, s, beta = params
        return r / alpha * _lifetime_weeks(s, beta, np.asarray(t, dtype=np.float64))

    def box(self, time_scale: float) -> Box:
        """r and s from 1/:data:`EXTREME` to :data:`HOMOGENEOUS`; α, β within 1e±6 × ``time_scale``."""
        low = np.log([1 / EXTREME, time_scale / EXTREME, 1 / EXTREME, time_scale / EXTREME])
        return Box(low, np.log([HOMOGENEOUS, time_scale * EXTREME, HOMOGENEOUS, time_scale * EXTREME]))

    def starts(self, time_scale: float) -> list[np.ndarray]:
        return [np.zeros(4), np.log([0.5, max(time_scale, 1.0), 0.5, max(time_scale, 1.0)])]


def _lifetime_weeks(s: float, scale: np.ndarray, t: np.ndarray) -> np.ndarray:
    """E[min(lifetime, t)] of a customer alive now, μ ~ Gamma(s, scale):
    scale/(s−1) · [1 − (scale/(scale+t))^(s−1)], and scale · ln(1 + t/scale) at s = 1."""
    grow = np.log1p(t / scale)
    if abs(s - 1) < UNIT_S:
        return scale * grow
    return scale * -np.expm1(-(s - 1) * grow) / (s - 1)
