"""Decisions about sequencer risk (layer 4): levers, comparisons and sweeps, insurance, allocation, chain scores.

Modules, each importing only those above it in this list (no circle):

* ``base``: what a lever is (:class:`Setup`, :class:`Strategy`, :class:`Outcome`);
* ``measures``: EL, VaR, ES and paired differences on common random numbers;
* ``paths``: per-path arrays read back from the loss engine;
* ``books``: the reference book and books copied to several chains;
* ``insurance``: covers, premiums, the insurer's tail;
* ``levers``: grace period, forced inclusion, margin buffer, moving, shared sequencer;
* ``insure``: buying a cover as a lever;
* ``spec``: the text syntax of levers (``grace=1h``, ``buffer=0.1`` ...);
* ``compare``: strategies against a baseline, sweeps of one parameter;
* ``allocation``: the ES-minimising split of a book across chains;
* ``scoring``: chains ranked by what sequencer risk costs a standard book there.

>>> from seqrisk.decide import GracePeriod, MarginBuffer, Strategy
>>> Strategy.of(GracePeriod(3600.0, 0.5), MarginBuffer(0.25)).name
'grace=1h,q=0.5 + buffer=0.25'
"""

from seqrisk.decide.allocation import AllocationResult, allocate, allocate_book, cvar, scenario_losses
from seqrisk.decide.base import Cover, Mitigation, Outcome, Setup, Strategy
from seqrisk.decide.books import REFERENCE_BOOK, reference_book
from seqrisk.decide.compare import (
    MEASURES,
    PERSPECTIVES,
    Comparison,
    StrategyResult,
    SweepResult,
    compare,
    run_setup,
    sweep,
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
    Move,
    SharedSequencer,
    initial_margin_usd,
    scale_duration,
)
from seqrisk.decide.measures import Estimate, PairedDiff
from seqrisk.decide.paths import longest_downtime_s, to_outcome
from seqrisk.decide.scoring import ChainScore, Scores, availability, score_chains
from seqrisk.decide.spec import parse_lever, parse_strategy, parse_sweep, parse_usd, sweep_factory

__all__ = [
    "MEASURES",
    "PERSPECTIVES",
    "REFERENCE_BOOK",
    "AllocationResult",
    "ChainScore",
    "Comparison",
    "Cover",
    "Estimate",
    "ForcedInclusion",
    "GracePeriod",
    "IndemnityCover",
    "Insure",
    "InsurerTail",
    "MarginBuffer",
    "Mitigation",
    "Move",
    "Outcome",
    "PairedDiff",
    "ParametricCover",
    "Pricing",
    "Quote",
    "Scores",
    "Setup",
    "SharedSequencer",
    "Strategy",
    "StrategyResult",
    "SweepResult",
    "allocate",
    "allocate_book",
    "availability",
    "buyer_tail",
    "compare",
    "cvar",
    "initial_margin_usd",
    "insurer_tail",
    "longest_downtime_s",
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
