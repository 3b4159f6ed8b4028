"""Reports built from results (layer 4): the self-contained HTML risk report."""

from seqrisk.report.build import ReportInputs, build_report
from seqrisk.report.stress import DEFAULT_DURATIONS_S, DEFAULT_MOVES, liquidation_for_book, stress_for_book

__all__ = ["DEFAULT_DURATIONS_S", "DEFAULT_MOVES", "ReportInputs", "build_report", "liquidation_for_book",
           "stress_for_book"]
