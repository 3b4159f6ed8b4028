"""L2BEAT-style risk entries derived from a chain's declared design.

Each entry is ``{value, description, sentiment, defining_metric}`` so it renders
as prose and also sorts. Entries follow the chain's fields only: an unknown
field gives an ``unknown`` sentiment, never a guess.
"""

from __future__ import annotations

from seqrisk.catalog.schema import Chain, RiskEntry
from seqrisk.units import format_duration

__all__ = ["risk_entries"]

_SEQUENCER = {
    "centralized": ("bad", "One operator runs a single sequencer: if it stops, the chain stops."),
    "centralized-ha": ("warning", "One operator runs a sequencer with documented failover; a shared "
                                  "bug or dependency still stops the chain."),
    "decentralized": ("warning", "A permissioned pool of sequencers orders transactions; the pool "
                                 "shares software and governance."),
    "based": ("good", "Ordering comes from Ethereum's proposers (based rollup)."),
}
_DA = {
    "ethereum-blobs": ("good", "Transaction data is posted to Ethereum as blobs."),
    "ethereum-calldata": ("good", "Transaction data is posted to Ethereum as calldata."),
    "ethereum-state-diffs": ("good", "State differences are posted to Ethereum."),
    "celestia": ("warning", "Data is posted to Celestia, an external DA layer."),
    "eigenda": ("warning", "Data is posted to EigenDA, an external DA layer."),
    "dac": ("bad", "A data availability committee attests to the data; it is not on Ethereum."),
}
_PROOFS = {
    "fraud-permissionless": ("good", "Anyone can challenge a wrong state root (permissionless fraud proofs)."),
    "fraud-permissioned": ("warning", "Only whitelisted actors can challenge a wrong state root."),
    "validity": ("good", "State roots are proven with validity (ZK) proofs."),
    "none": ("bad", "No proof system checks state roots."),
}
_DAY_S = 86400.0


def _forced_inclusion(chain: Chain) -> RiskEntry:
    mech, delay = chain.forced_inclusion, chain.forced_inclusion_delay_s
    if mech is None:
        return RiskEntry(name="forced_inclusion", value="unknown", sentiment="unknown",
                         description="The forced-inclusion mechanism is not verified.")
    if mech == "none":
        return RiskEntry(name="forced_inclusion", value="none", sentiment="bad",
                         description="Users cannot force a transaction in through L1: a stopped "
                                     "sequencer freezes every position until it restarts.")
    if mech == "enqueue":
        return RiskEntry(name="forced_inclusion", value="enqueue", sentiment="bad",
                         description="Users can enqueue on L1 but nothing forces the sequencer to include it.")
    label = {"self-sequence": "self-sequence", "force-via-l1": "forced request via L1"}[mech]
    if delay is None:
        return RiskEntry(name="forced_inclusion", value=f"{label}, delay unknown", sentiment="warning",
                         description="Users can force transactions through L1; the delay is not verified.",
                         metric_unit="s")
    sentiment = "good" if delay <= _DAY_S else ("warning" if delay <= 7 * _DAY_S else "bad")
    if mech == "force-via-l1":
        sentiment = "warning" if sentiment == "good" else sentiment
    return RiskEntry(name="forced_inclusion", value=f"{label} after {format_duration(delay)}",
                     sentiment=sentiment, defining_metric=delay, metric_unit="s",
                     description=f"After {format_duration(delay)} without inclusion a user can act "
                                 "through L1, which bounds how long a position stays frozen.")


def risk_entries(chain: Chain) -> tuple[RiskEntry, ...]:
    """Risk entries for sequencer failure, forced inclusion, data availability and proofs."""
    entries: list[RiskEntry] = []
    if chain.sequencer is None:
        entries.append(RiskEntry(name="sequencer_failure", value="unknown", sentiment="unknown",
                                 description="The sequencer design is not verified."))
    else:
        s, d = _SEQUENCER[chain.sequencer]
        feed = chain.chainlink_uptime_feed
        extra = (" A Chainlink sequencer uptime feed exists." if feed not in (None, "none")
                 else (" No Chainlink sequencer uptime feed." if feed == "none" else ""))
        entries.append(RiskEntry(name="sequencer_failure", value=chain.sequencer, sentiment=s,
                                 description=d + extra))
    entries.append(_forced_inclusion(chain))
    da = chain.data_availability
    s, d = _DA.get(da or "", ("unknown", "The data availability layer is not verified."))
    entries.append(RiskEntry(name="data_availability", value=da or "unknown", sentiment=s,
                             description=d))
    ps = chain.proof_system
    s, d = _PROOFS.get(ps or "", ("unknown", "The proof system is not verified."))
    entries.append(RiskEntry(name="proofs", value=ps or "unknown", sentiment=s,
                             description=d, defining_metric=float(chain.stage) if chain.stage is not None else None,
                             metric_unit="L2BEAT stage"))
    return tuple(entries)
