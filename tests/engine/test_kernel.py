"""The compiled kernel against the vectorised twin, the direct cascade and NumPy's seeding.

The kernel and the twin (``sampling`` + ``losses``) draw from different
random streams (the kernel's are sequential per path within a block, the
twin's vectorised per block), so whole runs are compared in distribution
(z-scores of independent runs), while the kernel's cascade on the prefix
state is compared exactly with :func:`seqrisk.engine.run_cascade`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from seqrisk.engine import BLOCK_PATHS, Scenario, StressOutage, run_cascade, simulate
from seqrisk.outage import ChainOutageLaw, CommonShock, DurationLaw, OutageModel

from .conftest import make_book

pytest.importorskip("numba")


def test_block_seeds_are_numpys_seed_sequence() -> None:
    from seqrisk.engine.kernel_rng import entropy_words, seed_state

    st = np.zeros(5, np.uint64)
    for seed in (0, 7, 12345, 2**40 + 7, 2**70 + 3):
        for block in (0, 1, 4095, 2**33):
            for stream in (0, 2, 5):
                seed_state(entropy_words(seed), block, stream, st)
                ss = np.random.SeedSequence(seed, spawn_key=(block, stream) if stream else (block,))
                np.testing.assert_array_equal(st[:4], ss.generate_state(4, np.uint64))


def test_kernel_normals_and_uniforms() -> None:
    from numba import njit
    from scipy import stats

    from seqrisk.engine.kernel_rng import entropy_words, normal, seed_state, uniform

    @njit
    def draw(st: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        sp = np.zeros(1)
        u, z = np.empty(n), np.empty(n)
        for i in range(n):
            u[i] = uniform(st)
            z[i] = normal(st, sp)
        return u, z

    st = np.zeros(5, np.uint64)
    seed_state(entropy_words(3), 0, 2, st)
    u, z = draw(st, 400_000)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 5 / math.sqrt(z.size)


def _random_side(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"side": np.where(rng.random(n) < 0.5, 1.0, -1.0), "units": rng.lognormal(math.log(50.0), 1.0, n),
            "lev": rng.uniform(2.0, 12.5, n)}


@pytest.mark.parametrize("seed", range(6))
def test_prefix_cascade_equals_the_direct_cascade(seed: int) -> None:
    """The kernel's cascade on sorted sides, after an earlier outage closed a prefix, against run_cascade."""
    from seqrisk.engine.kernel_cascade import cascade

    rng = np.random.default_rng(seed)
    n, nm = 300, 40
    b = _random_side(rng, n)
    m = _random_side(rng, nm)
    mm, pen = 0.05, 0.05
    r_book = np.where(b["side"] > 0, (1 - 1 / b["lev"]) / (1 - mm), (1 + 1 / b["lev"]) / (1 + mm))
    r_mkt = np.where(m["side"] > 0, (1 - 1 / m["lev"]) / (1 - mm), (1 + 1 / m["lev"]) / (1 + mm))
    key, idx, cb, cm, side_off, eu, ef = [], [], [], [], [0], [], []
    for long in (True, False):
        sb, sm = (b["side"] > 0) == long, (m["side"] > 0) == long
        kk = np.concatenate([r_book[sb], r_mkt[sm]]) * (-1 if long else 1)
        ii = np.concatenate([np.flatnonzero(sb), np.full(sm.sum(), -1)])
        ub = np.concatenate([b["units"][sb], np.zeros(sm.sum())])
        um = np.concatenate([np.zeros(sb.sum()), m["units"][sm]])
        o = np.argsort(kk, kind="stable")
        key.append(kk[o])
        idx.append(ii[o])
        eu.append(ub[o])
        ef.append(np.concatenate([1 / b["lev"][sb], np.zeros(sm.sum())])[o])
        cb.append(np.concatenate([[0.0], np.cumsum(ub[o])]))
        cm.append(np.concatenate([[0.0], np.cumsum(um[o])]))
        side_off.append(side_off[-1] + o.size)
    sides = (np.array(side_off), np.concatenate(key), np.concatenate(idx), np.concatenate(cb), np.concatenate(cm),
             np.concatenate(eu), np.concatenate(ef), np.full(len(np.concatenate(idx)), pen))
    ent = sides[2]
    n_ent = ent.size
    eta, adv, p0 = 0.1, 2e7, 2000.0
    closed_book = np.zeros(n, bool)
    closed = np.zeros(2, np.int64)
    n_liq = 0
    direct_acc = np.zeros((4, n_ent))
    ph_sum, pl_sum = np.zeros(n), np.zeros(n)
    for p1 in p0 * (1 + rng.choice([-1.0, 1.0]) * rng.uniform(0.04, 0.12, 3)):
        ph_e, pv_e, pl_e = np.zeros(n_ent), np.zeros(n_ent), np.zeros(n_ent)
        touched, is_t = np.zeros(n_ent, np.int64), np.zeros(n_ent, bool)
        res, res_direct = np.zeros(8), np.zeros(8)
        closed_before = closed.copy()
        # the same cascade with its per-position terms written straight to the block sums (weight 0.5)
        cascade(0, p0, p1, p1, False, 1.0, eta, adv, 1000, *sides, closed_before, True, 0.5, direct_acc, ph_e,
                pv_e, pl_e, touched, is_t, 0, res_direct)
        cascade(0, p0, p1, p1, False, 1.0, eta, adv, 1000, *sides, closed, False, 0.5, direct_acc, ph_e, pv_e,
                pl_e, touched, is_t, 0, res)
        np.testing.assert_array_equal(closed_before, closed)
        np.testing.assert_array_equal(res_direct, res)
        ph, pl = np.zeros(n), np.zeros(n)
        book = ent >= 0
        ph[ent[book]], pl[ent[book]] = ph_e[book], pl_e[book]
        ph_sum += ph
        pl_sum += pl
        for row, want in ((0, 0.5 * ph_sum), (2, 0.5 * pl_sum), (3, 0.25 * pl_sum)):
            got = np.zeros(n)
            got[ent[book]] = direct_acc[row, book]
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
        live = ~closed_book
        k = int(live.sum())
        ref = run_cascade(p1, p0, perp_e0=b["units"][live] * p0 / b["lev"][live], perp_side=b["side"][live],
                          perp_units=b["units"][live], perp_mm=np.full(k, mm), perp_pen=np.full(k, pen),
                          loan_c=np.zeros(0), loan_d=np.zeros(0), loan_lt=np.zeros(0), loan_bonus=np.zeros(0),
                          loan_cf=np.zeros(0), mkt_e0=m["units"] * p0 / m["lev"], mkt_side=m["side"],
                          mkt_units=m["units"], mkt_mm=np.full(nm, mm), eta=eta, adv_usd=adv)
        ids = np.flatnonzero(live)[ref.perp_liquidated]
        n_liq += ids.size
        np.testing.assert_array_equal(np.flatnonzero(pl > 0), np.sort(ids))
        assert res[7] == pytest.approx(ref.final_price_usd, rel=1e-12)
        assert res[4] == ref.rounds
        assert res[0] == pytest.approx(ref.perp_holder_usd.sum(), rel=1e-10, abs=1e-6)
        assert res[1] == pytest.approx(ref.perp_venue_usd.sum(), rel=1e-10, abs=1e-6)
        np.testing.assert_allclose(ph[ids], ref.perp_holder_usd[ref.perp_liquidated], rtol=1e-10, atol=1e-6)
        closed_book[ids] = True
    assert n_liq > 0


def _rich() -> tuple[object, OutageModel]:
    rng = np.random.default_rng(1)
    pos = []
    for i in range(150):
        pos.append({"id": f"p{i}", "type": "perp", "chain": ("arbitrum", "base", "optimism")[i % 3],
                    "asset": "ETH" if i % 2 else "BTC", "size": float(rng.choice([-1.0, 1.0]) * rng.lognormal(1, 1)),
                    "leverage": float(rng.uniform(2, 15))})
    book = make_book(pos, vol=0.8, depth=5e7, extra_assets={"BTC": {"spot_usd": 60000.0, "vol": 0.6,
                                                                    "impact_eta": 0.1, "depth_usd": 1e8}},
                     correlations=[["ETH", "BTC", 0.7]],
                     markets=[{"chain": "arbitrum", "asset": "ETH", "open_interest_usd": 3e7, "long_share": 0.6,
                               "leverage": [4.0, 8.0, 15.0]}])
    ln = DurationLaw("lognormal", {"median_s": 4 * 3600.0, "sigma": 1.0})
    types = {"downtime": 30.0, "degraded": 20.0, "censorship": 10.0, "reorg": 10.0, "da_delay": 10.0}
    laws = {t: ln if t != "reorg" else DurationLaw("weibull", {"scale_s": 120.0, "shape": 0.8}) for t in types}
    model = OutageModel(chains={c: ChainOutageLaw(c, types, laws, forced_inclusion_delay_s=3 * 3600.0 if c == "base"
                                                  else None) for c in ("arbitrum", "base", "optimism")},
                        shocks=(CommonShock("op", ("base", "optimism"), 15.0, ln),))
    return book, model


RICH = dict(horizon_s=7 * 86400.0, seed=5, forced_inclusion=True, grace_period_s=1800.0, margin_buffer=0.01)


def _z(a: tuple[float, float], b: tuple[float, float]) -> float:
    s = math.hypot(a[1], b[1])
    return abs(a[0] - b[0]) / s if s > 0 else 0.0


@pytest.mark.parametrize("conditional", [True, False])
def test_kernel_agrees_with_the_twin_in_distribution(conditional: bool) -> None:
    """Every event type, common shocks, forced inclusion, grace, buffer, two correlated assets, a market."""
    book, model = _rich()
    sc = Scenario(paths=6 * BLOCK_PATHS, conditional_sampling=conditional, **RICH)  # type: ignore[arg-type]
    k = simulate(book, model, sc)
    t = simulate(book, model, sc.replace(engine="numpy"))
    assert k.diagnostics["engine"] == 1.0
    assert t.diagnostics["engine"] == 0.0
    assert k.diagnostics["cascades"] > 50
    assert k.diagnostics["max_rounds"] >= 3
    for persp in ("holder", "venue"):
        for meas, lvl in (("expected_loss", None), ("es", 0.99), ("p_liquidation", None)):
            assert _z(k.value(meas, perspective=persp, level=lvl),
                      t.value(meas, perspective=persp, level=lvl)) < 4, (persp, meas)
    comp_k, comp_t = k.components.set_index("component"), t.components.set_index("component")
    for c in comp_k.index:
        a = (comp_k.loc[c, "holder_expected_loss_usd"], comp_k.loc[c, "holder_std_error"])
        b = (comp_t.loc[c, "holder_expected_loss_usd"], comp_t.loc[c, "holder_std_error"])
        assert _z(a, b) < 4, c
    for c in range(len(k.chains)):
        assert _z((k.chains.holder_expected_loss_usd[c], k.chains.holder_std_error[c]),
                  (t.chains.holder_expected_loss_usd[c], t.chains.holder_std_error[c])) < 4
    pk, pt = k.positions, t.positions
    big = np.argsort(-pt.expected_loss_usd.to_numpy())[:5]
    for i in big:
        assert _z((pk.p_liquidation[i], pk.p_liquidation_std_error[i]),
                  (pt.p_liquidation[i], pt.p_liquidation_std_error[i])) < 4.5
    for key in ("events", "outage_paths", "restarts_past_horizon"):
        assert abs(k.diagnostics[key] - t.diagnostics[key]) < 5 * math.sqrt(t.diagnostics[key] + 1), key


def test_kernel_stress_outage_agrees_with_the_twin() -> None:
    book, model = _rich()
    sc = Scenario(paths=4 * BLOCK_PATHS, horizon_s=86400.0, seed=2, grace_period_s=600.0, stress_outages=[
        StressOutage(chain="arbitrum", duration_s=6 * 3600.0, start_s=3600.0)])
    k = simulate(book, model, sc)
    t = simulate(book, model, sc.replace(engine="numpy"))
    for meas in ("expected_loss", "p_liquidation"):
        assert _z(k.value(meas), t.value(meas)) < 4


def test_kernel_chunking_and_workers_give_identical_numbers() -> None:
    book, model = _rich()
    base = dict(paths=3 * BLOCK_PATHS + 100, keep_paths=True, **RICH)
    runs = [simulate(book, model, Scenario(chunk_paths=c, workers=w, **base))  # type: ignore[arg-type]
            for c, w in ((BLOCK_PATHS, 1), (10 * BLOCK_PATHS, 1), (BLOCK_PATHS, 2))]
    assert runs[0].diagnostics["engine"] == 1.0
    for other in runs[1:]:
        pd.testing.assert_frame_equal(runs[0].measures, other.measures, check_exact=True)
        pd.testing.assert_frame_equal(runs[0].positions, other.positions, check_exact=True)
        pd.testing.assert_frame_equal(runs[0].path_losses(), other.path_losses(), check_exact=True)


def test_kernel_mitigations_keep_common_random_numbers() -> None:
    book, model = _rich()
    base = dict(paths=2 * BLOCK_PATHS, keep_paths=True, **RICH)
    a = simulate(book, model, Scenario(**(base | dict(grace_period_s=0.0))))  # type: ignore[arg-type]
    b = simulate(book, model, Scenario(**base))  # type: ignore[arg-type]
    _, d_se = b.paired_difference(a)
    assert d_se < 0.5 * math.hypot(a.value("expected_loss")[1], b.value("expected_loss")[1])


def test_engine_choice() -> None:
    from seqrisk.exceptions import UsageError

    book = make_book([{"id": "o", "type": "option", "chain": "arbitrum", "asset": "ETH", "kind": "call",
                       "quantity": 1.0, "strike_usd": 2000.0, "expiry": 86400.0, "implied_vol": 0.8}])
    model = OutageModel(chains={})
    with pytest.raises(UsageError, match="options or loans"):
        simulate(book, model, Scenario(paths=10, engine="kernel"))
    assert simulate(book, model, Scenario(paths=10)).diagnostics["engine"] == 0.0


def test_importing_seqrisk_does_not_load_numba() -> None:
    import subprocess
    import sys

    code = "import sys, seqrisk, seqrisk.engine; assert 'numba' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_paths_with_more_events_than_the_first_scratch_arrays() -> None:
    """About 100 outages a path: more raw events than the kernel's first work arrays hold (64), so the chunk is
    rerun with larger ones. Counts follow the Poisson law, figures agree with the twin, and a rerun changes no
    number (the same seed gives the same bits)."""
    rng = np.random.default_rng(3)
    book = make_book([{"id": f"p{i}", "type": "perp", "chain": "arbitrum", "asset": "ETH",
                       "size": float(rng.choice([-1.0, 1.0]) * rng.lognormal(1, 1)),
                       "leverage": float(rng.uniform(5, 20))} for i in range(20)], vol=0.8, depth=5e7)
    law = DurationLaw("lognormal", {"median_s": 300.0, "sigma": 0.5})
    rate_per_day = 100.0
    model = OutageModel(chains={"arbitrum": ChainOutageLaw("arbitrum", {"downtime": rate_per_day * 365.0},
                                                           {"downtime": law})})
    sc = Scenario(paths=BLOCK_PATHS, horizon_s=86400.0, seed=3, conditional_sampling=False)
    k = simulate(book, model, sc)
    assert k.diagnostics["engine"] == 1.0
    n = sc.paths
    assert abs(k.diagnostics["arrivals"] / n - rate_per_day) < 4 * math.sqrt(rate_per_day / n)
    again = simulate(book, model, sc.replace(chunk_paths=BLOCK_PATHS))
    pd.testing.assert_frame_equal(k.measures, again.measures, check_exact=True)
    t = simulate(book, model, sc.replace(engine="numpy"))
    assert abs(k.diagnostics["events"] - t.diagnostics["events"]) < 5 * math.sqrt(t.diagnostics["events"])
    for meas in ("expected_loss", "p_liquidation"):
        assert _z(k.value(meas), t.value(meas)) < 4, meas
    assert k.value("p_liquidation")[0] > 0.05
