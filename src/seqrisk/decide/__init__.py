"""Decisions about sequencer risk (layer 4): levers, comparisons and sweeps, insurance, allocation, chain scores.

Modules, each importing only those above it in this list (no circle):

* ``base``: what a lever is (:class:`Setup`, :class:`Strategy`, :class:`Outcome`);
* ``measures``: EL, VaR, ES and paired differences on common random numbers;
* ``paths``: per-path arrays read back from the loss engine;
* ``books``: the reference book and books copied to several chains;
* ``insurance``: covers, premiums, the insurer's tail;
* ``levers``: grace period, margin rules, forced inclusion, margin buffer, shared sequencer;
* ``move``: moving positions to another chain, and what it costs;
* ``insure``: buying a cover as a lever;
* ``spec``: the text syntax of levers (``grace=1h``, ``buffer=0.1`` ...);
* ``compare``: strategies against a baseline on common random numbers;
* ``advice``: what one party (holder or venue) can do about its own loss;
* ``sweep``: one lever parameter swept, both parties' curves, a stated trade-off;
* ``allocation``: the ES-minimising split across chains of a loss matrix (a linear program);
* ``placement``: a book's split across chains with intervals, ties and an out-of-sample check;
* ``scoring``: chains ranked by what sequencer risk costs a standard book there.

>>> from seqrisk.decide import GracePeriod, MarginBuffer, Strategy
>>> Strategy.of(GracePeriod(3600.0, 0.5), MarginBuffer(0.25)).name
'grace=1h,qmax=0.5 + buffer=0.25'
"""

from seqrisk.decide.advice import Advice, LeverEffect, advise
from seqrisk.decide.allocation import AllocationResult, allocate, cvar
from seqrisk.decide.base import PARTIES, Cost, Cover, Mitigation, Outcome, Setup, Strategy
from seqrisk.decide.books import REFERENCE_BOOK, reference_book
from seqrisk.decide.compare import (
    MEASURES,
    PERSPECTIVES,
    Comparison,
    StrategyResult,
    compare,
    run_setup,
)
from seqrisk.decide.insurance import (
    IndemnityCover,
    InsurerTail,
    ParametricCover,
    Pricing,
    Quote,
    buyer_tail,
    insurer_tail,
    price_indemnity,
    price_parametric,
    price_payouts,
    trigger_rate_per_year,
)
from seqrisk.decide.insure import Insure
from seqrisk.decide.levers import (
    ForcedInclusion,
    GracePeriod,
    MarginBuffer,
    MarginRules,
    SharedSequencer,
    initial_margin_usd,
    scale_duration,
)
from seqrisk.decide.measures import Estimate, PairedDiff
from seqrisk.decide.move import Move, MoveCost
from seqrisk.decide.paths import longest_downtime_s, to_outcome
from seqrisk.decide.placement import BookAllocation, Share, allocate_book, scenario_losses
from seqrisk.decide.scoring import ChainScore, Scores, availability, score_chains
from seqrisk.decide.spec import parse_lever, parse_strategy, parse_sweep, parse_usd, sweep_factory
from seqrisk.decide.sweep import SweepResult, optimal_weight_ranges, sweep

__all__ = [
    "MEASURES",
    "PARTIES",
    "PERSPECTIVES",
    "REFERENCE_BOOK",
    "Advice",
    "AllocationResult",
    "BookAllocation",
    "ChainScore",
    "Comparison",
    "Cost",
    "Cover",
    "Estimate",
    "ForcedInclusion",
    "GracePeriod",
    "IndemnityCover",
    "Insure",
    "InsurerTail",
    "LeverEffect",
    "MarginBuffer",
    "MarginRules",
    "Mitigation",
    "Move",
    "MoveCost",
    "Outcome",
    "PairedDiff",
    "ParametricCover",
    "Pricing",
    "Quote",
    "Scores",
    "Setup",
    "Share",
    "SharedSequencer",
    "Strategy",
    "StrategyResult",
    "SweepResult",
    "advise",
    "allocate",
    "allocate_book",
    "availability",
    "buyer_tail",
    "compare",
    "cvar",
    "initial_margin_usd",
    "insurer_tail",
    "longest_downtime_s",
    "optimal_weight_ranges",
    "parse_lever",
    "parse_strategy",
    "parse_sweep",
    "parse_usd",
    "price_indemnity",
    "price_parametric",
    "price_payouts",
    "reference_book",
    "run_setup",
    "scale_duration",
    "scenario_losses",
    "score_chains",
    "sweep",
    "sweep_factory",
    "to_outcome",
    "trigger_rate_per_year",
]
