"""One conformance check over every fitter: keyword-only init, fit returns self, summary, NotFittedError."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from seqrisk.exceptions import NotFittedError
from seqrisk.stats import DurationFitter, GammaPoissonPooling, HawkesFitter, VolatilityCoupling, simulate_hawkes

_rng = np.random.default_rng(0)
_x = np.exp(8 + _rng.standard_normal(30))
_vol = np.log(0.6) + _rng.normal(0, 0.4, 300)

CASES = [
    (DurationFitter, {"family": "weibull"}, lambda f: f.fit(_x, _x)),
    (GammaPoissonPooling, {"level": 0.9}, lambda f: f.fit([0, 2, 5, 1], [1.0, 2.0, 3.0, 1.5])),
    (HawkesFitter, {"level": 0.9}, lambda f: f.fit(simulate_hawkes(0.5, 0.3, 1.0, 200, seed=1), 200)),
    (VolatilityCoupling, {"level": 0.9},
     lambda f: f.fit(_vol, np.ones((3, 300)), _rng.poisson(0.02, (3, 300)))),
]


@pytest.mark.parametrize(("cls", "kwargs", "fit"), CASES, ids=[c[0].__name__ for c in CASES])
def test_fitter_conformance(cls, kwargs, fit) -> None:
    params = inspect.signature(cls.__init__).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in params.items() if n != "self")
    est = cls(**kwargs)
    for k, v in kwargs.items():
        assert getattr(est, k) == v                      # __init__ only stores its arguments
    assert not [a for a in vars(est) if a.endswith("_")]  # nothing learned before fit
    with pytest.raises(NotFittedError):
        est.summary()
    assert fit(est) is est
    assert [a for a in vars(est) if a.endswith("_") and not a.startswith("_")]
    s = est.summary()
    assert isinstance(s, pd.DataFrame) and len(s) > 0
