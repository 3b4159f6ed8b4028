"""Reading real chains (edge layer): header ingestion, adaptive gap scan, L1 postings, detection runs."""

from seqrisk.ingest.events import (
    DETECTORS,
    chain_health,
    chain_history,
    config_for_chain,
    events_for_fit,
    load_observations,
    run_detection,
)
from seqrisk.ingest.headers import (
    REORG_DETECTOR,
    Ingestor,
    IngestResult,
    NodeBehindError,
    headers_to_table,
    missing_runs,
    uncovered,
)
from seqrisk.ingest.l1 import PostingsResult, ingest_batch_postings, l1_cursor_key
from seqrisk.ingest.scan import Gap, ScanResult, adaptive_scan, block_at_time, full_scan, scan_step

__all__ = ["DETECTORS", "REORG_DETECTOR", "Gap", "IngestResult", "Ingestor", "NodeBehindError", "PostingsResult",
           "ScanResult", "adaptive_scan", "block_at_time", "chain_health", "chain_history", "config_for_chain",
           "events_for_fit", "full_scan", "headers_to_table", "ingest_batch_postings", "l1_cursor_key",
           "load_observations", "missing_runs", "run_detection", "scan_step", "uncovered"]
