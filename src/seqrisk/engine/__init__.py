"""The Monte Carlo loss engine (layer 3): scenarios, cascades, losses, risk measures, results."""

from seqrisk.engine.cascade import CascadeResult, run_cascade
from seqrisk.engine.results import SimulationResult
from seqrisk.engine.scenario import BLOCK_PATHS, ExplicitOutage, Regime, Scenario, StressOutage, load_scenario
from seqrisk.engine.simulate import simulate
from seqrisk.engine.stress import liquidation_probability, stress_grid

__all__ = [
    "BLOCK_PATHS",
    "CascadeResult",
    "ExplicitOutage",
    "Regime",
    "Scenario",
    "SimulationResult",
    "StressOutage",
    "liquidation_probability",
    "load_scenario",
    "run_cascade",
    "simulate",
    "stress_grid",
]
