"""The Pareto/NBD log-likelihood with its analytic gradient, for the fit (SPEC §6).

In the note of Fader & Hardie (2005) the likelihood is

    L = Γ(r+x) α^r β^s / Γ(r) · [(α+T)^−(r+x) (β+T)^−s + s/(r+s+x) · A₀],
    A₀ = F(t_x) − F(T),

with F(t) (eq. 19) a Gaussian hypergeometric function, which
:func:`retainkit.models.pnbd.log_f` writes as

    α ≥ β:  F(t) = ₂F₁(1, r+x; r+s+x+1; z) / ((β+t)^s (α+t)^(r+x))
    α < β:  F(t) = ₂F₁(1, s+1; r+s+x+1; z) / ((α+t)^(r+x−1) (β+t)^(s+1)),
    z = |α−β| / (max(α,β)+t).

₂F₁(1, b; c; z) = Σₙ tₙ with t₀ = 1, tₙ₊₁ = tₙ · (b+n)/(c+n) · z: a series of positive
terms whose derivatives are series too, summed in the same pass —

    ∂tₙ/∂b = tₙ · Σ_{k<n} 1/(b+k),   ∂tₙ/∂c = −tₙ · Σ_{k<n} 1/(c+k),
    ∂tₙ₊₁/∂z = (∂tₙ/∂z · z + tₙ) · (b+n)/(c+n)

— so ∂ ln F/∂(r, α, s, β) follow by the chain rule (b and c are r+x or s+1 and r+s+x+1;
z moves with α and β) with no differencing, vectorised over the rows. Rows whose series
has not converged in :data:`SERIES_TERMS` terms (z near 1) take SciPy's ``hyp2f1`` and
central differences of it in b, c and z: few rows, no loss of accuracy that matters.
Then, with q = F(T)/F(t_x),

    ∂ ln A₀ = (∂ ln F(t_x) − q · ∂ ln F(T)) / (1 − q),

and ln L = H + ln(e^S + e^D) with H = ln Γ(r+x) − ln Γ(r) + r ln α + s ln β,
S = −(r+x) ln(α+T) − s ln(β+T), D = ln s − ln(r+s+x) + ln A₀ and w = 1/(1 + e^(S−D)):

    ∇ ln L = ∇H + (1−w) ∇S + w ∇D.

Each ln F is computed once per distinct (x, t_x) and (x, T) pair (a customer without
repeat purchases has t_x = 0: one value for all of them).
"""

from __future__ import annotations

import numpy as np
from scipy import special

SERIES_TERMS = 400  # as pnbd.log_f's series: SciPy's hyp2f1 for the rows still running after
EPSILON = 1e-17  # a term below this share of the sum (and of its derivatives') ends a row's series
STEP = 1e-6  # relative step of the central differences of SciPy's hyp2f1 on unconverged rows


def hyp2f1_one_derivatives(b: np.ndarray | float, c: np.ndarray,
                           z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """₂F₁(1, b; c; z) and its derivatives in b, c and z, elementwise (0 ≤ z < 1, b ≤ c).

    >>> v, db, dc, dz = hyp2f1_one_derivatives(np.array([2.0]), np.array([3.5]), np.array([0.4]))
    >>> h = 1e-6
    >>> f = lambda b, c, z: special.hyp2f1(1.0, b, c, z)
    >>> bool(abs(db[0] - (f(2 + h, 3.5, 0.4) - f(2 - h, 3.5, 0.4)) / (2 * h)) < 1e-8)
    True
    """
    b, c, z = (np.array(v, dtype=np.float64) for v in np.broadcast_arrays(b, c, z))
    total, term = np.ones(c.shape), np.ones(c.shape)
    d_b, d_c, d_z = np.zeros(c.shape), np.zeros(c.shape), np.zeros(c.shape)
    sum_b, sum_c, term_z = np.zeros(c.shape), np.zeros(c.shape), np.zeros(c.shape)
    running = np.arange(c.size)  # z = 0 too: ∂/∂z of the series there is b/c
    for n in range(SERIES_TERMS):
        if not running.size:
            break
        bn, cn, zn = b[running] + n, c[running] + n, z[running]
        ratio = bn / cn
        t = term[running]
        tz = (term_z[running] * zn + t) * ratio
        t = t * ratio * zn
        sb = sum_b[running] + 1.0 / bn
        sc = sum_c[running] + 1.0 / cn
        term[running], term_z[running], sum_b[running], sum_c[running] = t, tz, sb, sc
        total[running] += t
        d_b[running] += t * sb
        d_c[running] -= t * sc
        d_z[running] += tz
        keep = (t > EPSILON * total[running]) | (tz * (1 - zn) > EPSILON * d_z[running])
        running = running[keep]
    if running.size:
        total[running], d_b[running], d_c[running], d_z[running] = _by_scipy(b[running], c[running], z[running])
    return total, d_b, d_c, d_z


def _by_scipy(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """₂F₁(1, b; c; z) by SciPy and its derivatives by central differences (z near 1)."""
    def f(bb: np.ndarray, cc: np.ndarray, zz: np.ndarray) -> np.ndarray:
        return special.hyp2f1(1.0, bb, cc, zz)

    hb, hc = STEP * np.maximum(b, 1.0), STEP * np.maximum(c, 1.0)
    hz = STEP * np.minimum(z, 1 - z)
    return (f(b, c, z), (f(b + hb, c, z) - f(b - hb, c, z)) / (2 * hb),
            (f(b, c + hc, z) - f(b, c - hc, z)) / (2 * hc), (f(b, c, z + hz) - f(b, c, z - hz)) / (2 * hz))


def log_f_gradient(r: float, alpha: float, s: float, beta: float, x: np.ndarray,
                   t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ln F(t) (:func:`retainkit.models.pnbd.log_f`) and its gradient in (r, α, s, β), shape (4, n).

    α ≥ β (b = r+x):  ∂/∂r = (∂_b ₂F₁ + ∂_c ₂F₁)/₂F₁ − ln(α+t),  ∂/∂s = ∂_c ₂F₁/₂F₁ − ln(β+t),
                      ∂/∂α = ∂_z ₂F₁/₂F₁ · (β+t)/(α+t)² − (r+x)/(α+t),
                      ∂/∂β = −∂_z ₂F₁/₂F₁ / (α+t) − s/(β+t);
    α < β (b = s+1):  ∂/∂r = ∂_c ₂F₁/₂F₁ − ln(α+t),  ∂/∂s = (∂_b ₂F₁ + ∂_c ₂F₁)/₂F₁ − ln(β+t),
                      ∂/∂α = −∂_z ₂F₁/₂F₁ / (β+t) − (r+x−1)/(α+t),
                      ∂/∂β = ∂_z ₂F₁/₂F₁ · (α+t)/(β+t)² − (s+1)/(β+t).
    """
    x, t = np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64)
    big, small = max(alpha, beta), min(alpha, beta)
    z = (big - small) / (big + t)
    c = r + s + x + 1
    log_a, log_b = np.log(alpha + t), np.log(beta + t)
    if alpha >= beta:
        value, d_b, d_c, d_z = hyp2f1_one_derivatives(r + x, c, z)
        d_b, d_c, d_z = d_b / value, d_c / value, d_z / value
        log = np.log(value) - s * log_b - (r + x) * log_a
        gradient = np.array([d_b + d_c - log_a, d_z * (beta + t) / (alpha + t) ** 2 - (r + x) / (alpha + t),
                             d_c - log_b, -d_z / (alpha + t) - s / (beta + t)])
        return log, gradient
    value, d_b, d_c, d_z = hyp2f1_one_derivatives(s + 1, c, z)
    d_b, d_c, d_z = d_b / value, d_c / value, d_z / value
    log = np.log(value) - (r + x - 1) * log_a - (s + 1) * log_b
    gradient = np.array([d_c - log_a, -d_z / (beta + t) - (r + x - 1) / (alpha + t),
                         d_b + d_c - log_b, d_z * (alpha + t) / (beta + t) ** 2 - (s + 1) / (beta + t)])
    return log, gradient


class ParetoNbdTerms:
    """Σ weight · ln L over distinct (x, t_x, T) rows and its gradient, each ln F computed
    once per distinct (x, t_x) and (x, T) pair, and every sum of a gradient term over the
    rows gathered first into per-pair, per-T or per-x weights (``np.bincount``) and then
    dotted with that term's few distinct values."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weight: np.ndarray) -> None:
        self.x, self.weight = x, weight
        self.last, self.last_back = np.unique(np.column_stack([x, t_x]), axis=0, return_inverse=True)
        self.end, self.end_back = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
        self.last_back, self.end_back = self.last_back.ravel(), self.end_back.ravel()
        self.xs, self.xi = np.unique(x, return_inverse=True)
        self.Ts, self.Ti = np.unique(T, return_inverse=True)
        self.per_x = np.bincount(self.xi, weights=weight, minlength=len(self.xs))

    def log_likelihood_and_gradient(self, r: float, alpha: float, s: float,
                                    beta: float) -> tuple[float, np.ndarray]:
        """Σ weight · ln L and its gradient with respect to (ln r, ln α, ln s, ln β)."""
        x, weight, xs, n = self.x, self.weight, self.xs, self.per_x
        f_last, g_last = log_f_gradient(r, alpha, s, beta, self.last[:, 0], self.last[:, 1])
        f_end, g_end = log_f_gradient(r, alpha, s, beta, self.end[:, 0], self.end[:, 1])
        at_last = f_last[self.last_back]
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.minimum(f_end[self.end_back] - at_last, 0.0)  # ln q, q = F(T)/F(t_x)
            rest = -np.expm1(gap)  # 1 − q
            log_a0 = at_last + np.log(rest)
        log_aT, log_bT = np.log(alpha + self.Ts), np.log(beta + self.Ts)
        log_a, log_b = log_aT[self.Ti], log_bT[self.Ti]
        log_total = np.log(r + s + xs)
        stays = -(r + x) * log_a - s * log_b
        drops = np.log(s) - log_total[self.xi] + log_a0
        ll = (np.dot(n, special.gammaln(r + xs)) + n.sum() * (r * np.log(alpha) + s * np.log(beta) - special.gammaln(r))
              + np.dot(weight, np.logaddexp(stays, drops)))
        share = special.expit(drops - stays)  # w
        wd = weight * share
        stay = weight - wd
        stay_T = np.bincount(self.Ti, weights=stay, minlength=len(self.Ts))
        stay_rate_T = np.bincount(self.Ti, weights=stay * x, minlength=len(self.Ts)) + r * stay_T
        wd_x = np.bincount(self.xi, weights=wd, minlength=len(xs))
        with np.errstate(divide="ignore", invalid="ignore"):
            to_last = np.where(wd > 0, wd / rest, 0.0)  # ∂ ln A₀ = (∂ ln F(t_x) − q ∂ ln F(T)) / (1 − q)
        to_end = to_last * np.exp(gap)
        d_a0 = (g_last @ np.bincount(self.last_back, weights=to_last, minlength=len(self.last))
                - g_end @ np.bincount(self.end_back, weights=to_end, minlength=len(self.end)))
        inv_total = np.dot(wd_x, 1 / (r + s + xs))
        d_r = (np.dot(n, special.digamma(r + xs)) + n.sum() * (np.log(alpha) - special.digamma(r))
               - np.dot(stay_T, log_aT) - inv_total + d_a0[0])
        d_alpha = n.sum() * r / alpha - np.dot(stay_rate_T, 1 / (alpha + self.Ts)) + d_a0[1]
        d_s = n.sum() * np.log(beta) - np.dot(stay_T, log_bT) + wd.sum() / s - inv_total + d_a0[2]
        d_beta = n.sum() * s / beta - s * np.dot(stay_T, 1 / (beta + self.Ts)) + d_a0[3]
        return float(ll), np.array([r, alpha, s, beta]) * np.array([d_r, d_alpha, d_s, d_beta])
