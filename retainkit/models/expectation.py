"""BG/NBD's expected purchases by quadrature, where the hypergeometric form fails (SPEC §6).

Eq. (10) of Fader, Hardie & Lee (2005) needs ₂F₁ with parameters that grow with a, b and
r; SciPy's ``hyp2f1`` returns NaN or ±∞ for large ones (a fit at a boundary, b = 10⁶), for
long horizons (z → 1) and for some plain mixes (a = b = 100 over 100 years). The same
expectation as one integral over the dropout probability p:

    E[X(T, T+t) | x, t_x, T] = P(alive) · E[h(p)],  p ~ Beta(a, b+x),
    h(p) = (1 − (1 + p·c)^−(r+x)) / p,  c = t / (α+T),  h(0) = (r+x)·c,

because an alive customer's rate λ is Gamma(r+x, α+T) and p is Beta(a, b+x) after the
data, and a customer who buys at rate λ and drops out with probability p after each
purchase makes (1 − e^(−λpt))/p purchases in t, on average. h is bounded and smooth in
logit(p); :func:`mean_over_dropout` integrates it there by Gauss-Legendre over the span
of Beta's quantiles, which holds its density whatever a and b are. Jensen (h is convex
and decreasing) bounds the result: h(E p) ≤ E h(p) ≤ h(0), which :func:`bounds` gives
for checking the closed form.
"""

from __future__ import annotations

import numpy as np
from scipy import special

NODES, WEIGHTS = np.polynomial.legendre.leggauss(256)  # 1e-11 relative against adaptive quadrature
TAIL = 1e-15  # Beta mass left outside the quantile span at each end (counted at the span's ends)
FLAT_NEAR_ZERO = 1e-12  # below p0 = this / (1 + (r+x+1)·c), h(p) is h(0) to this relative precision
LAST_BELOW_ONE = 1.0 - 2.0**-53
BLOCK = 2048  # rows per block: BLOCK × 256 nodes of float64 is 4 MB


def h(p: np.ndarray, power: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(1 − (1 + p·c)^−power) / p, and power·c at p = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = -np.expm1(-power * np.log1p(p * c)) / p
    return np.where(p > 0, value, power * c)


def bounds(a: np.ndarray, b_x: np.ndarray, power: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jensen's bounds on E h(p), p ~ Beta(a, b_x): h at the mean, and h(0)."""
    return h(a / (a + b_x), power, c), power * c


def mean_over_dropout(a: float, b_x: np.ndarray, power: np.ndarray, c: np.ndarray) -> np.ndarray:
    """E h(p) for p ~ Beta(a, b_x), elementwise over ``b_x``, ``power`` (r+x) and ``c``."""
    b_x, power, c = (np.asarray(v, dtype=np.float64).ravel() for v in np.broadcast_arrays(b_x, power, c))
    out = np.empty(len(b_x))
    for start in range(0, len(b_x), BLOCK):
        part = slice(start, start + BLOCK)
        out[part] = _block(a, b_x[part, None], power[part, None], c[part, None])
    return out


def _block(a: float, b_x: np.ndarray, power: np.ndarray, c: np.ndarray) -> np.ndarray:
    """:func:`mean_over_dropout` for one block of rows (columns of shape (n, 1)).

    The span runs from the TAIL quantile (or p0, below which h is h(0)) to the 1 − TAIL
    quantile, in u = logit(p), where Beta's density is p^a (1−p)^b / B(a, b): smooth and
    without the poles of the density in p. The mass outside counts at the span's ends,
    and the result is divided by the mass the rule finds (≈ 1) so that a rough rule errs
    in the average, not in the total.
    """
    lowest = FLAT_NEAR_ZERO / (1 + (power + 1) * c)
    with np.errstate(all="ignore"):
        low = np.maximum(np.nan_to_num(special.betaincinv(a, b_x, TAIL), nan=0.0), lowest)
        high = np.clip(np.nan_to_num(special.betaincinv(a, b_x, 1 - TAIL), nan=1.0), low, LAST_BELOW_ONE)
    u_low, u_high = np.log(low) - np.log1p(-low), np.log(high) - np.log1p(-high)
    half = (u_high - u_low) / 2
    u = u_low + half * (NODES + 1)
    log_p, log_q = -np.logaddexp(0.0, -u), -np.logaddexp(0.0, u)
    weight = np.exp(a * log_p + b_x * log_q - special.betaln(a, b_x)) * half * WEIGHTS
    below, above = special.betainc(a, b_x, low), special.betaincc(a, b_x, high)
    total = weight.sum(axis=1) + below[:, 0] + above[:, 0]
    mean = ((weight * h(np.exp(log_p), power, c)).sum(axis=1) + (below * power * c)[:, 0]
            + (above * h(high, power, c))[:, 0])
    return mean / total
