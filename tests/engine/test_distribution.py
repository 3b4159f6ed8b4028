"""Weighted results: path weights, and the loss distribution from kept paths or from the tail plus a sample."""

from __future__ import annotations

import numpy as np
import pytest

from seqrisk.engine import Scenario, simulate

from .conftest import lognormal_model, make_book


def _run(keep: bool, paths: int = 60_000, engine: str = "auto"):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    pos = [{"id": f"p{i}", "type": "perp", "chain": "arbitrum", "asset": "ETH",
            "size": float(rng.choice([-1.0, 1.0]) * rng.lognormal(3.0, 1.0)), "leverage": float(rng.uniform(3, 15))}
           for i in range(60)]
    book = make_book(pos, depth=1e8)
    model = lognormal_model({"arbitrum": 0.05}, median_s=4 * 3600.0)
    sc = Scenario(paths=paths, seed=8, horizon_s=30 * 86400.0, keep_paths=keep, engine=engine,  # type: ignore[arg-type]
                  cost_of_capital=0.0)
    return simulate(book, model, sc)


@pytest.mark.parametrize("engine", ["kernel", "numpy"])
def test_path_weights_give_the_expected_loss(engine: str) -> None:
    res = _run(True, 20_000, engine)
    pl = res.path_losses()
    el, _se = res.value("expected_loss")
    assert pl.weight.sum() == pytest.approx(pl.p_event.mean(), rel=1e-12)
    assert float((pl.weight * pl.holder_attributable).sum()) == pytest.approx(el, rel=1e-9)
    # conditional sampling: every row holds an outage, so the plain mean overstates the loss by 1 / P(outage)
    assert pl.holder_attributable.mean() == pytest.approx(el / pl.p_event.mean(), rel=1e-9)
    assert pl.p_event.mean() < 0.8
    dist = res.loss_distribution()
    assert dist.mean() == pytest.approx(el, rel=1e-9)
    for lv in (0.95, 0.99, 0.999):
        assert float(dist.quantile(lv)) == pytest.approx(res.value("var", level=lv)[0], rel=1e-9, abs=1e-9)


def test_distribution_without_kept_paths_is_exact_in_the_tail() -> None:
    kept, lean = _run(True), _run(False)
    full, part = kept.loss_distribution(), lean.loss_distribution()
    assert np.isfinite(part.exact_from)
    x = full.values[full.values >= part.exact_from]
    assert x.size > 10
    np.testing.assert_allclose(part.exceedance(x), full.exceedance(x), rtol=1e-9, atol=1e-15)
    for lv in (0.99, 0.999):
        assert float(part.quantile(lv)) == pytest.approx(float(full.quantile(lv)), rel=1e-12)
    el, se = lean.value("expected_loss")
    assert abs(part.mean() - el) < 4 * se  # the body is a sample
    probs, edges = part.histogram(30)
    assert probs.sum() == pytest.approx(1.0)
    assert edges.size == 31
    _xs, ex = part.curve()
    assert np.all(np.diff(ex) <= 1e-15)
    assert part.values.size < 30_000  # bounded whatever the number of paths


def test_path_losses_need_keep_paths() -> None:
    from seqrisk.exceptions import UsageError

    with pytest.raises(UsageError, match="keep_paths"):
        _run(False, 4096).path_losses()
