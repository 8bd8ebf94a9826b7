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


def alive_grid(fit: Fit, x: np.ndarray, T: np.ndarray, time_unit_days: float) -> dict[str, Any]:
    """P(alive) of a customer observed for the longest T, over frequency (0 to the 99th
    percentile of x) × purchase span (0 to T): the model's map of who is still a customer."""
    age = float(np.max(T)) if len(T) else 0.0
    most = max(1, int(np.ceil(np.quantile(x, 0.99)))) if len(x) else 1
    frequency = np.unique(np.linspace(0, most, min(GRID, most + 1)).round())
    span = np.linspace(0, age, GRID)
    grid_x, grid_t = np.meshgrid(frequency, span, indexing="ij")
    alive = fit.model.probability_alive(fit.params, grid_x.ravel(), grid_t.ravel(), np.full(grid_x.size, age))
    return {"frequency": frequency.tolist(), "purchase_span_days": (span * time_unit_days).tolist(),
            "age_days": age * time_unit_days, "p_alive": alive.reshape(grid_x.shape).tolist()}
