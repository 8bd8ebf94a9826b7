"""Maximum likelihood for BG/NBD and Gamma-Gamma: the optimiser, the test for a ridge (a
flat direction of the likelihood) and the fit at the boundary where the likelihood has no
interior maximum (SPEC §6).

Both models mix a simple law over customers (a Gamma for purchase rates or spend, a Beta
for the dropout chance). When the data show no difference between customers in one of
these, the likelihood keeps rising as the mixing distribution collapses to a point — its
shape parameter → ∞ (or a mean → 0) — and has no maximum inside the parameter space.
The maximum-likelihood estimate is then the limiting model on the boundary, which is
what :func:`fit_at_boundary` fits: each parameter is confined to a box of log-values
(:class:`Box`) whose edges stand for those limits (a shape of 10⁴: a coefficient of
variation of 1 %), the optimiser runs inside it, and the parameters that end on an edge,
pushed outwards by the likelihood, are reported as *held* there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]

GRADIENT_TOLERANCE = 1e-10  # per customer, on the log-parameters: what L-BFGS-B aims for
FLAT_ENOUGH = 1e-6  # per customer: a stop short of GRADIENT_TOLERANCE at this is rounding, not a failure
#: A ridge: a direction along which the parameters can change tenfold while the log-likelihood
#: falls by less than this — half the 95 % point of χ²₁, the likelihood-ratio test's bound.
#: Such a change is not one the data can tell from chance.
INDISTINGUISHABLE = 1.92
TENFOLD = float(np.log(10.0))
ON_EDGE = 1e-7  # a log-parameter this close to its bound is on it


@dataclass(frozen=True)
class Box:
    """Bounds on the log-parameters; outside them a fit has run off along a ridge."""

    lower: np.ndarray
    upper: np.ndarray

    def outside(self, theta: np.ndarray) -> bool:
        """True when ``theta`` is not finite or beyond a bound (more than rounding)."""
        if not np.all(np.isfinite(theta)):
            return True
        return bool(np.any(theta < self.lower - ON_EDGE) or np.any(theta > self.upper + ON_EDGE))

    def clip(self, theta: np.ndarray) -> np.ndarray:
        return np.clip(np.where(np.isfinite(theta), theta, 0.0), self.lower, self.upper)


@dataclass(frozen=True)
class Held:
    """A parameter held on the boundary by :func:`fit_at_boundary`: its index and side."""

    index: int
    upper: bool


def minimise(objective: Objective, starts: list[np.ndarray], ran_off: Callable[[np.ndarray], bool] | None = None,
             *, iterations: int = 2000, polish: bool = True) -> optimize.OptimizeResult | None:
    """L-BFGS-B with the analytic gradient from each start, run until the gradient is flat
    to :data:`GRADIENT_TOLERANCE` or the value stops falling at all (``ftol=0``) — not
    until one step changes the value by a relative 2·10⁻⁹, SciPy's default, which stops
    short on the flat valleys of these likelihoods (CDNOW's α and b then miss the 4th
    decimal). Nelder-Mead on the value only where that fails, unless ``ran_off`` says the
    point is already out on a ridge (polishing there costs thousands of evaluations and
    finds no maximum), and not at all without ``polish``. ``iterations`` caps L-BFGS-B's
    per start. The starts are tried in turn until one converges inside the box (``ran_off``
    false): the first such result, else the best finite one, or None."""
    best = None
    for start in starts:
        with np.errstate(all="ignore"):
            result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                                       options={"ftol": 0.0, "gtol": GRADIENT_TOLERANCE, "maxiter": iterations,
                                                "maxcor": 20})
            if polish and not converged(result) and not (ran_off is not None and ran_off(result.x)):
                result = _polish(objective, result, start, None)
                result.jac = objective(result.x)[1]
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
        if converged(result) and not (ran_off is not None and ran_off(result.x)):
            return result
    return best


def converged(result: optimize.OptimizeResult, box: Box | None = None) -> bool:
    """Finite, and either SciPy's own success or a (projected) gradient flat to
    :data:`FLAT_ENOUGH` (L-BFGS-B's line search gives up, "ABNORMAL", when rounding hides
    any further gain)."""
    if not (np.isfinite(result.fun) and np.all(np.isfinite(result.x))):
        return False
    return bool(result.success) or float(np.max(np.abs(projected(result.jac, result.x, box)))) <= FLAT_ENOUGH


def projected(gradient: np.ndarray, theta: np.ndarray, box: Box | None) -> np.ndarray:
    """The gradient with the components that push a parameter out through its bound zeroed."""
    if box is None:
        return np.asarray(gradient)
    pushed_down = (theta <= box.lower + ON_EDGE) & (gradient > 0)  # minimising: steps go against the gradient
    pushed_up = (theta >= box.upper - ON_EDGE) & (gradient < 0)
    return np.where(pushed_down | pushed_up, 0.0, gradient)


def _polish(objective: Objective, result: optimize.OptimizeResult, start: np.ndarray,
            bounds: list[tuple[float, float]] | None) -> optimize.OptimizeResult:
    """Nelder-Mead from where L-BFGS-B stopped (or from ``start`` if that is not finite)."""
    origin = result.x if np.all(np.isfinite(result.x)) else start
    return optimize.minimize(lambda theta: objective(theta)[0], origin, method="Nelder-Mead", bounds=bounds,
                             options={"maxiter": 4000, "xatol": 1e-10, "fatol": 1e-14})


_LAST_HESSIAN: list[tuple[Objective, bytes, float, np.ndarray]] = []  # the ridge test's, for the covariance


def hessian(objective: Objective, theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """The Hessian of ``objective`` at ``theta``: central differences of its analytic gradient,
    ∂²f/∂θᵢ∂θⱼ ≈ [∂ⱼf(θ + h eᵢ) − ∂ⱼf(θ − h eᵢ)] / 2h, symmetrised (2k gradients, k
    parameters). The last one is kept: the ridge test and the covariance of a fit ask for
    the same matrix."""
    key = np.asarray(theta, dtype=np.float64).tobytes()
    for held, at, width, matrix in _LAST_HESSIAN:
        if held is objective and at == key and width == step:
            return matrix.copy()
    columns = []
    for i in range(len(theta)):
        shift = np.zeros(len(theta))
        shift[i] = step
        columns.append((objective(theta + shift)[1] - objective(theta - shift)[1]) / (2 * step))
    matrix = np.array(columns)
    matrix = (matrix + matrix.T) / 2
    _LAST_HESSIAN[:] = [(objective, key, step, matrix.copy())]
    return matrix


def ridge(objective: Objective, theta: np.ndarray, customers: int) -> bool:
    """True when the likelihood is flat along some direction at ``theta``: moving the
    log-parameters by ln 10 along the Hessian's flattest eigenvector lowers the total
    log-likelihood by less than :data:`INDISTINGUISHABLE` (``objective`` is per customer),
    or the point is no maximum at all."""
    with np.errstate(all="ignore"):
        matrix = hessian(objective, theta)
    if not np.all(np.isfinite(matrix)):
        return True
    flattest = float(np.linalg.eigvalsh(matrix)[0])
    return customers * flattest * TENFOLD**2 / 2 < INDISTINGUISHABLE


def maximum_likelihood(objective: Objective, starts: list[np.ndarray], box: Box,
                       customers: int) -> tuple[np.ndarray, tuple[Held, ...]] | None:
    """The log-parameters that minimise ``objective`` (the negative log-likelihood per
    customer) and the parameters held on the boundary, or None when nothing converges.

    First :func:`minimise` without bounds; its result stands when it is inside ``box`` and
    no :func:`ridge` runs through it. Otherwise (the fit ran off, or stopped on a flat
    stretch) :func:`fit_at_boundary`; an interior point stands where that finds no better."""
    best = minimise(objective, starts, box.outside)
    interior = best is not None and not box.outside(best.x)
    if best is not None and interior and not ridge(objective, best.x, customers):
        return best.x, ()
    boundary = fit_at_boundary(objective, ([best.x] if best is not None else []) + starts, box)
    if boundary is None:
        return (best.x, ()) if best is not None and interior else None
    result, held = boundary
    if not held and best is not None and interior and best.fun <= result.fun:
        return best.x, ()
    return result.x, held


def fit_at_boundary(objective: Objective, starts: list[np.ndarray],
                    box: Box) -> tuple[optimize.OptimizeResult, tuple[Held, ...]] | None:
    """The maximum inside ``box`` and the parameters held on its edges (pushed outwards by
    the likelihood), or None when no start reaches a converged, finite point.

    L-BFGS-B inside the box from each start in turn until one converges, restarted from
    where it stopped while it has not converged (its memory of the curvature goes stale
    where a ridge bends); Nelder-Mead and one more restart only when no start converges.
    :func:`maximum_likelihood` puts first where the unbounded run ended: on a ridge the
    maximum in the box is usually a few steps from there."""
    bounds = list(zip(box.lower, box.upper, strict=True))
    ends = []
    for start in starts:
        result = _restarted(objective, box.clip(start), box, bounds)
        if np.isfinite(result.fun):
            ends.append(result)
        if converged(result, box):
            break
    done = [r for r in ends if converged(r, box)]
    if not done and ends:
        with np.errstate(all="ignore"):
            polished = _polish(objective, min(ends, key=lambda r: r.fun), starts[0], bounds)
        again = _restarted(objective, box.clip(polished.x), box, bounds)
        done = [again] if converged(again, box) else stalled_alike(ends)  # ends: one per start
    if not done:
        return None
    best = min(done, key=lambda r: r.fun)
    gradient = objective(best.x)[1]
    held = tuple(Held(i, upper=bool(best.x[i] >= box.upper[i] - ON_EDGE)) for i in range(len(best.x))
                 if (best.x[i] <= box.lower[i] + ON_EDGE and gradient[i] > 0)
                 or (best.x[i] >= box.upper[i] - ON_EDGE and gradient[i] < 0))
    return best, held


RESTARTS = 4
#: Ends of the optimiser whose objectives (per customer) differ by less than this, relative,
#: reached the same maximum: what is left between them is rounding.
SAME_VALUE = 1e-9


def stalled_alike(ends: list[optimize.OptimizeResult]) -> list[optimize.OptimizeResult]:
    """The best of ``ends`` when another end, from another start, stopped at the same value
    to :data:`SAME_VALUE` (relative): ``[best]``, else ``[]``.

    Near a boundary the parameters run to 10⁵ or more, and the analytic gradient carries
    rounding of 10⁻⁶ per customer or more, which depends on the CPU's vector instructions
    (AVX-512 or not). L-BFGS-B's line search then gives up short of :data:`FLAT_ENOUGH`
    from every start, yet every start ends at the same value: that value is the maximum,
    to rounding, and the best end stands for it."""
    finite = sorted((r for r in ends if np.isfinite(r.fun) and np.all(np.isfinite(r.x))), key=lambda r: r.fun)
    if len(finite) < 2:
        return []
    best, runner_up = finite[0], finite[1]
    return [best] if runner_up.fun - best.fun <= SAME_VALUE * max(1.0, abs(best.fun)) else []


def _restarted(objective: Objective, start: np.ndarray, box: Box,
               bounds: list[tuple[float, float]]) -> optimize.OptimizeResult:
    """L-BFGS-B inside ``bounds`` from ``start``, up to :data:`RESTARTS` times until converged."""
    for _ in range(RESTARTS):
        with np.errstate(all="ignore"):
            result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                       options={"ftol": 0.0, "gtol": GRADIENT_TOLERANCE, "maxiter": 2000,
                                                "maxcor": 20})
        if converged(result, box) or not np.all(np.isfinite(result.x)):
            break
        start = result.x
    return result


def penalised_objective(
    log_likelihood_and_gradient: Callable[..., tuple[float, np.ndarray]], penalizer: float, scale: float
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """What the optimiser minimises over θ = log(parameters): −``scale`` · LL + penalizer ·
    Σ exp(θ)², with its gradient (the likelihood's own gradient is with respect to θ).
    ``scale`` is 1 / customers, so the penalizer weighs against the likelihood *per
    customer*, as lifetimes' ``penalizer_coef`` does: the same value steadies a fit on 300
    customers and one on 3 million alike."""

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        ll, gradient = log_likelihood_and_gradient(*params)
        penalty = penalizer * params**2
        return -scale * ll + float(penalty.sum()), -scale * gradient + 2 * penalty

    return objective
