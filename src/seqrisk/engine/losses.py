"""What each event costs each position (docs/engine.md, "Positions and costs"), per path, for one chunk.

Events are processed in the order of their evaluation time on each path (rank
by rank, vectorized over paths) because restart cascades move prices
permanently and liquidated positions stay closed. The rare paths with impacts
or closed positions are tracked in dictionaries.

Per event type:

- ``downtime``: perps and loans at restart (``t_eff + grace``): cascade per
  asset over the book's positions on the chain and the chain's rest-of-market
  model; delta-hedged options: hedging error over ``[t0, t_eff]``
  (``-q (V1 - V0 - Delta0 (S1 - S0))``, with ``V1`` the payoff at the expiry
  price when the option expires inside the outage: the hedge stays on until
  the restart); expiries inside settle at the venue's rule; capital stuck for
  ``t_eff - t0``.
- ``censorship``: the holder cannot act but liquidators can: perps and loans
  are liquidated at their trigger price if the price path touches it
  (Brownian-bridge crossing probability, used as an expectation); delta-hedged
  options: hedging error over the event.
- ``reorg``: trades in the reverted window redone at the new price:
  ``|S(t0 + D)/S(t0) - 1| * turnover * notional * D / 1 day``.
- ``degraded``: ``bps * turnover * notional * D / 1 day``.
- ``da_delay``: ``cost_of_capital * withdrawal_share * capital * D / 1 year``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqrisk._typing import FloatArray, IntArray
from seqrisk.engine.cascade import SortedSide, cascade_sorted_batch, run_cascade, sorted_side
from seqrisk.engine.prepare import COMPONENTS, Prepared
from seqrisk.engine.sampling import ChunkSample
from seqrisk.engine.scenario import Scenario
from seqrisk.market.paths import bridge_cross_probability, touch_probability_below
from seqrisk.market.pricing import bs_delta, bs_price, payoff
from seqrisk.portfolio.arrays import KIND_LOAN, KIND_OPTION, KIND_PERP
from seqrisk.units import DAY_S, YEAR_S

__all__ = ["ChunkLosses", "evaluate_chunk"]

_C = {c: i for i, c in enumerate(COMPONENTS)}


@dataclass
class ChunkLosses:
    """Per-path outcomes of a chunk (USD) and sparse per-position records."""

    holder_total: FloatArray
    holder_attr: FloatArray
    venue_total: FloatArray
    venue_attr: FloatArray
    liq_any: FloatArray
    liq_notional: FloatArray
    bad_debt: FloatArray
    chain_holder: FloatArray      # (n, C) attributable
    chain_venue: FloatArray
    comp_holder: FloatArray       # (n, K) total basis
    comp_venue: FloatArray
    rec_path: list[IntArray] = field(default_factory=list)
    rec_pos: list[IntArray] = field(default_factory=list)
    rec_holder: list[FloatArray] = field(default_factory=list)   # attributable
    rec_venue: list[FloatArray] = field(default_factory=list)
    rec_liq: list[FloatArray] = field(default_factory=list)
    lin_cap: FloatArray | None = None   # (blocks, C, A): sum of p * k * P for capital-type costs
    lin_cap_b: FloatArray | None = None
    lin_not: FloatArray | None = None
    max_rounds: int = 0
    cap_hits: int = 0
    n_cascades: int = 0


class _Evaluator:
    def __init__(self, prep: Prepared, sc: Scenario, cs: ChunkSample) -> None:
        self.prep, self.sc, self.cs = prep, sc, cs
        n, c_n, k_n, a_n = cs.n, len(prep.chains), len(COMPONENTS), len(prep.assets)
        z = np.zeros
        self.out = ChunkLosses(z(n), z(n), z(n), z(n), z(n), z(n), z(n), z((n, c_n)), z((n, c_n)), z((n, k_n)),
                               z((n, k_n)), lin_cap=z((cs.block_ids.size, c_n, a_n)),
                               lin_cap_b=z((cs.block_ids.size, c_n, a_n)), lin_not=z((cs.block_ids.size, c_n, a_n)))
        self.block_of_path = np.searchsorted(cs.block_first, np.arange(n), side="right") - 1
        self.impacts: dict[int, list[tuple[float, int, float]]] = {}
        self._sorted: dict[tuple[int, int, int, int], tuple[SortedSide, SortedSide]] = {}
        self._rec_ht: list[FloatArray] = []
        self._rec_notional: list[FloatArray] = []
        self._rec_comp: list[IntArray] = []
        self.closed: dict[int, np.ndarray] = {}
        pos = prep.pos
        self.by_chain: list[dict[str, IntArray]] = []
        for ci in range(c_n):
            on = pos.chain == ci
            self.by_chain.append({"perp": np.flatnonzero(on & (pos.kind == KIND_PERP)),
                                  "loan": np.flatnonzero(on & (pos.kind == KIND_LOAN)),
                                  "option": np.flatnonzero(on & (pos.kind == KIND_OPTION)),
                                  "mkt": np.flatnonzero(pos.mkt_chain == ci)})
        k = sc.margin_buffer
        self.r_long = np.where(pos.side > 0, (1 - pos.inv_leverage - k) / (1 - pos.maintenance), -np.inf)
        self.r_short = np.where(pos.side < 0, (1 + pos.inv_leverage + k) / (1 + pos.maintenance), np.inf)
        self.m_long = np.where(pos.mkt_side > 0, (1 - pos.mkt_inv_leverage) / (1 - pos.mkt_maintenance), -np.inf)
        self.m_short = np.where(pos.mkt_side < 0, (1 + pos.mkt_inv_leverage) / (1 + pos.mkt_maintenance), np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.loan_trigger = np.where(pos.kind == KIND_LOAN, pos.debt / (pos.units * pos.threshold), 0.0)

    # -- helpers ---------------------------------------------------------------
    def _loan_debt(self, loans: IntArray, p0: FloatArray, a: int) -> FloatArray:
        """Debt (events, loans) at outage starts where asset ``a`` is at ``p0``: ``debt_usd``, times the price
        move since t = 0 for loans that keep their health factor while the chain is up."""
        pos = self.prep.pos
        d = np.broadcast_to(pos.debt[loans][None, :], (p0.size, loans.size))
        if pos.keeps_hf is None or not pos.keeps_hf[loans].any():
            return d
        return np.where(pos.keeps_hf[loans][None, :], d * (p0 / self.prep.spot[a])[:, None], d)

    def _mult(self, ev: IntArray, t: FloatArray) -> FloatArray:
        """Impact multipliers (events, assets) at times ``t``."""
        m = np.ones((ev.size, len(self.prep.assets)))
        if self.impacts:
            hit = np.flatnonzero(np.isin(self.cs.path[ev], np.fromiter(self.impacts, np.int64, len(self.impacts))))
            for j in hit:
                for (ti, a, f) in self.impacts[int(self.cs.path[ev[j]])]:
                    if ti < t[j]:
                        m[j, a] *= f
        return m

    def _record(self, path: IntArray, pos: IntArray, holder_t: FloatArray, holder_a: FloatArray,
                venue: FloatArray, liq: FloatArray, notional: FloatArray, comp: int) -> None:
        """Queue per-(path, position) outcomes; :meth:`_finish` folds them into the per-path arrays."""
        o = self.out
        o.rec_path.append(path)
        o.rec_pos.append(pos)
        o.rec_holder.append(holder_a)
        o.rec_venue.append(venue)
        o.rec_liq.append(liq)
        self._rec_ht.append(holder_t)
        self._rec_notional.append(notional)
        self._rec_comp.append(np.full(path.size, comp, np.int64))

    def _finish(self) -> None:
        o = self.out
        if not o.rec_path:
            return
        c_n, k_n = len(self.prep.chains), len(COMPONENTS)
        path = np.concatenate(o.rec_path)
        pos = np.concatenate(o.rec_pos)
        ha, ht = np.concatenate(o.rec_holder), np.concatenate(self._rec_ht)
        ve, liq = np.concatenate(o.rec_venue), np.concatenate(o.rec_liq)
        comp = np.concatenate(self._rec_comp)
        chain = self.prep.pos.chain[pos]
        # sums per path in record order, over the paths that have records only (memory O(records))
        up, inv = np.unique(path, return_inverse=True)
        m = up.size

        def bc(idx: IntArray, w: FloatArray, size: int) -> FloatArray:
            return np.asarray(np.bincount(idx, weights=w, minlength=size), dtype=float)

        o.holder_total[up] += bc(inv, ht, m)
        o.holder_attr[up] += bc(inv, ha, m)
        o.venue_total[up] += bc(inv, ve, m)
        o.venue_attr[up] += bc(inv, ve, m)
        o.chain_holder[up] += bc(inv * c_n + chain, ha, m * c_n).reshape(m, c_n)
        o.chain_venue[up] += bc(inv * c_n + chain, ve, m * c_n).reshape(m, c_n)
        o.comp_holder[up] += bc(inv * k_n + comp, ht, m * k_n).reshape(m, k_n)
        o.comp_venue[up] += bc(inv * k_n + comp, ve, m * k_n).reshape(m, k_n)
        np.maximum.at(o.liq_any, path, liq)
        o.liq_notional[up] += bc(inv, np.concatenate(self._rec_notional), m)
        o.bad_debt[up] += bc(inv, np.where(comp == _C["liquidation"], ve, 0.0), m)

    def _linear(self, ev: IntArray, k_cap: FloatArray, k_not: FloatArray, p0: FloatArray, comp_cap: int,
                comp_not: int) -> None:
        """Costs linear in the price: capital (alpha P + beta) and traded notional (units P), per (chain, asset)."""
        o, prep, cs = self.out, self.prep, self.cs
        path, chain = cs.path[ev], cs.chain[ev]
        a_cap = prep.ca_alpha[chain] * p0 + prep.ca_beta[chain]       # (E, A)
        a_not = prep.ca_units[chain] * p0
        cap = k_cap[:, None] * a_cap
        nott = k_not[:, None] * a_not
        tot_cap, tot_not = cap.sum(axis=1), nott.sum(axis=1)
        for arr in (o.holder_total, o.holder_attr):
            np.add.at(arr, path, tot_cap + tot_not)
        np.add.at(o.chain_holder, (path, chain), tot_cap + tot_not)
        np.add.at(o.comp_holder, (path, np.full(path.size, comp_cap)), tot_cap)
        np.add.at(o.comp_holder, (path, np.full(path.size, comp_not)), tot_not)
        assert o.lin_cap is not None and o.lin_cap_b is not None and o.lin_not is not None
        blk, w = self.block_of_path[path], cs.p_event[path][:, None]
        np.add.at(o.lin_cap, (blk, chain), w * k_cap[:, None] * p0)
        np.add.at(o.lin_cap_b, (blk, chain), w * np.broadcast_to(k_cap[:, None], p0.shape))
        np.add.at(o.lin_not, (blk, chain), w * k_not[:, None] * p0)

    # -- event types -------------------------------------------------------------
    def run(self) -> ChunkLosses:
        cs = self.cs
        if cs.path.size == 0:
            return self.out
        order = np.lexsort((cs.t_eval, cs.path))
        first = np.searchsorted(cs.path[order], np.arange(cs.n))
        rank = np.empty(order.size, np.int64)
        rank[order] = np.arange(order.size) - first[cs.path[order]]
        for r in range(int(rank.max()) + 1):
            batch = np.flatnonzero(rank == r)
            for typ, fn in ((0, self._downtime), (1, self._degraded), (2, self._censorship), (3, self._reorg),
                            (4, self._da_delay)):
                ev = batch[cs.type[batch] == typ]
                if ev.size:
                    fn(ev)
        self._finish()
        return self.out

    def _prices(self, ev: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        return self.prep.spot * np.exp(x[ev]) * self._mult(ev, t[ev])

    def _downtime(self, ev: IntArray) -> None:
        cs, prep, sc = self.cs, self.prep, self.sc
        p0 = self._prices(ev, cs.x0, cs.t0)
        p_eff = self._prices(ev, cs.x_eff, cs.t_eff)
        p_ev = self._prices(ev, cs.x_eval, cs.t_eval)
        dt = cs.t_eff[ev] - cs.t0[ev]
        self._linear(ev, sc.cost_of_capital * dt / YEAR_S, np.zeros(ev.size), p0, _C["capital"], _C["reorg"])
        self._options(ev, p0, p_eff)
        for ci in np.unique(cs.chain[ev]):
            grp = self.by_chain[ci]
            if not (grp["perp"].size or grp["loan"].size):
                continue
            sel = np.flatnonzero(cs.chain[ev] == ci)
            for a in range(len(prep.assets)):
                perps = grp["perp"][prep.pos.asset[grp["perp"]] == a]
                loans = grp["loan"][prep.pos.asset[grp["loan"]] == a]
                mkts = grp["mkt"][prep.pos.mkt_asset[grp["mkt"]] == a]
                if not (perps.size or loans.size):
                    continue
                self._restart(ev[sel], p0[sel, a], p_eff[sel, a], p_ev[sel, a], a, perps, loans, mkts)
        self._option_margin(ev, p0, p_eff, p_ev)

    def _option_margin(self, ev: IntArray, p0: FloatArray, p_eff: FloatArray, p_ev: FloatArray) -> None:
        """Margined short options: collateral ``u (V0 + im S0)`` frozen at the outage start; liquidated when
        the equity ``collateral - u V(x)`` falls below ``mm u x``, tested at the restart price and at the price
        after the cascade (option close-outs do not move the price). With a grace period only the options
        failing at the restart price are at stake, tested at the end of the grace period."""
        cs, sc, pos = self.cs, self.sc, self.prep.pos
        for ci in np.unique(cs.chain[ev]):
            opts = self.by_chain[ci]["option"]
            opts = opts[pos.inv_leverage[opts] > 0]
            if not opts.size:
                continue
            sel = np.flatnonzero(cs.chain[ev] == ci)
            e = ev[sel]
            a = pos.asset[opts]
            s0, s1 = p0[sel][:, a], p_ev[sel][:, a]
            s_star = self._prices(e, cs.x_eval, cs.t_eval + 1e-6)[:, a] if self.impacts else s1
            texp = pos.expiry_s[opts][None, :]
            t0, te = cs.t0[e][:, None], cs.t_eval[e][:, None]
            k, vol, call, u = pos.strike[opts], pos.implied_vol[opts], pos.is_call[opts], pos.units[opts]
            alive = texp > te
            coll = u * (bs_price(s0, k, (texp - t0) / YEAR_S, vol, call) + pos.inv_leverage[opts] * s0)

            tau = (texp - te) / YEAR_S
            e1 = coll - u * bs_price(s1, k, tau, vol, call)
            fail1 = alive & (e1 < pos.maintenance[opts] * u * s1)
            e2 = coll - u * bs_price(s_star, k, tau, vol, call)
            fail2 = alive & ~fail1 & (e2 < pos.maintenance[opts] * u * s_star)
            liq = fail1 | fail2
            if sc.grace_period_s > 0:
                sr = p_eff[sel][:, a]
                tr = (texp - cs.t_eff[e][:, None]) / YEAR_S
                liq &= (texp > cs.t_eff[e][:, None]) & (coll - u * bs_price(sr, k, np.maximum(tr, 0.0), vol, call)
                                                        < pos.maintenance[opts] * u * sr)
            if not liq.any():
                continue
            close = np.where(fail1, s1, s_star)
            ec = np.where(fail1, e1, e2)
            scale = 1.0 - sc.grace_saved_share
            holder = scale * (np.maximum(e1, 0.0) - np.maximum(ec - pos.penalty[opts] * u * close, 0.0))
            venue = scale * np.maximum(-ec, 0.0)
            nz = np.nonzero(liq)
            paths = cs.path[e[nz[0]]]
            closed_live = np.array([not (int(pth) in self.closed and self.closed[int(pth)][opts[j]])
                                    for pth, j in zip(paths, nz[1], strict=True)], bool)
            if not closed_live.any():
                continue
            rows, cols = nz[0][closed_live], nz[1][closed_live]
            self._record(paths[closed_live], opts[cols], holder[rows, cols], holder[rows, cols], venue[rows, cols],
                         np.full(rows.size, scale), scale * u[cols] * close[rows, cols], _C["liquidation"])
            for pth, j in zip(paths[closed_live], cols, strict=True):
                self.closed.setdefault(int(pth), np.zeros(pos.n, bool))[opts[j]] = True

    def _restart(self, ev: IntArray, p0: FloatArray, p_r: FloatArray, p1: FloatArray, a: int, perps: IntArray,
                 loans: IntArray, mkts: IntArray) -> None:
        """Restart of events ``ev`` on asset ``a``: outage start price ``p0``, restart price ``p_r`` and
        liquidation test price ``p1`` (the end of the grace period; ``p_r`` without one).

        With a grace period the positions under water at ``p_r`` are at stake: the cascade starts at ``p1``
        with a first round closing those of them still under water there, and every liquidation's notional
        and losses are scaled by the share of holders not saved by a top-up (``grace_saved_share``)."""
        cs, prep, sc, pos = self.cs, self.prep, self.sc, self.prep.pos
        graced = sc.grace_period_s > 0
        ratio = (p_r if graced else p1) / p0
        lo = max(self.r_long[perps].max(initial=-np.inf), self.m_long[mkts].max(initial=-np.inf))
        hi = min(self.r_short[perps].min(initial=np.inf), self.m_short[mkts].min(initial=np.inf))
        debt_e = self._loan_debt(loans, p0, a)  # (events, loans): the debt each loan meets the outage with
        lt = debt_e / (pos.units[loans] * pos.threshold[loans])  # liquidation prices (events, loans)
        ltr = lt.max(axis=1, initial=0.0)
        flag = (ratio < lo) | (ratio > hi) | ((p_r if graced else p1) < ltr) | (p0 < ltr)
        if loans.size:
            # counterfactual: without the outage a loan is liquidated at its trigger if the path touches it
            var = cs.v_eval[ev, a] - cs.v0[ev, a]
            pc = bridge_cross_probability(np.log(p0)[:, None], np.log(p1)[:, None], np.log(lt),
                                          var[:, None], lower=True)
            live0 = p0[:, None] >= lt
            rep = np.minimum(pos.close_factor[loans] * debt_e, pos.units[loans] * lt / (1 + pos.bonus[loans]))
            # A loan that recovered by the test time is not spared for good: it is liquidated later anyway if
            # the price touches its trigger before the horizon end, in both worlds (the counterfactual loan that
            # did not touch during the outage too). So the outage only spares the liquidation with probability
            # P(no touch between the test time and the horizon end): credit pc * (1 - p_after). The variance
            # after the test time uses the rate of the frozen interval (exact without regime switches).
            rate = var / np.maximum(cs.t_eval[ev] - cs.t0[ev], 1e-9)
            v_after = (rate * np.maximum(sc.horizon_s - cs.t_eval[ev], 0.0))[:, None]
            p_after = touch_probability_below(np.log(p1)[:, None], np.log(lt), v_after)
            keep = np.where(p1[:, None] < lt, 1.0, 1.0 - p_after)
            # A loan that keeps its health factor while the chain is up is topped up, not liquidated, without
            # the outage (as a perp kept at initial margin): no counterfactual liquidation to credit.
            managed = np.zeros(loans.size, bool) if pos.keeps_hf is None else pos.keeps_hf[loans]
            cf = np.where(live0 & ~managed[None, :], pc * keep * pos.bonus[loans] * rep, 0.0)
            nz = np.nonzero(cf > 0)
            if nz[0].size:
                z = np.zeros(nz[0].size)
                self._record(cs.path[ev[nz[0]]], loans[nz[1]], z, -cf[nz], z, z, z, _C["liquidation"])
        scale = 1.0 - sc.grace_saved_share
        o = self.out
        fl = np.flatnonzero(flag)
        if not loans.size and fl.size:
            clean = ~np.isin(cs.path[ev[fl]], np.fromiter(self.closed, np.int64, len(self.closed)))
            self._batch_cascade(ev[fl[clean]], p0[fl[clean]], p_r[fl[clean]], p1[fl[clean]], a, perps, mkts, scale)
            fl = fl[~clean]
        for j in fl:
            e, path = int(ev[j]), int(cs.path[ev[j]])
            closed = self.closed.get(path)
            lp = perps if closed is None else perps[~closed[perps]]
            ll = loans if closed is None else loans[~closed[loans]]
            dl = debt_e[j, np.searchsorted(loans, ll)]
            under = pos.units[ll] * p0[j] * pos.threshold[ll] < dl
            dead, ll, dl = ll[under], ll[~under], dl[~under]
            if dead.size:
                self.closed.setdefault(path, np.zeros(pos.n, bool))[dead] = True
            res = run_cascade(
                float(p1[j]), float(p0[j]), perp_e0=pos.units[lp] * p0[j] * (pos.inv_leverage[lp] + sc.margin_buffer),
                perp_side=pos.side[lp], perp_units=pos.units[lp], perp_mm=pos.maintenance[lp],
                perp_pen=pos.penalty[lp], loan_c=pos.units[ll], loan_d=dl, loan_lt=pos.threshold[ll],
                loan_bonus=pos.bonus[ll], loan_cf=pos.close_factor[ll],
                mkt_e0=pos.mkt_units[mkts] * p0[j] * pos.mkt_inv_leverage[mkts], mkt_side=pos.mkt_side[mkts],
                mkt_units=pos.mkt_units[mkts], mkt_mm=pos.mkt_maintenance[mkts], eta=float(prep.eta[a]),
                adv_usd=float(prep.adv_usd[a]), max_rounds=sc.max_cascade_rounds,
                scale=scale, stake_price=float(p_r[j]) if graced else None)
            o.n_cascades += 1
            o.max_rounds = max(o.max_rounds, res.rounds)
            o.cap_hits += int(res.cap_hit)
            if res.rounds == 0:
                continue
            ip = np.flatnonzero(res.perp_liquidated)
            il = np.flatnonzero(res.loan_liquidated)
            ids = np.concatenate([lp[ip], ll[il]])
            if ids.size:
                holder = np.concatenate([res.perp_holder_usd[ip], res.loan_holder_usd[il]])
                venue = np.concatenate([res.perp_venue_usd[ip], res.loan_venue_usd[il]])
                notional = np.concatenate([scale * pos.units[lp[ip]] * res.perp_close_usd[ip],
                                           res.loan_notional_usd[il]])
                pp = np.full(ids.size, path)
                self._record(pp, ids, holder, holder, venue, np.full(ids.size, scale), notional, _C["liquidation"])
                self.closed.setdefault(path, np.zeros(pos.n, bool))[ids] = True
            if res.final_price_usd != p1[j]:
                self.impacts.setdefault(path, []).append((float(cs.t_eval[e]), a, res.final_price_usd / float(p1[j])))

    def _sides(self, a: int, perps: IntArray, mkts: IntArray) -> tuple[SortedSide, SortedSide]:
        key = (a, int(perps[0]) if perps.size else -1, perps.size, mkts.size)
        got = self._sorted.get(key)
        if got is None:
            pos = self.prep.pos
            ratio_l = np.concatenate([self.r_long[perps], self.m_long[mkts]])
            ratio_s = np.concatenate([self.r_short[perps], self.m_short[mkts]])
            units = np.concatenate([pos.units[perps], pos.mkt_units[mkts]])
            index = np.concatenate([perps, np.full(mkts.size, -1)])
            side = np.concatenate([pos.side[perps], pos.mkt_side[mkts]])
            lg, sh = side > 0, side < 0
            got = (sorted_side(ratio_l[lg], units[lg], index[lg], True),
                   sorted_side(ratio_s[sh], units[sh], index[sh], False))
            self._sorted[key] = got
        return got

    def _batch_cascade(self, ev: IntArray, p0: FloatArray, p_r: FloatArray, p1: FloatArray, a: int,
                       perps: IntArray, mkts: IntArray, scale: float) -> None:
        """Cascades of many events on perps only (no closed position on their paths), vectorized by round."""
        if not ev.size:
            return
        prep, sc, pos, o = self.prep, self.sc, self.prep.pos, self.out
        longs, shorts = self._sides(a, perps, mkts)
        kw = dict(eta=float(prep.eta[a]), adv_usd=float(prep.adv_usd[a]), max_rounds=sc.max_cascade_rounds)
        res = cascade_sorted_batch(p1, p0, longs, shorts, scale=scale, stake_price=p_r if sc.grace_period_s > 0
                                   else None, **kw)  # type: ignore[arg-type]
        o.n_cascades += int(ev.size)
        o.max_rounds = max(o.max_rounds, int(res.rounds.max(initial=0)))
        o.cap_hits += int(res.cap_hit.sum())
        parts = []
        for side, e_, st, sp, pr in ((longs, res.long_event, res.long_start, res.long_stop, res.long_price),
                                     (shorts, res.short_event, res.short_start, res.short_stop, res.short_price)):
            if not e_.size:
                continue
            ln = sp - st
            seg = np.repeat(np.arange(e_.size), ln)
            within = np.arange(seg.size) - np.repeat(np.cumsum(ln) - ln, ln)
            idx = side.index[st[seg] + within]
            parts.append((e_[seg], idx, pr[seg]))
        if parts:
            ei = np.concatenate([x[0] for x in parts])
            ids = np.concatenate([x[1] for x in parts])
            close = np.concatenate([x[2] for x in parts])
            book = ids >= 0
            ei, ids, close = ei[book], ids[book], close[book]
            order = np.argsort(ei, kind="stable")  # group by event, rounds in order
            ei, ids, close = ei[order], ids[order], close[order]
            if ids.size:
                u, s_ = pos.units[ids], pos.side[ids]
                q0, q1 = p0[ei], p1[ei]
                e0 = u * q0 * (pos.inv_leverage[ids] + sc.margin_buffer)
                e1 = e0 + s_ * u * (q1 - q0)
                ec = e0 + s_ * u * (close - q0)
                holder = scale * (np.maximum(e1, 0.0) - np.maximum(ec - pos.penalty[ids] * u * close, 0.0))
                venue = scale * np.maximum(-ec, 0.0)
                paths = self.cs.path[ev[ei]]
                self._record(paths, ids, holder, holder, venue, np.full(ids.size, scale), scale * u * close,
                             _C["liquidation"])
                cuts = np.flatnonzero(np.diff(ei)) + 1  # records are grouped by event (one event per path)
                for pth, grp in zip(paths[np.concatenate([[0], cuts])], np.split(ids, cuts), strict=True):
                    self.closed.setdefault(int(pth), np.zeros(pos.n, bool))[grp] = True
        moved = np.flatnonzero(res.final_price != p1)
        for j in moved:
            self.impacts.setdefault(int(self.cs.path[ev[j]]), []).append(
                (float(self.cs.t_eval[ev[j]]), a, float(res.final_price[j] / p1[j])))

    def _options(self, ev: IntArray, p0: FloatArray, p1: FloatArray, expiries: bool = True) -> None:
        cs, prep, sc, pos = self.cs, self.prep, self.sc, self.prep.pos
        for ci in np.unique(cs.chain[ev]):
            opts = self.by_chain[ci]["option"]
            if not opts.size:
                continue
            sel = np.flatnonzero(cs.chain[ev] == ci)
            e = ev[sel]
            a = pos.asset[opts]
            s0, s1 = p0[sel][:, a], p1[sel][:, a]
            t0, t1 = cs.t0[e][:, None], cs.t_eff[e][:, None]
            texp = pos.expiry_s[opts][None, :]
            k, vol, call = pos.strike[opts], pos.implied_vol[opts], pos.is_call[opts]
            qs = (pos.side * pos.units)[opts]
            alive = texp > t0
            v0 = bs_price(s0, k, (texp - t0) / YEAR_S, vol, call)
            d0 = bs_delta(s0, k, (texp - t0) / YEAR_S, vol, call)
            inside = alive & (texp <= t1)
            if expiries and inside.any():
                x_exp = cs.x_exp[e][:, prep.expiry_index[opts], a]
                s_exp = np.where(inside, prep.spot[a] * np.exp(np.nan_to_num(x_exp)) * self._mult(e, cs.t0[e])[:, a],
                                 s1)
            else:
                s_exp = s1
            s_end = np.where(inside, s_exp, s1)
            v1 = np.where(inside, payoff(s_end, k, call), bs_price(s_end, k, (texp - t1) / YEAR_S, vol, call))
            # the hedge stays frozen until the holder can act again (t1), also when the option expired before
            pnl = qs * (v1 - v0 - d0 * (s1 - s0))
            if self.closed:  # options closed earlier on the path (margin liquidation) are gone
                gone = np.zeros(alive.shape, bool)
                hit = np.flatnonzero(np.isin(cs.path[e], np.fromiter(self.closed, np.int64, len(self.closed))))
                for j in hit:
                    gone[j] = self.closed[int(cs.path[e[j]])][opts]
                alive = alive & ~gone
                inside = inside & ~gone
            hedge_loss = np.where(alive & pos.hedged[opts], -pnl, 0.0)
            settle_h = np.zeros_like(hedge_loss)
            settle_v = np.zeros_like(hedge_loss)
            if sc.settlement == "stale":
                diff = qs * (payoff(s_end, k, call) - payoff(s0, k, call))
                settle_h = np.where(inside, np.maximum(diff, 0.0), 0.0)
                settle_v = np.where(inside, np.maximum(-diff, 0.0), 0.0)
            nz = np.nonzero((hedge_loss != 0) | (settle_h != 0) | (settle_v != 0))
            if nz[0].size:
                paths = cs.path[e[nz[0]]]
                z = np.zeros(nz[0].size)
                self._record(paths, opts[nz[1]], hedge_loss[nz], hedge_loss[nz], z, z, z, _C["hedging"])
                if sc.settlement == "stale":
                    self._record(paths, opts[nz[1]], settle_h[nz], settle_h[nz], settle_v[nz], z, z,
                                 _C["settlement"])

    def _censorship(self, ev: IntArray) -> None:
        cs, sc, pos = self.cs, self.sc, self.prep.pos
        p0 = self._prices(ev, cs.x0, cs.t0)
        p1 = self._prices(ev, cs.x_eff, cs.t_eff)
        self._options(ev, p0, p1, expiries=False)
        share = sc.censored_share
        for ci in np.unique(cs.chain[ev]):
            grp = self.by_chain[ci]
            ids = np.concatenate([grp["perp"], grp["loan"]])
            if not ids.size or share == 0:
                continue
            sel = np.flatnonzero(cs.chain[ev] == ci)
            e = ev[sel]
            a = pos.asset[ids]
            s0, s1 = p0[sel][:, a], p1[sel][:, a]
            var = (cs.v_eff[e] - cs.v0[e])[:, a]
            is_perp = pos.kind[ids] == KIND_PERP
            ratio = np.where(pos.side[ids] > 0, self.r_long[ids], self.r_short[ids])
            keeps = np.zeros(ids.size, bool) if pos.keeps_hf is None else pos.keeps_hf[ids]
            move = np.where(keeps, s0 / self.prep.spot[a], 1.0)  # loans keeping their health factor
            barrier = np.where(is_perp, s0 * ratio, self.loan_trigger[ids][None, :] * move)
            pc = bridge_cross_probability(np.log(s0), np.log(s1), np.log(barrier), var,
                                          lower=(pos.side[ids] > 0)[None, :])
            pc = np.where(is_perp | (s0 >= barrier), pc, 0.0)
            loss_perp = np.minimum(pos.maintenance[ids], pos.penalty[ids]) * pos.units[ids] * barrier
            rep = np.minimum(pos.close_factor[ids] * pos.debt[ids] * move,
                             pos.units[ids] * barrier / (1 + pos.bonus[ids]))
            holder = share * pc * np.where(is_perp, loss_perp, pos.bonus[ids] * rep)
            attr = np.where(is_perp, holder, 0.0)  # loans are liquidated at the trigger without the event too
            notional = share * pc * np.where(is_perp, pos.units[ids] * barrier, rep * (1 + pos.bonus[ids]))
            nz = np.nonzero(pc > 1e-12)
            if nz[0].size:
                z = np.zeros(nz[0].size)
                self._record(cs.path[e[nz[0]]], ids[nz[1]], holder[nz], attr[nz], z, pc[nz], notional[nz],
                             _C["liquidation"])

    def _reorg(self, ev: IntArray) -> None:
        cs, sc = self.cs, self.sc
        p0 = self._prices(ev, cs.x0, cs.t0)
        p1 = self._prices(ev, cs.x_eff, cs.t_eff)
        d = cs.t1[ev] - cs.t0[ev]
        ret = np.abs(p1 / p0 - 1.0)
        # per asset return enters through the notional term: cost = |ret_a| * turnover * units_ca * P0 * D/day
        k = sc.turnover_per_day * d / DAY_S
        self._linear_assets(ev, k[:, None] * ret, p0, _C["reorg"])

    def _degraded(self, ev: IntArray) -> None:
        cs, sc = self.cs, self.sc
        p0 = self._prices(ev, cs.x0, cs.t0)
        d = cs.t1[ev] - cs.t0[ev]
        k = sc.degraded_cost_bps * 1e-4 * sc.turnover_per_day * d / DAY_S
        self._linear_assets(ev, np.broadcast_to(k[:, None], p0.shape), p0, _C["degraded"])

    def _da_delay(self, ev: IntArray) -> None:
        cs, sc = self.cs, self.sc
        p0 = self._prices(ev, cs.x0, cs.t0)
        d = cs.t1[ev] - cs.t0[ev]
        self._linear(ev, sc.cost_of_capital * sc.withdrawal_share * d / YEAR_S, np.zeros(ev.size), p0,
                     _C["capital"], _C["degraded"])

    def _linear_assets(self, ev: IntArray, k_a: FloatArray, p0: FloatArray, comp: int) -> None:
        """Notional costs with a per-asset factor ``k_a`` (events, assets)."""
        o, prep, cs = self.out, self.prep, self.cs
        path, chain = cs.path[ev], cs.chain[ev]
        cost = k_a * prep.ca_units[chain] * p0
        tot = cost.sum(axis=1)
        np.add.at(o.holder_total, path, tot)
        np.add.at(o.holder_attr, path, tot)
        np.add.at(o.chain_holder, (path, chain), tot)
        np.add.at(o.comp_holder, (path, np.full(path.size, comp)), tot)
        assert o.lin_not is not None
        np.add.at(o.lin_not, (self.block_of_path[path], chain), cs.p_event[path][:, None] * k_a * p0)


def evaluate_chunk(prep: Prepared, sc: Scenario, cs: ChunkSample) -> ChunkLosses:
    """Losses of every path of a sampled chunk."""
    return _Evaluator(prep, sc, cs).run()
