"""The Gamma-Gamma model of spend per transaction (Fader & Hardie, "The Gamma-Gamma Model
of Monetary Value", 2013), fit by maximum likelihood (SPEC §6).

A customer with x repeat purchases of mean value m̄: each value ~ Gamma(p, ν), ν ~ Gamma(q, γ).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from retainkit.errors import RetainkitError
from retainkit.models.fitting import Box, Held, maximum_likelihood, penalised_objective
from retainkit.models.transaction import covariance, distinct_rows

MIN_CUSTOMERS = 2


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")
    customers: int = 0
    left_out: int = 0  # repeat buyers whose mean value was ≤ 0
    note: str = ""  # fitted at a boundary: which limit, for ``notes`` (not a parameter: not in as_dict)
    #: Covariance of (ln p, ln q, ln γ): the inverse Hessian of −LL at the optimum; None at a limit.
    covariance: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> np.ndarray:
        return np.array([self.p, self.q, self.gamma])

    def standard_errors(self) -> np.ndarray | None:
        """SE of p, q and γ by the delta method: θ·SE(ln θ); None at a limit."""
        return None if self.covariance is None else self.params * np.sqrt(np.diag(self.covariance))

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
    """Fit on the repeat buyers (x > 0) whose mean value is positive; the others are counted.

    The customers' distinct (x, m̄) pairs and how many share each are all the fit reads
    (:func:`fit_gamma_gamma_rows`)."""
    x = np.asarray(x, dtype=np.float64)
    mean_value = np.asarray(mean_value, dtype=np.float64)
    known = (x > 0) & np.isfinite(mean_value)
    (xs, ms), _, counts = distinct_rows(x[known], mean_value[known])
    return fit_gamma_gamma_rows(xs, ms, counts.astype(np.float64), penalizer=penalizer,
                                unknown=int(((x > 0) & ~known).sum()))


def fit_gamma_gamma_rows(x: np.ndarray, mean_value: np.ndarray, weight: np.ndarray, *, penalizer: float = 0.0,
                         unknown: int = 0) -> GammaGammaParams:
    """Fit on distinct (x, m̄) rows of repeat buyers with a finite m̄ (lexicographic order, as
    :func:`~retainkit.models.transaction.distinct_rows` gives them), ``weight`` customers
    each; rows with m̄ ≤ 0 and the ``unknown`` repeat buyers without a finite m̄ are counted
    in ``left_out``. Every sum over customers is Σ weight · term over the rows, so the rows
    of every shard put together give the same fit as one process.

    Maximum likelihood on log-parameters with the analytic gradient
    (:meth:`_SpendTerms.log_likelihood_and_gradient`) and the optimiser of
    :func:`retainkit.models.fitting.minimise`; ``penalizer`` adds ``penalizer · (p² + q² + γ²)``.
    Where the likelihood has no interior maximum (:func:`_box`; a flat Hessian) the model
    is fitted at the boundary it runs to and ``note`` says which limit that is, as for BG/NBD,
    and ``covariance`` is None; elsewhere ``covariance`` is the inverse Hessian of −LL at the
    optimum on the log-parameters (what the CLV intervals carry, SPEC §6).
    """
    x, mean_value, weight = (np.asarray(v, dtype=np.float64) for v in (x, mean_value, weight))
    usable = (x > 0) & (mean_value > 0)
    left_out = int(weight[~usable].sum()) + unknown
    customers = int(weight[usable].sum())
    if customers < MIN_CUSTOMERS:
        raise RetainkitError(
            f"{customers} repeat buyers with a positive mean order value: too few to fit the spend model",
            "check the amount column (refunds net to ≤ 0?) or use a longer period",
        )
    terms = _SpendTerms(x[usable], mean_value[usable], weight[usable])
    scale = 1.0 / terms.customers  # per-customer objective, as for BG/NBD

    objective = penalised_objective(terms.log_likelihood_and_gradient, penalizer, scale)

    def fitted(theta: np.ndarray, note: str = "") -> GammaGammaParams:
        p, q, g = (float(v) for v in np.exp(theta))
        ll = float(np.dot(terms.weight, log_likelihood(GammaGammaParams(p, q, g), terms.x, terms.m)))
        spread = None if note else covariance(objective, theta, terms.customers)
        return GammaGammaParams(p, q, g, ll, terms.customers, left_out, note, spread)

    typical = max(float(np.dot(terms.weight, terms.m)) / terms.customers, 1e-300)
    box = _box(typical)
    starts = [np.log([1.0, 1.0, max(typical, 1e-6)]), np.zeros(3)]
    found = maximum_likelihood(objective, starts, box, terms.customers)
    if found is None:
        raise RetainkitError("the spend model (Gamma-Gamma) did not converge",
                             "try --penalizer 0.001, or a longer period with more repeat buyers")
    theta, held = found
    return fitted(theta, _boundary_note(np.exp(theta), held) if held else "")


HOMOGENEOUS = 1e4  # p or q beyond: values differ by < 1 % (CV = 1/√shape) — the ridge, not an estimate
EXTREME = 1e8  # γ / the mean order value beyond 1e±8, p or q below 1e−8: likewise


def _box(typical: float) -> Box:
    """Where an estimate of (ln p, ln q, ln γ) can be; beyond, the fit ran along a ridge.

    Where customers' average order values differ no more than chance makes them the
    likelihood keeps rising as q, γ → ∞ at a fixed ratio (the Gamma of ν collapses to one
    value, coefficient of variation 1/√q); where each customer's orders are worth the same
    every time, as p → ∞ and γ → 0. So: p and q from 1/:data:`EXTREME` to
    :data:`HOMOGENEOUS`, γ within 1e±8 × ``typical`` (γ is in money).
    """
    return Box(np.log([1 / EXTREME, 1 / EXTREME, typical / EXTREME]),
               np.log([HOMOGENEOUS, HOMOGENEOUS, typical * EXTREME]))


def _boundary_note(params: np.ndarray, held: tuple[Held, ...]) -> str:
    """Which limit the fit was held at, in words, for ``notes``."""
    p, q, g = params
    alike_within, alike_between = (any(h.index == i and h.upper for h in held) for i in (0, 1))
    mean = f", {p * g / (q - 1):,.2f}" if q > 1 else ""
    limit, so = "the bound of a parameter", ""
    if alike_within and alike_between:
        limit = "one value for every order of every customer"
        so = f", so every expected order value is that value{mean}"
    elif alike_between:
        limit = "average order values that differ between customers only by chance"
        so = f", so every expected order value is close to the shop's mean{mean}"
    elif alike_within:
        limit = "average order values that differ between customers and not by chance"
        so = ", so each customer's expected order value is their own average"
    values = ", ".join(f"{('p', 'q', 'γ')[h.index]} held at {params[h.index]:,.6g}" for h in held)
    return (f"the spend model (Gamma-Gamma) is fitted at a limit: its likelihood has no maximum on this data but "
            f"keeps rising toward {limit} ({values}){so}")


class _SpendTerms:
    """The Gamma-Gamma log-likelihood of the usable repeat buyers — rows of (x, m̄), each
    standing for ``weight`` customers (one each by default) — with ln Γ and ψ of px computed
    once per distinct x."""

    def __init__(self, x: np.ndarray, m: np.ndarray, weight: np.ndarray | None = None) -> None:
        self.x, self.m = x, m
        self.weight = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=np.float64)
        self.customers = int(self.weight.sum())
        self.xs, self.xi = np.unique(x, return_inverse=True)
        self.log_m, self.log_x = np.log(m), np.log(x)

    def log_likelihood_and_gradient(self, p: float, q: float, g: float) -> tuple[float, np.ndarray]:
        """Σ weight · ln f(m̄ | p, q, γ, x) (:func:`log_likelihood`) and its gradient with respect to
        (ln p, ln q, ln γ); with L = ln(γ + x·m̄) and ψ the digamma:

            ∂/∂p = x · [ψ(px+q) − ψ(px) + ln m̄ + ln x − L]
            ∂/∂q = ψ(px+q) − ψ(q) + ln γ − L
            ∂/∂γ = q/γ − (px+q)/(γ + x·m̄)
        """
        x, xs, xi = self.x, self.xs, self.xi
        px = p * x
        log_rate = np.log(g + x * self.m)
        ll = ((special.gammaln(p * xs + q) - special.gammaln(p * xs))[xi] - special.gammaln(q) + q * np.log(g)
              + (px - 1) * self.log_m + px * self.log_x - (px + q) * log_rate)
        psi_sum = special.digamma(p * xs + q)[xi]
        d_p = x * (psi_sum - special.digamma(p * xs)[xi] + self.log_m + self.log_x - log_rate)
        d_q = psi_sum - special.digamma(q) + np.log(g) - log_rate
        d_g = q / g - (px + q) / (g + x * self.m)
        w = self.weight
        gradient = np.array([p, q, g]) * np.array([np.dot(w, d_p), np.dot(w, d_q), np.dot(w, d_g)])
        return float(np.dot(w, ll)), gradient


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
