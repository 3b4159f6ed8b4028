"""fit_outage_model on the bundled catalog and on detected events; the model file round-trips."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from seqrisk.catalog import load_catalog
from seqrisk.exceptions import DataError, UsageError
from seqrisk.outage import OutageModel
from seqrisk.stats import OutageStatistics, fit_outage_model, fit_outage_statistics
from seqrisk.stats.summary import statistics_doc
from seqrisk.store.state import DetectedEvent

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment

CAT = load_catalog()
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def stats() -> OutageStatistics:
    return fit_outage_statistics(CAT, as_of=AS_OF)


def test_every_chain_gets_a_finite_rate_and_duration_law(stats: OutageStatistics) -> None:
    m = stats.model
    assert set(m.chains) == set(CAT.chain_ids())
    for t in ("downtime", "degraded", "censorship", "reorg", "da_delay"):
        assert t in stats.rates
    for c in CAT.chains:
        law = m.chains[c.id]
        assert law.forced_inclusion_delay_s == c.forced_inclusion_delay_s
        for t, r in law.rates_per_year.items():
            assert math.isfinite(r) and r > 0
            lo, hi = law.rate_intervals[t]
            assert 0 <= lo < r < hi < math.inf
            d = law.durations[t]
            assert all(math.isfinite(v) and v > 0 for v in d.params.values())
            assert 0 < d.ppf(0.5) < d.ppf(0.99) < math.inf
    assert "other" not in m.chains["arbitrum"].rates_per_year


def test_coupling_is_weak_and_carried_with_its_interval(stats: OutageStatistics) -> None:
    m = stats.model
    assert m.beta_interval is not None
    lo, hi = m.beta_interval
    assert lo < m.beta < hi and lo < 0 < hi      # MODEL.md: the coupling is weak
    assert 0.2 < m.sigma_ref < 1.5
    assert stats.coupling is not None and stats.coupling.p_value_ > 0.05


def test_joint_event_becomes_a_common_shock(stats: OutageStatistics) -> None:
    shocks = {s.group: s for s in stats.model.shocks}
    assert set(shocks) == {"conduit"}  # APEX and DEGEN, 2024-05-12: the cause names Conduit
    s = shocks["conduit"]
    assert {"apex", "degen"} <= set(s.members) and s.rate_per_year > 0
    # the joint event is not also counted in the members' own downtime rates
    p = stats.rates["downtime"]
    assert p.counts_[stats.chains.index("apex")] == 0 and p.counts_[stats.chains.index("degen")] == 0
    groups = {g.group: g for g in stats.shocks}
    assert groups["op-stack"].joint_events == 0 and groups["op-stack"].high > 0  # upper bound reported


def test_model_file_round_trips(stats: OutageStatistics, tmp_path: Path) -> None:
    p = tmp_path / "model.json"
    stats.model.save(p)
    back = OutageModel.load(p)
    assert back.to_json() == stats.model.to_json()
    assert back.beta == stats.model.beta and back.hawkes == stats.model.hawkes
    json.loads(p.read_text(), parse_constant=lambda c: pytest.fail(f"non-finite {c} in model file"))


def test_derived_figures_are_finite_or_inf_never_nan(stats: OutageStatistics) -> None:
    d = stats.derived("arbitrum", "downtime", horizon_s=30 * 86400)
    for k, v in d.items():
        assert not any(isinstance(x, float) and math.isnan(x) for x in (v["estimate"], v["low"], v["high"])), k
        assert v["low"] <= v["estimate"] <= v["high"] or k == "horizon_days"
    assert 0 < d["p_at_least_one"]["estimate"] < 1
    assert 0.99 < d["availability"]["estimate"] < 1
    law = stats.model.chains["arbitrum"].durations["downtime"]
    assert d["duration_p99_s"]["estimate"] == pytest.approx(law.ppf(0.99), rel=1e-9)
    rate = stats.model.chains["arbitrum"].rates_per_year["downtime"]
    assert d["p_at_least_one"]["estimate"] == pytest.approx(1 - np.exp(-rate * 30 / 365), rel=1e-9)


def test_statistics_doc_is_strict_json(stats: OutageStatistics) -> None:
    doc = statistics_doc(stats, n_boot=400)
    text = json.dumps(doc, allow_nan=False)
    back = json.loads(text)
    assert set(back["chains"]) == set(CAT.chain_ids())
    assert back["types"]["downtime"]["duration"]["comparison"][0]["delta_aic"] == 0


def test_fit_outage_model_signature_and_flags() -> None:
    base = fit_outage_model(CAT, as_of=AS_OF)
    wide = fit_outage_model(CAT, as_of=AS_OF, include_deliberate=True, include_planned=True)
    assert wide.meta["n_events"] > base.meta["n_events"]
    assert wide.chains["linea"].rates_per_year["downtime"] > base.chains["linea"].rates_per_year["downtime"]


def test_early_as_of_and_before_launch() -> None:
    with pytest.raises(DataError, match=r"before every launch|nothing to fit"):
        fit_outage_model(CAT, as_of=datetime(2019, 1, 1, tzinfo=UTC))
    with pytest.raises(DataError, match="duration"):
        fit_outage_model(CAT, as_of=datetime(2021, 10, 1, tzinfo=UTC))  # one incident: no duration law
    m = fit_outage_model(CAT, as_of=datetime(2022, 6, 1, tzinfo=UTC))
    assert m.chains["base"].rates_per_year["downtime"] > 0  # launched later: prior rate
    assert m.meta["duration_source"]["downtime"] == "all-types"


def _ev(chain: str, start: str, minutes: float | None, type_: str = "downtime") -> DetectedEvent:
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp()
    return DetectedEvent(chain=chain, type=type_, start_utc=t0,
                         end_utc=None if minutes is None else t0 + minutes * 60, confidence=0.9,
                         detector="gap")


def test_detected_events_with_their_exposure_window() -> None:
    events = [_ev("arbitrum", "2025-02-01T00:00", 30), _ev("arbitrum", "2025-05-01T00:00", 90),
              _ev("arbitrum", "2025-12-30T12:00", None),                  # ongoing at as-of: right-censored
              _ev("newchain", "2025-03-01T00:00", 45)]
    win = {"arbitrum": (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
           "newchain": (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))}
    st = fit_outage_statistics(CAT, as_of=AS_OF, events=events, exposures=win)
    i = st.chains.index("arbitrum")
    assert st.rates["downtime"].counts_[i] == 3 + 3  # 3 catalog downtimes (before 2025) + 3 detected
    assert "newchain" in st.model.chains and st.events.exposure_years("newchain") == pytest.approx(1.0, abs=0.01)
    ongoing = next(e for e in st.events.events if e.chain == "arbitrum" and e.start_utc == events[2].start_utc)
    assert ongoing.high_s == math.inf and ongoing.low_s == pytest.approx(36 * 3600)
    assert st.model.meta["detected_events"] == 4


def test_detected_events_without_window_merge_and_dedupe() -> None:
    inc = next(i for i in CAT.incidents if i.id == "BASE-20250805")
    dup = DetectedEvent(chain="base", type="downtime", start_utc=inc.start_utc.timestamp() + 600,
                        end_utc=inc.start_utc.timestamp() + 2400, confidence=1.0, detector="gap")
    new = _ev("base", "2025-11-01T00:00", 20)
    st = fit_outage_statistics(CAT, as_of=AS_OF, events=[dup, new])
    base = fit_outage_statistics(CAT, as_of=AS_OF)
    i = st.chains.index("base")
    assert st.rates["downtime"].counts_[i] == base.rates["downtime"].counts_[i] + 1
    with pytest.raises(UsageError, match="exposure window"):
        fit_outage_statistics(CAT, as_of=AS_OF, events=[_ev("nochain", "2025-01-01T00:00", 5)])


def test_plots_build_figures(stats: OutageStatistics) -> None:
    from seqrisk.stats.plots import forest_figure, km_figure

    km = km_figure(stats, "downtime")
    names = [t.name for t in km.data]
    assert any("Kaplan-Meier" in (n or "") for n in names) and any("chosen by AIC" in (n or "") for n in names)
    fo = forest_figure(stats, "downtime")
    assert len(fo.data) == 2 and len(fo.data[1].x) == len(CAT.chains)
    assert km_figure(stats, "censorship").layout.title.text.endswith("(all modelled types pooled)")


def test_since_shortens_every_exposure_window() -> None:
    since = datetime(2024, 1, 1, tzinfo=UTC)
    st = fit_outage_statistics(CAT, as_of=AS_OF, since=since, group_hawkes=False)
    assert st.events.exposure_years("arbitrum") == pytest.approx(2.0, abs=0.01)
    assert all(e.start_utc >= since.timestamp() for e in st.events.events)
    with pytest.raises(UsageError):
        fit_outage_statistics(CAT, as_of=AS_OF, since=AS_OF)


def test_clustering_within_chains_vs_across_chains(stats: OutageStatistics) -> None:
    # the engine's self-excitation acts within a chain: that fit decides; the pooled one is reported
    assert stats.hawkes is not None and stats.hawkes_pooled is not None
    assert (stats.model.hawkes is not None) == (stats.hawkes.p_value_ < 0.05)
    assert stats.hawkes_pooled.branching_ > stats.hawkes.branching_


def test_no_incidents_is_a_clear_error() -> None:
    from seqrisk.catalog import Catalog

    empty = Catalog(CAT.chains, ())
    with pytest.raises(DataError, match="nothing to fit"):
        fit_outage_model(empty, as_of=AS_OF)


def test_report_plot_aliases() -> None:
    from seqrisk.stats import plots

    assert plots.survival_plot is plots.km_figure and plots.forest_plot is plots.forest_figure


def test_derived_intervals_follow_the_rate_posterior(stats: OutageStatistics) -> None:
    # P(>=1 in h) depends on the rate alone and monotonically: its bootstrap interval is the rate
    # posterior interval mapped through 1 - exp(-lambda h) (up to Monte Carlo error)
    i = stats.chains.index("optimism")
    lo, hi = stats.rates["downtime"].intervals_[i]
    h = 90 / 365
    d = stats.derived("optimism", "downtime", horizon_s=90 * 86400, n_boot=20000)["p_at_least_one"]
    assert d["low"] == pytest.approx(1 - np.exp(-lo * h), rel=0.08)
    assert d["high"] == pytest.approx(1 - np.exp(-hi * h), rel=0.03)


def test_naive_as_of_is_utc() -> None:
    a = fit_outage_model(CAT, as_of=datetime(2026, 1, 1))
    assert a.meta["as_of"] == "2026-01-01T00:00:00Z"


def test_detected_events_with_several_windows_keep_the_catalog_between_them() -> None:
    # block data for Jan-Jun 2024 and Jan-Dec 2025 of base: BASE-20240921 lies between the two windows
    events = [_ev("base", "2024-03-01T00:00", 30), _ev("base", "2025-08-05T06:10", 20)]
    wins = [(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)),
            (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC))]
    st = fit_outage_statistics(CAT, as_of=AS_OF, events=events, exposures={"base": wins}, group_hawkes=False)
    got = sorted((e.source, datetime.fromtimestamp(e.start_utc, UTC).date().isoformat())
                 for e in st.events.events if e.chain == "base")
    assert got == [("BASE-20230905", "2023-09-05"), ("BASE-20240921", "2024-09-21"),
                   ("detected:gap", "2024-03-01"), ("detected:gap", "2025-08-05")]
    launch = CAT.chain("base").exposure_start()
    assert launch is not None
    assert st.events.exposure_years("base") == pytest.approx((AS_OF - launch).total_seconds() / (365 * 86400))
    assert len(st.events.windows["base"]) == 5   # catalog, window, catalog, window, catalog
