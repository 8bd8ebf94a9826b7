"""One interface for the models of repeat purchases — BG/NBD, Pareto/NBD, MBG/NBD — and
their one fit (SPEC §6).

A customer is (x, t_x, T): repeat purchases, the time of the last one and the time
observed since the first purchase, all in model time units (weeks by default,
``--time-unit``). A model is a :class:`TransactionModel`: its log-likelihood on weighted
rows, P(alive), the expected purchases in a horizon and those of a new customer, all
functions of a parameter vector. :func:`fit_model` is the same maximum-likelihood fit
(:mod:`retainkit.models.fitting`) for every model; adding a model is one new file with
one subclass, listed in :mod:`retainkit.models.catalogue`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from retainkit.errors import RetainkitError
from retainkit.models.fitting import (
    FLAT_ENOUGH,
    Box,
    Held,
    converged,
    hessian,
    maximum_likelihood,
    minimise,
    penalised_objective,
    ridge,
)

MIN_REPEAT_BUYERS = 2
GRADIENT_STEP = 1e-5  # central differences on the log-parameters, for models without an analytic gradient


@dataclass(frozen=True)
class Rows:
    """Distinct (x, t_x, T) rows, how many customers share each, and each customer's row."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weight: np.ndarray
    back: np.ndarray  # customer i has row back[i]

    @classmethod
    def of(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> Rows:
        """The distinct rows in lexicographic order of (x, t_x, T) (:func:`distinct_rows`)."""
        (xs, ts, Ts), back, counts = distinct_rows(x, t_x, T)
        return cls(xs, ts, Ts, counts.astype(np.float64), back)

    @classmethod
    def added(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weight: np.ndarray) -> Rows:
        """Rows of several shards put together: the same distinct rows, in the same order and
        with the same weights as :meth:`of` on all their customers at once (``back`` empty:
        the customers are in the shards)."""
        (xs, ts, Ts), weights = merge_counted(x, t_x, T, weight=weight)
        return cls(xs, ts, Ts, weights, np.zeros(0, dtype=np.int64))

    @property
    def customers(self) -> int:
        return int(self.weight.sum())

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct (x, T) pairs (x, T) and each row's pair: what an alive customer's
        expected purchases depend on (far fewer than the rows: t_x drops out)."""
        (x, T), back, _ = distinct_rows(self.x, self.T)
        return x, T, back


def distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """The distinct rows of ``columns`` in lexicographic order, each row's index among them
    and their counts. Each column is coded by its rank among its own distinct values and
    the codes make one int64 key, (code₁ · n₂ + code₂) · n₃ + code₃, which sorts as the
    rows do: a sort per column and one of integers instead of a sort of records."""
    arrays = [np.asarray(v, dtype=np.float64).ravel() for v in columns]
    values, codes = zip(*(np.unique(v, return_inverse=True) for v in arrays), strict=True)
    sizes = [len(v) for v in values]
    if float(np.prod(sizes, dtype=np.float64)) >= 2.0**62:  # no single key: sort the records
        rows, back, counts = np.unique(np.column_stack(arrays), axis=0, return_inverse=True, return_counts=True)
        return [rows[:, i] for i in range(len(arrays))], back.ravel(), counts
    key = np.zeros(len(arrays[0]), dtype=np.int64)
    for code, size in zip(codes, sizes, strict=True):
        key = key * size + code.ravel()
    keys, back, counts = np.unique(key, return_inverse=True, return_counts=True)
    found = []
    for value, size in zip(values[::-1], sizes[::-1], strict=True):
        keys, code = np.divmod(keys, size)
        found.append(value[code])
    return found[::-1], back.ravel(), counts


def merge_counted(*columns: np.ndarray, weight: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Rows of ``columns`` that stand for ``weight`` customers each (several shards' distinct
    rows, one after the other) as their distinct rows in lexicographic order and the
    weights added: what :func:`distinct_rows` and its counts give on all the customers."""
    found, back, _ = distinct_rows(*columns)
    return found, np.bincount(back, weights=np.asarray(weight, dtype=np.float64), minlength=len(found[0]))


class TransactionModel(ABC):
    """A model of repeat purchases: its name, parameters and what it predicts."""

    name: str  # as --model spells it
    label: str  # as a reader knows it: "BG/NBD"
    parameters: tuple[str, ...]  # in the order of the parameter vector
    #: False for a model whose fit at a limit is too dear (Pareto/NBD: its ₂F₁ series runs
    #: long, and SciPy's takes over, where r ~ 10⁴ or β/α runs off so that z nears 1): it is
    #: fitted only where it has an interior maximum, and says so in one line where it has none.
    fits_at_limits: bool = True

    @abstractmethod
    def log_likelihood(self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Each row's ln L(params | x, t_x, T)."""

    @abstractmethod
    def probability_alive(self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive at T | x, t_x, T)."""

    @abstractmethod
    def expected_purchases(self, params: np.ndarray, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray,
                           T: np.ndarray) -> np.ndarray:
        """E[X(T, T+t) | x, t_x, T]: purchases in the next t time units."""

    @abstractmethod
    def expected_purchases_if_alive(self, params: np.ndarray, t: float | np.ndarray, x: np.ndarray,
                                    T: np.ndarray) -> np.ndarray:
        """E[X(T, T+t) | alive at T, x, T]: expected_purchases = this × P(alive)."""

    @abstractmethod
    def expected_purchases_new(self, params: np.ndarray, t: float | np.ndarray) -> np.ndarray:
        """E[X(t)]: repeat purchases of a new customer in their first t time units."""

    @abstractmethod
    def box(self, time_scale: float) -> Box:
        """Where an estimate of the log-parameters can be; beyond, the fit ran off along a ridge."""

    def starts(self, time_scale: float) -> list[np.ndarray]:
        """Log-parameters to start the optimiser from."""
        return [np.zeros(len(self.parameters)), np.log([0.5, max(time_scale, 1.0), 1.0, 2.0])]

    def log_likelihood_and_gradient(self, rows: Rows, params: np.ndarray) -> tuple[float, np.ndarray]:
        """Σ weight · ln L and its gradient with respect to the log-parameters: by central
        differences of step :data:`GRADIENT_STEP` unless a model has the analytic one."""

        def total(theta: np.ndarray) -> float:
            return float(np.dot(rows.weight, self.log_likelihood(np.exp(theta), rows.x, rows.t_x, rows.T)))

        theta = np.log(params)
        gradient = np.empty(len(theta))
        for i in range(len(theta)):
            step = np.zeros(len(theta))
            step[i] = GRADIENT_STEP
            gradient[i] = (total(theta + step) - total(theta - step)) / (2 * GRADIENT_STEP)
        return total(theta), gradient

    def boundary_note(self, params: np.ndarray, held: tuple[Held, ...]) -> str:
        """Which limit a fit was held at, in words, for ``notes``."""
        values = ", ".join(f"{self.parameters[h.index]} held at {params[h.index]:,.6g}" for h in held)
        return (f"the purchase model ({self.label}) is fitted at a limit: its likelihood has no maximum on this "
                f"data but keeps rising toward the bound of a parameter ({values})")


def expected_purchases_rows(model: TransactionModel, params: np.ndarray, t: float, rows: Rows,
                            alive: np.ndarray | None = None) -> np.ndarray:
    """E[X(T, T+t) | x, t_x, T] of each distinct row: E[X(T, T+t) | alive, x, T], computed
    once per distinct (x, T) pair (:attr:`Rows.pairs`), × P(alive) (``alive`` when the
    caller has it already)."""
    x, T, back = rows.pairs
    if alive is None:
        alive = model.probability_alive(params, rows.x, rows.t_x, rows.T)
    return model.expected_purchases_if_alive(params, t, x, T)[back] * alive


@dataclass(frozen=True)
class Fit:
    """A fitted transaction model: parameters, log-likelihood, and the covariance of the
    log-parameters from the Hessian of −LL at the optimum (None where it is not positive
    definite: a fit at a limit)."""

    model: TransactionModel
    params: np.ndarray
    log_likelihood: float
    customers: int
    note: str = ""
    covariance: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Name, parameters, their standard errors (null at a limit), log-likelihood, customers."""
        errors = self.standard_errors()
        return {"name": self.model.name, "label": self.model.label,
                "parameters": dict(zip(self.model.parameters, map(float, self.params), strict=True)),
                "standard_errors": dict(zip(self.model.parameters, map(float, errors), strict=True))
                if errors is not None else None,
                "log_likelihood": self.log_likelihood, "customers": self.customers}

    def standard_errors(self) -> np.ndarray | None:
        """SE of each parameter by the delta method: θ·SE(ln θ)."""
        if self.covariance is None:
            return None
        return self.params * np.sqrt(np.diag(self.covariance))


def check_enough_repeaters(x: np.ndarray, label: str, weight: np.ndarray | None = None) -> None:
    """A transaction model needs customers, and at least :data:`MIN_REPEAT_BUYERS` with x > 0
    (``weight``: how many customers each value of ``x`` stands for; one each by default)."""
    counts = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=np.float64)
    customers = int(counts.sum())
    if customers == 0:
        raise RetainkitError("no customers to fit the purchase model on", "check the period (--to, --holdout)")
    repeaters = int(counts[np.asarray(x) > 0].sum())
    if repeaters < MIN_REPEAT_BUYERS:
        raise RetainkitError(
            f"only {repeaters} of {customers} customers bought more than once: too few to fit {label}",
            "use a longer period (a later --to or --holdout) or more data",
        )


def fit_model(model: TransactionModel, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *,
              penalizer: float = 0.0) -> Fit:
    """Maximum likelihood of ``model`` on log-parameters, identical rows as weights.

    The objective is −LL / n + penalizer · Σ θ² (θ the parameters; n customers), as in
    lifetimes: ``penalizer`` is per customer. The optimiser stops only where the gradient
    is flat to :data:`~retainkit.models.fitting.GRADIENT_TOLERANCE` per customer. Where the
    likelihood has no interior maximum the model is fitted at the limit it runs to and
    ``note`` says which. Raises :class:`RetainkitError` when too few customers bought
    again, or nothing converges.
    """
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    return fit_rows(model, Rows.of(x, t_x, T), penalizer=penalizer)


def fit_rows(model: TransactionModel, rows: Rows, *, penalizer: float = 0.0) -> Fit:
    """:func:`fit_model` on distinct rows and their weights — all the fit reads of the
    customers, so the rows of every shard, added (:meth:`Rows.added`), give the same fit.
    The starts scale with the mean T, Σ weight · T / Σ weight over the rows in their order."""
    check_enough_repeaters(rows.x, model.label, rows.weight)
    n = rows.customers
    time_scale = max(float(np.dot(rows.weight, rows.T)) / n, 1e-9)

    def terms(*params: float) -> tuple[float, np.ndarray]:
        return model.log_likelihood_and_gradient(rows, np.array(params))

    objective = penalised_objective(terms, penalizer, 1.0 / n)
    if model.fits_at_limits:
        found = maximum_likelihood(objective, model.starts(time_scale), model.box(time_scale), n)
    else:
        found = _interior(objective, model.starts(time_scale), model.box(time_scale), n)
    if found is None:
        raise RetainkitError(f"the purchase model ({model.label}) did not converge: the likelihood has no maximum "
                             "on this data", "try --penalizer 0.001, or a longer period with more repeat buyers")
    theta, held = found
    params = np.exp(theta)
    ll = float(np.dot(rows.weight, model.log_likelihood(params, rows.x, rows.t_x, rows.T)))
    note = model.boundary_note(params, held) if held else ""
    return Fit(model, params, ll, n, note, None if held else covariance(objective, theta, n))


class _RanOffError(Exception):
    """The optimiser stepped out of the box: no interior maximum on its way."""


class _StalledError(Exception):
    """The objective stopped falling: the best point the optimiser reached."""

    def __init__(self, theta: np.ndarray) -> None:
        super().__init__()
        self.theta = theta


INTERIOR_ITERATIONS = 300  # L-BFGS-B steps per start for a model fitted only inside its box
#: Evaluations in a row that lower the objective by less than a relative STALL_TOLERANCE end
#: an interior fit: on a ridge L-BFGS-B can creep on for hundreds of steps short of its tolerance.
STALL_EVALUATIONS = 20
STALL_TOLERANCE = 1e-14


def _interior(objective, starts: list[np.ndarray], box: Box, customers: int) -> tuple[np.ndarray, tuple[()]] | None:
    """The interior maximum, or None when the fit runs out of ``box``, along a ridge, or
    does not converge in :data:`INTERIOR_ITERATIONS` steps. A fit whose objective has
    stalled for :data:`STALL_EVALUATIONS` evaluations stops there and is judged as it is:
    a flat gradient (:data:`~retainkit.models.fitting.FLAT_ENOUGH`) and no ridge."""
    best_value, best_theta, since = np.inf, np.zeros(0), 0

    def inside(theta: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal best_value, best_theta, since
        if box.outside(theta):
            raise _RanOffError
        value, gradient = objective(theta)
        since = 0 if value < best_value - STALL_TOLERANCE * (1 + abs(best_value)) else since + 1
        if value < best_value:
            best_value, best_theta = value, np.array(theta)
        if since >= STALL_EVALUATIONS:
            raise _StalledError(best_theta)
        return value, gradient

    try:
        best = minimise(inside, starts, box.outside, iterations=INTERIOR_ITERATIONS, polish=False)
    except _RanOffError:
        return None
    except _StalledError as stalled:
        flat = float(np.max(np.abs(objective(stalled.theta)[1]))) <= FLAT_ENOUGH
        return (stalled.theta, ()) if flat and not ridge(objective, stalled.theta, customers) else None
    if best is None or box.outside(best.x) or not converged(best) or ridge(objective, best.x, customers):
        return None
    return best.x, ()


def covariance(objective, theta: np.ndarray, customers: int) -> np.ndarray | None:
    """The inverse of the Hessian of −LL (``objective`` × customers) at ``theta``: the
    asymptotic covariance of the log-parameters; None unless positive definite."""
    with np.errstate(all="ignore"):
        matrix = hessian(objective, theta) * customers
    if not np.all(np.isfinite(matrix)):
        return None
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(matrix)
