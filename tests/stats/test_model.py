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


def test_joint_events_become_pooled_common_shocks(stats: OutageStatistics) -> None:
    shocks = {s.group: s for s in stats.model.shocks}
    # APEX and DEGEN, 2024-05-12: the cause names Conduit
    assert {"apex", "degen"} <= set(shocks["conduit"].members) and shocks["conduit"].rate_per_year > 0
    # the joint event is not also counted in the members' own downtime rates
    p = stats.rates["downtime"]
    assert p.counts_[stats.chains.index("apex")] == 0 and p.counts_[stats.chains.index("degen")] == 0
    # one event no longer makes Conduit's chains the riskiest: pooled, Conduit's rate is well below its raw rate,
    # and Base (several outages of its own) outranks Mode and Zora in total
    raw = {g.group: g for g in stats.shocks}
    assert shocks["conduit"].rate_per_year < 0.5 * raw["conduit"].rate_per_year
    total = {c: p.rates_per_year_[stats.chains.index(c)] + stats.shock_rate_per_year(c, "downtime")
             for c in ("base", "mode", "zora", "degen", "apex")}
    assert total["base"] > max(total[c] for c in ("mode", "zora", "degen", "apex"))
    # Dencun and the inscription wave: joint events across chains sharing no named group go to the L1 group
    l1 = raw["ethereum-l1"]
    assert l1.wide and l1.joint_events >= 2
    assert any({"ARB1-20231215", "ZKSERA-20231216"} <= set(j) for j in l1.joint_sources)
    assert any({"STRK-20240313", "BLAST-20240313"} <= set(j) for j in l1.joint_sources)
    assert shocks["ethereum-l1"].extra_hit_probability is not None and 0 < sum(
        shocks["ethereum-l1"].mix.values()) == pytest.approx(1.0)


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
    # predictive, not plug-in: 1 - E[exp(-lambda h)] over the rate posterior, below 1 - exp(-E[lambda] h)
    rate = stats.model.chains["arbitrum"].rates_per_year["downtime"]
    pool = stats.rates["downtime"]
    i = stats.chains.index("arbitrum")
    mix = pool.weights_ @ (1 - ((pool.grid_weight_years_[:, None] + pool.exposures_years_)
                                / (pool.grid_weight_years_[:, None] + pool.exposures_years_ + 30 / 365))
                           ** (pool.grid_shape_[:, None] + pool.counts_))
    shock = stats.shock_rate_per_year("arbitrum", "downtime")
    assert shock > 0
    # own part alone: exactly the negative-binomial mixture; common shocks add to it
    assert mix[i] < d["p_at_least_one"]["estimate"] < 1 - np.exp(-(rate + shock) * 30 / 365)


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
    down = [e for e in st.events.events if e.chain == "arbitrum" and e.type == "downtime"]
    assert len(down) == 3 + 3  # 3 catalog downtimes (before 2025) + 3 detected (own or part of joint events)
    assert st.rates["downtime"].counts_[i] == len(down) - sum(
        st.events.events.index(e) in st.joint_event_indices for e in down)
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
    # P(>=1 in h) given the rate is 1 - exp(-lambda h), monotone in lambda: its interval is the (own + shock)
    # rate interval mapped through it (same draws)
    h = 90 / 365
    d = stats.derived("optimism", "downtime", horizon_s=90 * 86400, n_boot=20000)
    lo, hi = d["outages_per_year"]["low"], d["outages_per_year"]["high"]
    assert d["p_at_least_one"]["low"] == pytest.approx(1 - np.exp(-lo * h), rel=1e-9)
    assert d["p_at_least_one"]["high"] == pytest.approx(1 - np.exp(-hi * h), rel=1e-9)
    own_lo, own_hi = stats.rates["downtime"].posterior_intervals_[stats.chains.index("optimism")]
    assert lo > own_lo and hi > own_hi          # the shocks' rates (with their uncertainty) are added


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


def test_detected_short_stalls_are_not_outages() -> None:
    # a 2-minute stall is counted apart, never as a downtime: it moves neither the rate nor the durations
    win = {"arbitrum": (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))}
    outage = [_ev("arbitrum", "2025-05-01T00:00", 90)]
    stalls = [_ev("arbitrum", f"2025-0{m}-10T00:00", 2) for m in range(2, 9)]
    with_stalls = fit_outage_statistics(CAT, as_of=AS_OF, events=outage + stalls, exposures=win)
    without = fit_outage_statistics(CAT, as_of=AS_OF, events=outage, exposures=win)
    i = with_stalls.chains.index("arbitrum")
    assert with_stalls.rates["downtime"].counts_[i] == without.rates["downtime"].counts_[i]
    assert with_stalls.events.short_stalls == {"arbitrum": 7}
    assert any("7 detected stall(s) shorter than 300 s" in n for n in with_stalls.notes)
    # a detected outage just past the threshold counts
    longer = fit_outage_statistics(CAT, as_of=AS_OF, events=[*outage, _ev("arbitrum", "2025-07-01T00:00", 6)],
                                   exposures=win)
    assert longer.rates["downtime"].counts_[i] == without.rates["downtime"].counts_[i] + 1
