"""The README and docs/serve.md quote the service benchmark's last recorded run (benchmarks/results/serve.md), which
is complete: paired, medians of its pairs, every request counted."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


@pytest.mark.parametrize("doc", ["README.md", "docs/serve.md"])
def test_docs_quote_the_recorded_service_benchmark(doc: str) -> None:
    table = (RESULTS / "serve.md").read_text().strip()
    assert table in (ROOT / doc).read_text(), f"{doc} does not quote benchmarks/results/serve.md"


def test_recorded_service_benchmark_is_paired_and_complete() -> None:
    run = json.loads((RESULTS / "serve.json").read_text())
    assert not run["quick"]
    pairs = run["jobs"]["pairs"]
    assert len(pairs) >= 3
    assert run["jobs"]["ratio_cpu_median"] == statistics.median(p["ratio_cpu"] for p in pairs)
    assert run["jobs"]["ratio_wall_median"] == statistics.median(p["ratio_wall"] for p in pairs)
    assert run["reads"]["requests"] == sum(e["n"] for e in run["reads"]["endpoints"].values())
