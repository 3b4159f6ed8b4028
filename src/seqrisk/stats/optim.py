"""Optimisation helpers shared by the fitters: bounded minimisation and the observed information.

Both wrap SciPy: :func:`minimize_bounded` is ``scipy.optimize.minimize``
(SLSQP) inside a box; :func:`observed_information` is the Hessian of a
negative log-likelihood by ``scipy.differentiate.hessian`` (adaptive finite
differences with an error estimate), its inverse the asymptotic covariance.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import optimize
from scipy.differentiate import hessian

from seqrisk._typing import FloatArray

__all__ = ["covariance_from_hessian", "minimize_bounded", "observed_information"]


def minimize_bounded(f: Any, x0: Any, bounds: Sequence[tuple[float, float]]) -> Any:
    """Minimise ``f`` within box ``bounds`` (SLSQP: for these few-parameter likelihoods it needs the
    same evaluations as L-BFGS-B at a fraction of the overhead); returns scipy's result."""
    x0 = np.clip(np.asarray(x0, dtype=float), [b[0] for b in bounds], [b[1] for b in bounds])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # SLSQP may probe values at the box's edge
        return optimize.minimize(f, x0, method="SLSQP", bounds=bounds, options={"ftol": 1e-12, "maxiter": 500})


def observed_information(f: Callable[[FloatArray], float], x: FloatArray, *, step: float = 0.02) -> FloatArray:
    """Hessian of the scalar function ``f`` (a negative log-likelihood) at ``x``.

    ``scipy.differentiate.hessian`` with a fourth-order central formula, two
    step refinements (initial step ``step`` in the parameters' own units, the
    log or logit scale here) and a relative tolerance of 1e-3: the standard
    errors it feeds need three digits, not ten.
    """
    x = np.asarray(x, dtype=float)

    def vec(xi: FloatArray) -> FloatArray:
        out = np.empty(xi.shape[1:])
        for idx in np.ndindex(*xi.shape[1:]):
            out[idx] = f(xi[(slice(None), *idx)])
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = hessian(vec, x, order=4, maxiter=2, initial_step=step, step_factor=4.0,
                      tolerances={"rtol": 1e-3})
    h = np.asarray(res.ddf, dtype=float)
    return 0.5 * (h + h.T)


def covariance_from_hessian(h: FloatArray, floor: float = 1e-6) -> FloatArray:
    """Inverse of an observed information matrix, made a valid covariance: symmetric, with eigenvalues at least
    ``floor`` (a pseudo-inverse when it is singular; a direction of negative curvature, e.g. at a bound, keeps
    the magnitude of its eigenvalue). A parameter the data barely identify gets a wide but usable spread."""
    h = np.where(np.isfinite(h), h, 0.0)
    h = 0.5 * (h + h.T)
    try:
        cov = np.linalg.inv(h)
        if not np.all(np.isfinite(cov)):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(h)
        cov = np.where(np.isfinite(cov), cov, 0.0)
    cov = 0.5 * (cov + cov.T)
    w, v = np.linalg.eigh(cov)
    if np.any(w < floor):
        cov = (v * np.maximum(np.abs(w), floor)) @ v.T
    return np.asarray(cov)
