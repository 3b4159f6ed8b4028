"""A book's split across chains: intervals that hold across seeds, ties, rounding, out-of-sample ES."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from seqrisk.decide import allocate_book, cvar, scenario_losses
from seqrisk.decide.measures import measure
from seqrisk.decide.placement import fresh_seed, round_share
from seqrisk.engine import Scenario
from seqrisk.exceptions import UsageError
from seqrisk.outage import ChainOutageLaw, DurationLaw, OutageModel
from seqrisk.portfolio import Book, book_from_dict

LAW = DurationLaw("lognormal", {"median_s": 7200.0, "sigma": 1.0})
CHAINS = ["arbitrum", "base", "optimism"]
SEEDS = range(5)


def _model() -> OutageModel:
    # arbitrum and optimism alike, base ten times safer: base fills its cap, the rest is a tie
    return OutageModel(chains={c: ChainOutageLaw(c, {"downtime": r}, {"downtime": LAW})
                               for c, r in (("arbitrum", 3.0), ("base", 0.3), ("optimism", 3.0))})


def _book() -> Book:
    return book_from_dict({"assets": {"ETH": {"spot_usd": 2000.0, "vol": 0.8}}, "positions": [
        {"id": "a", "chain": "arbitrum", "type": "perp", "asset": "ETH", "side": "long", "notional_usd": 1e6,
         "leverage": 10}]}, chains=CHAINS)


def _sc(seed: int) -> Scenario:
    return Scenario(paths=4000, seed=seed, horizon_s=90 * 86400.0)


@pytest.fixture(scope="module")
def runs() -> dict[int, object]:
    return {s: allocate_book(_book(), _model(), _sc(s), CHAINS, max_weight=0.5) for s in SEEDS}


def test_shares_change_across_seeds_only_within_their_intervals(runs: dict[int, object]) -> None:
    for a, b in itertools.combinations(SEEDS, 2):
        for c in CHAINS:
            sa, sb = runs[a].shares[c], runs[b].shares[c]  # type: ignore[attr-defined]
            # the two runs' intervals overlap: each run's share is consistent with the other's
            assert abs(sa.value - sb.value) <= (sa.high - sa.low) / 2 + (sb.high - sb.low) / 2 + 1e-9, (a, b, c)
    # and the intervals are not just wide: the standard error predicts the spread across seeds
    for c in ("arbitrum", "optimism"):
        spread = np.std([runs[s].shares[c].value for s in SEEDS], ddof=1)  # type: ignore[attr-defined]
        predicted = np.mean([runs[s].shares[c].se for s in SEEDS])  # type: ignore[attr-defined]
        assert predicted / 3 < spread < 3 * predicted, (c, spread, predicted)


def test_interchangeable_chains_are_declared_tied(runs: dict[int, object]) -> None:
    for s in SEEDS:
        r = runs[s]
        base = r.shares["base"]  # type: ignore[attr-defined]
        # base fills its cap: the cap lies inside the share's interval in every seed (the point may sit below it)
        assert base.low - 1e-9 <= 0.5 <= base.high + 1e-9 and base.value > 0.3
        ties = {(a, b): t for a, b, t in r.ties}  # type: ignore[attr-defined]
        if r.shares["base"].se < 0.01:  # type: ignore[attr-defined]  # base pinned at its cap in every replication
            assert ("arbitrum", "optimism") in ties
            together = ties[("arbitrum", "optimism")]
            assert together.value == pytest.approx(0.5, abs=0.01) and together.high - together.low < 0.05
    assert sum(("arbitrum", "optimism") in {(a, b) for a, b, _ in runs[s].ties} for s in SEEDS) >= 3  # type: ignore


def test_shares_are_rounded_to_what_the_error_supports(runs: dict[int, object]) -> None:
    assert round_share(0.4237, 0.004) == (pytest.approx(0.42), 0.01)
    assert round_share(0.4237, 0.12) == (pytest.approx(0.4), 0.1)
    assert round_share(0.4337, 0.06) == (pytest.approx(0.45), 0.05)
    for r in runs.values():
        for s in r.shares.values():  # type: ignore[attr-defined]
            half = (s.high - s.low) / 2
            assert s.step <= max(half, 0.01) + 1e-12
            assert abs(s.shown - s.value) <= s.step / 2 + 1e-9 or s.shown in (0.0, 0.5)


def test_split_is_scored_out_of_sample_on_fresh_paths(runs: dict[int, object]) -> None:
    r = runs[0]
    assert r.seed_out_of_sample == fresh_seed(0) != 0  # type: ignore[attr-defined]
    loss, p = scenario_losses(_book(), _model(), _sc(fresh_seed(0)), CHAINS)
    w = np.array([r.weights[c] for c in CHAINS])  # type: ignore[attr-defined]
    assert r.es_out_of_sample.value == pytest.approx(measure(loss @ w, "es99", p)[0].value)  # type: ignore
    # the yardstick on the same fresh paths: the equal split
    assert r.equal_split_es_out_of_sample.value == pytest.approx(  # type: ignore[attr-defined]
        measure(loss.mean(axis=1), "es99", p)[0].value)
    loss0, p0 = scenario_losses(_book(), _model(), _sc(0), CHAINS)
    assert r.es_in_sample.value == pytest.approx(measure(loss0 @ w, "es99", p0)[0].value)  # type: ignore
    # the LP's own in-sample optimum: the Rockafellar-Uryasev value on all paths, no-outage mass as one row
    lp = r.lp  # type: ignore[attr-defined]
    n = loss0.shape[0]
    m = np.vstack([loss0, np.zeros((1, 3))])
    probs = np.concatenate([p0 / n, [1 - p0.sum() / n]])
    w_lp = np.array([lp.weights[c] for c in CHAINS])
    assert lp.es_usd == pytest.approx(cvar(m @ w_lp, 0.99, probs), rel=1e-9)
    assert lp.es_usd <= cvar(m.mean(axis=1), 0.99, probs) + 1e-6  # the equal split is feasible under the cap


def test_the_optimum_method_has_the_wider_interval_and_bad_input_is_refused() -> None:
    avg = allocate_book(_book(), _model(), _sc(1), CHAINS, max_weight=0.5)
    opt = allocate_book(_book(), _model(), _sc(1), CHAINS, max_weight=0.5, method="optimum")
    assert opt.method == "optimum" and avg.method == "averaged"
    assert opt.shares["arbitrum"].se > 2 * avg.shares["arbitrum"].se
    assert sum(opt.weights.values()) == pytest.approx(1.0) and sum(avg.weights.values()) == pytest.approx(1.0)
    assert opt.other_method_es_out_of_sample.value == pytest.approx(avg.es_out_of_sample.value)
    with pytest.raises(UsageError):
        allocate_book(_book(), _model(), _sc(1), CHAINS, method="best")
    with pytest.raises(UsageError):
        allocate_book(_book(), _model(), _sc(1), CHAINS, perspective="total")
