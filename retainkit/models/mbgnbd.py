"""The MBG/NBD model of repeat purchases (Batislam, Denizel & Filiztekin 2007, "Empirical
validation and comparison of models for customer base analysis"), as BTYDplus and
lifetimes fit it (SPEC §6).

As BG/NBD — purchases at rate λ ~ Gamma(r, α), dropout chance p ~ Beta(a, b) — except
that a customer may also drop out right at their first purchase, so a customer without
repeat purchases is not certainly alive.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from retainkit.models import expectation
from retainkit.models.bgnbd import EXTREME, HOMOGENEOUS_R, Factorised
from retainkit.models.fitting import Box
from retainkit.models.transaction import Rows, TransactionModel


def _alive_log_odds(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """ln[a/(b+x) · ((α+T)/(α+t_x))^(r+x)]: the odds that the customer has left."""
    r, alpha, a, b = params
    return np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))


class ModifiedBgNbd(TransactionModel):
    """MBG/NBD: BG/NBD with a chance of dropping out at the first purchase too."""

    name = "mbgnbd"
    label = "MBG/NBD"
    parameters = ("r", "alpha", "a", "b")

    def log_likelihood(self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x+1) − ln B(a, b)
                  + ln[(α+T)^−(r+x) + a/(b+x) · (α+t_x)^−(r+x)]   (Batislam et al. 2007, eq. 5)"""
        r, alpha, a, b = params
        x = np.asarray(x, dtype=np.float64)
        head = (special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
                + special.betaln(a, b + x + 1) - special.betaln(a, b))
        stays = -(r + x) * np.log(alpha + T)
        drops = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
        return head + np.logaddexp(stays, drops)

    def __init__(self) -> None:
        self._terms: tuple[Rows, Factorised] | None = None  # the last rows' factorised terms

    def log_likelihood_and_gradient(self, rows: Rows, params: np.ndarray) -> tuple[float, np.ndarray]:
        """Σ weight · ln L and its gradient with respect to (ln r, ln α, ln a, ln b). With
        S = −(r+x) ln(α+T), D = ln a − ln(b+x) − (r+x) ln(α+t_x), w = 1/(1 + e^(S−D)) and ψ
        the digamma:

            ∂/∂r = ψ(r+x) − ψ(r) + ln α − (1−w) ln(α+T) − w ln(α+t_x)
            ∂/∂α = r/α − (r+x) · [(1−w)/(α+T) + w/(α+t_x)]
            ∂/∂a = ψ(a+b) − ψ(a+b+x+1) + w/a
            ∂/∂b = ψ(b+x+1) − ψ(a+b+x+1) − ψ(b) + ψ(a+b) − w/(b+x)

        each multiplied by its parameter (the chain rule for log-parameters); summed as
        BG/NBD's (:class:`~retainkit.models.bgnbd.Factorised` with ``shift`` 1).
        """
        if self._terms is None or self._terms[0] is not rows:
            self._terms = (rows, Factorised(rows.x, rows.t_x, rows.T, rows.weight, shift=1))
        return self._terms[1].log_likelihood_and_gradient(*params)

    def probability_alive(self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x))."""
        x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
        return np.exp(-np.logaddexp(0.0, _alive_log_odds(params, x, t_x, T)))

    def expected_purchases(self, params: np.ndarray, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray,
                           T: np.ndarray) -> np.ndarray:
        """E[X(T, T+t) | x, t_x, T] = (a+b+x)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x)
        · ₂F₁(r+x, b+x+1; a+b+x; t/(α+T+t))] · P(alive).

        Euler's transformation, as for BG/NBD, gives ((α+T)/(α+T+t))^(a−1) ·
        ₂F₁(a+b−r, a−1; a+b+x; z), whose parameters do not grow with x; where SciPy's ₂F₁
        fails (not finite, or outside Jensen's bounds) the same mean by quadrature over the
        dropout chance, p ~ Beta(a, b+x+1) for a customer still alive
        (:mod:`retainkit.models.expectation`).
        """
        x, t, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t, t_x, T)))
        return self.expected_purchases_if_alive(params, t, x, T) * self.probability_alive(params, x, t_x, T)

    def expected_purchases_if_alive(self, params: np.ndarray, t: float | np.ndarray, x: np.ndarray,
                                    T: np.ndarray) -> np.ndarray:
        """E[X(T, T+t) | alive, x, T]: :meth:`expected_purchases` without its P(alive)."""
        r, alpha, a, b = params
        x, t, T = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, t, T)))
        z = t / (alpha + T + t)
        with np.errstate(all="ignore"):
            shrink = np.exp((a - 1) * (np.log(alpha + T) - np.log(alpha + T + t)))
            alive_mean = (a + b + x) / (a - 1) * (1.0 - shrink * special.hyp2f1(a + b - r, a - 1, a + b + x, z))
        c = t / (alpha + T)
        low, high = expectation.bounds(np.asarray(a), b + x + 1, r + x, c)
        failed = ~np.isfinite(alive_mean) | (alive_mean < low * (1 - 1e-6)) | (alive_mean > high * (1 + 1e-6))
        if failed.any():
            alive_mean = np.array(alive_mean, dtype=np.float64)
            alive_mean[failed] = expectation.mean_over_dropout(a, (b + x + 1)[failed], (r + x)[failed], c[failed])
        return alive_mean

    def expected_purchases_new(self, params: np.ndarray, t: float | np.ndarray) -> np.ndarray:
        """E[X(t)] = b/(a−1) · [1 − (α/(α+t))^r · ₂F₁(r, b+1; a+b; t/(α+t))]."""
        r, alpha, a, b = params
        t = np.asarray(t, dtype=np.float64)
        return b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b + 1, a + b, t / (alpha + t)))

    def box(self, time_scale: float) -> Box:
        """As BG/NBD's: r up to 10⁴, a and b within 1e±6, α within 1e±6 × ``time_scale``."""
        low = np.log([1 / EXTREME, time_scale / EXTREME, 1 / EXTREME, 1 / EXTREME])
        return Box(low, np.log([HOMOGENEOUS_R, time_scale * EXTREME, EXTREME, EXTREME]))
