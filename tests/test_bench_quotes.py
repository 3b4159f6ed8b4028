"""The README and docs/engine.md quote the engine benchmark's last recorded run, table for table.

``make bench`` writes ``benchmarks/results/engine.md``; whoever commits a new run updates both quotes, so the
figures a reader sees are one run's, with its date, load and pair count.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


@pytest.mark.parametrize("doc", ["README.md", "docs/engine.md"])
def test_docs_quote_the_recorded_engine_benchmark(doc: str) -> None:
    table = (RESULTS / "engine.md").read_text().strip()
    assert table in (ROOT / doc).read_text(), f"{doc} does not quote benchmarks/results/engine.md"


def test_recorded_engine_benchmark_is_paired_and_complete() -> None:
    run = json.loads((RESULTS / "engine.json").read_text())
    assert not run.get("skipped")
    for mode in ("base", "stress"):
        pairs = run["speed"][mode]["pairs"]
        assert len(pairs) >= 3
        assert run["speed"][mode]["ratio_cpu_median"] == statistics.median(p["ratio_cpu"] for p in pairs)
    assert run["reference_values"]["paths"] >= 400_000
    assert set(run["memory"]) == {"base", "conditional", "stress rate", "stress outage"}
    assert all(r["paths"] >= 10_000_000 and r["positions"] == 10_000 for r in run["memory"].values())


def test_readme_quotes_the_recorded_startup_benchmark() -> None:
    table = (RESULTS / "startup.md").read_text().strip()
    assert table in (ROOT / "README.md").read_text(), "README.md does not quote benchmarks/results/startup.md"
    run = json.loads((RESULTS / "startup.json").read_text())
    for cmd in run["commands"]:
        assert len(cmd["pairs"]) >= 3
        assert cmd["ratio_cpu_median"] == statistics.median(p["ratio_cpu"] for p in cmd["pairs"])
    chains = next(c for c in run["commands"] if c["command"] == "seqrisk chains")
    assert chains["lazy_cpu_s_median"] < 0.5  # the recorded run met the start-up goal


@pytest.mark.parametrize("doc", ["README.md", "docs/monitor.md"])
def test_docs_quote_the_recorded_monitor_benchmark(doc: str) -> None:
    """The detection figures a reader sees are one recorded run's (``benchmarks/bench_monitor.py``)."""
    table = (RESULTS / "monitor.md").read_text().strip()
    assert table in (ROOT / doc).read_text(), f"{doc} does not quote benchmarks/results/monitor.md"


def test_recorded_monitor_benchmark_is_a_year_with_both_detectors() -> None:
    run = json.loads((RESULTS / "monitor.json").read_text())
    for kind in ("slow spells", "steady"):
        r = run["chains"][kind]
        assert r["polls"] * run["poll_s"] >= 364 * 86400
        for det in ("seqrisk", "chainlink_120s"):
            assert r[det]["detected"] + r[det]["missed"] == run["outages"]
