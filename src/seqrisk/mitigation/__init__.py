"""Mitigations of sequencer risk as composable levers, compared on common random numbers (layer 4).

>>> from seqrisk.mitigation import GracePeriod, MarginBuffer, Strategy
>>> Strategy.of(GracePeriod(3600.0, 0.5), MarginBuffer(0.25)).name
'grace=1h,q=0.5 + buffer=0.25'
"""

from seqrisk.mitigation.base import Cover, Mitigation, Outcome, Setup, Strategy
from seqrisk.mitigation.compare import (
    MEASURES,
    PERSPECTIVES,
    Comparison,
    StrategyResult,
    SweepResult,
    compare,
    run_setup,
    sweep,
    to_outcome,
)
from seqrisk.mitigation.insure import Insure
from seqrisk.mitigation.levers import (
    ForcedInclusion,
    GracePeriod,
    MarginBuffer,
    Move,
    SharedSequencer,
    initial_margin_usd,
    scale_duration,
)
from seqrisk.mitigation.measures import Estimate, PairedDiff
from seqrisk.mitigation.spec import parse_lever, parse_strategy, parse_sweep, parse_usd, sweep_factory

__all__ = [
    "MEASURES",
    "PERSPECTIVES",
    "Comparison",
    "Cover",
    "Estimate",
    "ForcedInclusion",
    "GracePeriod",
    "Insure",
    "MarginBuffer",
    "Mitigation",
    "Move",
    "Outcome",
    "PairedDiff",
    "Setup",
    "SharedSequencer",
    "Strategy",
    "StrategyResult",
    "SweepResult",
    "compare",
    "initial_margin_usd",
    "parse_lever",
    "parse_strategy",
    "parse_sweep",
    "parse_usd",
    "run_setup",
    "scale_duration",
    "sweep",
    "sweep_factory",
    "to_outcome",
]
