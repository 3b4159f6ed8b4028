"""Static inputs of a run: the book as arrays, market parameters, cells, per-chain indices."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from seqrisk._typing import FloatArray, IntArray
from seqrisk.engine.events import Cell, Excitation, build_excitation
from seqrisk.engine.scenario import Scenario
from seqrisk.exceptions import DataError
from seqrisk.market.pricing import bs_delta, bs_price
from seqrisk.outage import OutageModel
from seqrisk.portfolio.arrays import KIND_LOAN, KIND_OPTION, KIND_PERP, PositionArrays, position_arrays
from seqrisk.portfolio.load import correlation_matrix
from seqrisk.portfolio.models import Book
from seqrisk.units import YEAR_S

__all__ = ["COMPONENTS", "Prepared", "prepare"]

#: Cost components, in the order of the per-component arrays.
COMPONENTS = ("liquidation", "hedging", "settlement", "reorg", "degraded", "capital")


@dataclass(frozen=True)
class Prepared:
    """Everything static about a run (arrays over positions, assets, chains, regimes)."""

    book: Book
    pos: PositionArrays
    chains: tuple[str, ...]
    assets: tuple[str, ...]
    spot: FloatArray            # (A,)
    chol: FloatArray            # (A, A)
    var_per_s: FloatArray       # (A, K) variance rate per regime
    regime_rates_per_s: FloatArray  # (K, K)
    regime_initial: FloatArray  # (K,)
    hazard_mult: FloatArray     # (K,) exp(beta (log sigma_r - log sigma_ref))
    cells: tuple[Cell, ...]
    hawkes: tuple[float, float] | None  # (within branching, decay_per_s) for reports; sampled via excitation
    excitation: Excitation | None     # the model's follow-on outages as the sampler draws them
    excitation_draws: FloatArray | None  # (M, 3) posterior draws of (within, cross, decay_per_s), or None
    jump_rate_per_s: FloatArray  # (A,)
    jump_mean: FloatArray
    jump_sigma: FloatArray
    jump_comp_per_s: FloatArray  # compensator drift of X per second
    eta: FloatArray
    adv_usd: FloatArray
    fi_exposure_s: FloatArray   # (C,) forced-inclusion cap on exposure (inf when none)
    expiries_s: FloatArray      # distinct option expiries, sorted
    expiry_index: IntArray      # per position: index into expiries_s (-1 if not an option)
    cap_alpha: FloatArray       # per position: capital = alpha * P + beta (USD)
    cap_beta: FloatArray
    notional_units: FloatArray  # per position: traded notional = units * P (delta-weighted options)
    ca_alpha: FloatArray        # (C, A) sums of cap_alpha
    ca_beta: FloatArray
    ca_units: FloatArray
    carry_cost_usd: float       # margin buffer carrying cost over the horizon (every path)
    unmodelled_chains: tuple[str, ...] = ()  # book chains without any outage cell (no random outage there)


def prepare(book: Book, model: OutageModel, sc: Scenario, chains: list[str] | None = None) -> Prepared:
    """Validate the combination of book, model and scenario and build the static arrays."""
    model = sc.outage_model(model)
    sim_chains = list(dict.fromkeys(chains or sc.chains or book.chains))
    for c in book.chains:
        if c not in sim_chains:
            sim_chains.append(c)
    for s in sc.stress_outages:
        if s.chain not in sim_chains:
            raise DataError("stress outage on a chain that holds no position", chain=s.chain)
    pos = position_arrays(book, sim_chains)
    assets = tuple(book.asset_names)
    spot = np.array([book.assets[a].spot_usd for a in assets])
    chol = np.linalg.cholesky(correlation_matrix(book))
    names = [r.name for r in sc.regimes]
    k = len(names)
    var = np.zeros((len(assets), k))
    for i, a in enumerate(assets):
        for j, r in enumerate(names):
            try:
                var[i, j] = book.assets[a].vol_in(r) ** 2 / YEAR_S
            except KeyError:
                raise DataError("asset has no volatility for regime", field=f"assets.{a}.vol", value=r) from None
    rates = np.zeros((k, k))
    for i, reg in enumerate(sc.regimes):
        for other, rate in reg.switch_rates_per_year.items():
            rates[i, names.index(other)] = rate / YEAR_S
    if sc.initial_regime is not None:
        init = np.zeros(k)
        init[names.index(sc.initial_regime)] = 1.0
    elif k == 1:
        init = np.ones(1)
    else:
        q = rates - np.diag(rates.sum(axis=1))
        a_mat = np.vstack([q.T, np.ones(k)])
        init = np.linalg.lstsq(a_mat, np.concatenate([np.zeros(k), [1.0]]), rcond=None)[0]
        init = np.clip(init, 0, None) / np.clip(init, 0, None).sum()
    ref = sc.reference_asset or assets[0]
    if ref not in assets:
        raise DataError("reference asset is not in the book", field="reference_asset", value=ref)
    beta = model.beta if sc.beta is None else sc.beta
    sig = np.sqrt(var[assets.index(ref)] * YEAR_S)
    mult = np.exp(beta * (np.log(sig) - math.log(model.sigma_ref)))
    hk = model.hawkes if sc.hawkes else None
    ex_model = model if hk is not None else dataclasses.replace(model, hawkes=None)
    _, cell_list, excitation = build_excitation(ex_model, sim_chains, shocks=sc.shocks)
    cells = tuple(cell_list)
    hawkes = (hk.branching, hk.decay_per_day / 86400.0) if hk is not None else None
    excitation_draws = None
    if excitation is not None and hk is not None and hk.draws:
        excitation_draws = np.array([(b, x, d / 86400.0) for b, x, d in hk.draws], float)
    if sc.parameter_uncertainty and not any(c.rate_draws is not None for c in cells):
        raise DataError("parameter uncertainty needs posterior draws, and this outage model has none (a "
                        "hand-written or point-estimate model): fit the model with seqrisk fit --save, or run "
                        "with point estimates", field="parameter_uncertainty", value=True)
    jr = np.zeros(len(assets))
    jm = np.zeros(len(assets))
    js = np.zeros(len(assets))
    for i, a in enumerate(assets):
        jmp = book.assets[a].jumps
        if jmp is not None:
            jr[i], jm[i], js[i] = jmp.rate_per_year / YEAR_S, jmp.mean, jmp.sigma
    comp = -jr * (np.exp(jm + 0.5 * js * js) - 1.0)
    eta = np.array([book.assets[a].impact_eta for a in assets])
    adv = np.array([book.assets[a].depth_usd for a in assets]) * sc.restart_depth_multiplier
    fi = np.full(len(sim_chains), np.inf)
    if sc.forced_inclusion:
        for i, c in enumerate(sim_chains):
            law = model.chains.get(c)
            f = law.forced_inclusion_delay_s if law is not None else None
            if f is not None:
                fi[i] = f + sc.l1_inclusion_s
    is_opt = pos.kind == KIND_OPTION
    expiries = np.unique(pos.expiry_s[is_opt])
    exp_idx = np.where(is_opt, np.searchsorted(expiries, pos.expiry_s), -1)
    s_pos = spot[pos.asset]
    tau0 = pos.expiry_s / YEAR_S
    v0 = np.where(is_opt, bs_price(s_pos, np.where(is_opt, pos.strike, 1.0), tau0, np.where(is_opt, pos.implied_vol,
                                   0.5), pos.is_call), 0.0)
    d0 = np.where(is_opt, bs_delta(s_pos, np.where(is_opt, pos.strike, 1.0), tau0, np.where(is_opt, pos.implied_vol,
                                   0.5), pos.is_call), 0.0)
    cap_alpha = np.where(pos.kind == KIND_PERP, pos.units * (pos.inv_leverage + sc.margin_buffer),
                         np.where(pos.kind == KIND_LOAN, pos.units, pos.units * pos.inv_leverage))
    cap_beta = np.where(is_opt, pos.units * v0, 0.0)
    notional_units = np.where(pos.kind == KIND_PERP, pos.units, np.where(is_opt, pos.units * np.abs(d0), 0.0))
    c_n, a_n = len(sim_chains), len(assets)
    ca_alpha = np.zeros((c_n, a_n))
    ca_beta = np.zeros((c_n, a_n))
    ca_units = np.zeros((c_n, a_n))
    np.add.at(ca_alpha, (pos.chain, pos.asset), cap_alpha)
    np.add.at(ca_beta, (pos.chain, pos.asset), cap_beta)
    np.add.at(ca_units, (pos.chain, pos.asset), notional_units)
    perp_notional = np.where(pos.kind == KIND_PERP, pos.units * s_pos, 0.0)
    carry = float(sc.cost_of_capital * sc.margin_buffer * np.sum(perp_notional)
                  * sc.horizon_s / YEAR_S)
    return Prepared(book=book, pos=pos, chains=tuple(sim_chains), assets=assets, spot=spot, chol=chol, var_per_s=var,
                    regime_rates_per_s=rates, regime_initial=init, hazard_mult=mult, cells=cells, hawkes=hawkes,
                    excitation=excitation, excitation_draws=excitation_draws,
                    jump_rate_per_s=jr, jump_mean=jm, jump_sigma=js, jump_comp_per_s=comp, eta=eta, adv_usd=adv,
                    fi_exposure_s=fi, expiries_s=expiries, expiry_index=exp_idx, cap_alpha=cap_alpha,
                    cap_beta=cap_beta, notional_units=notional_units, ca_alpha=ca_alpha, ca_beta=ca_beta,
                    ca_units=ca_units, carry_cost_usd=carry,
                    unmodelled_chains=tuple(c for i, c in enumerate(sim_chains) if c in book.chains
                                            and not any(i in cell.members for cell in cells)))
