"""examples/lending.yaml as it was before its cohorts kept their health factor: passive borrowers, mild jumps,
no Morpho-style cohort."""

from __future__ import annotations

from pathlib import Path

LENDING = Path(__file__).resolve().parents[1] / "examples" / "lending.yaml"


def passive_lending(path: Path) -> Path:
    """Write the example with passive borrowers (no ``keeps_health_factor``) and mild jumps (ETH 6/yr, mean -1%,
    s.d. 4%; none on BTC) to ``path``: loans that keep 17% or more of price between liquidation and bad debt."""
    text = LENDING.read_text(encoding="utf-8")
    text = text[:text.index("  # Base: a Morpho-style")]  # the thin-cushion cohorts came with the change
    for old, new in ((", keeps_health_factor: true", ""),
                     ("jumps: {rate_per_year: 8, mean: -0.04, sigma: 0.10}",
                      "jumps: {rate_per_year: 6, mean: -0.01, sigma: 0.04}"),
                     ("    jumps: {rate_per_year: 2, mean: -0.10, sigma: 0.03}\n", "")):
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path
