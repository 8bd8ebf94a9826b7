"""P(alive) over frequency × purchase span: the model's map of who is still a customer
(SPEC §6), for ``predict --plot`` and the report's "Who will buy again".

Without SciPy's statistics (:mod:`retainkit.models.intervals`): the report imports this
and the models, not the whole of :mod:`retainkit.models.predict`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retainkit.models.transaction import Fit

GRID = 25  # points per axis of the P(alive) chart


def alive_grid(fit: Fit, x: np.ndarray, T: np.ndarray, time_unit_days: float,
               weight: np.ndarray | None = None) -> dict[str, Any]:
    """P(alive) of a customer observed for the longest T, over frequency (0 to the 99th
    percentile of x) × purchase span (0 to T): the model's map of who is still a customer.
    ``weight``: how many customers each (x, T) stands for (distinct rows; one each by default)."""
    counts = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=np.float64)
    age = float(np.max(T)) if len(T) else 0.0
    most = max(1, int(np.ceil(weighted_quantile(x, counts, 0.99)))) if counts.sum() > 0 else 1
    frequency = np.unique(np.linspace(0, most, min(GRID, most + 1)).round())
    span = np.linspace(0, age, GRID)
    grid_x, grid_t = np.meshgrid(frequency, span, indexing="ij")
    alive = fit.model.probability_alive(fit.params, grid_x.ravel(), grid_t.ravel(), np.full(grid_x.size, age))
    return {"frequency": frequency.tolist(), "purchase_span_days": (span * time_unit_days).tolist(),
            "age_days": age * time_unit_days, "p_alive": alive.reshape(grid_x.shape).tolist()}


def weighted_quantile(values: np.ndarray, weight: np.ndarray, q: float) -> float:
    """``numpy.quantile(v, q)`` (its default, linear method) of the values ``v`` that repeat
    each of ``values`` ``weight`` times, without making them: the place (n − 1)·q among the
    n sorted values, between the values at its floor and the next place, interpolated as
    NumPy does (from the upper value when the fraction is ½ or more).

    >>> v, w = np.array([3.0, 1.0, 2.0]), np.array([1, 2, 4])
    >>> weighted_quantile(v, w, 0.35) == float(np.quantile(np.repeat(v, w), 0.35))
    True
    """
    order = np.argsort(values, kind="stable")
    sorted_values, counts = np.asarray(values, dtype=np.float64)[order], np.asarray(weight, dtype=np.float64)[order]
    ends = np.cumsum(counts)  # the last place (1-based) of each value
    n = int(ends[-1])
    place = (n - 1) * q
    below = float(np.floor(place))
    gamma = place - below

    def at(position: float) -> float:
        return float(sorted_values[np.searchsorted(ends, min(position, n - 1) + 1)])

    a, b = at(below), at(below + 1)
    step = b - a
    return b - step * (1 - gamma) if gamma >= 0.5 else a + step * gamma
