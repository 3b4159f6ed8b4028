"""The alert machine's hysteresis over constructed status sequences, and the alert documents."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqrisk.monitor.alerts import SEVERITY, AlertMachine, Transition, alert_document, alertmanager_alerts
from seqrisk.monitor.types import State, Status


def status(t: float, state: State, p: float | None = None, down_for_s: float = 0.0, chain: str = "base") -> Status:
    p = {"healthy": 0.01, "degraded": 0.5, "down": 0.99}[state] if p is None else p
    return Status(chain=chain, observed_utc=t, state=state, p_down=p, head_number=100, head_age_observer_s=down_for_s,
                  head_age_block_s=down_for_s, down_for_s=down_for_s, reasons=(f"{state} reason",))


def run(m: AlertMachine, states: list[State], t0: float = 1000.0, dt: float = 2.0) -> list[Transition]:
    out = []
    stalled_since = None
    for i, s in enumerate(states):
        t = t0 + i * dt
        if s == "healthy":
            stalled_since = None
        elif stalled_since is None:
            stalled_since = t - dt
        tr = m.step(status(t, s, down_for_s=0.0 if stalled_since is None else t - stalled_since))
        if tr:
            out.append(tr)
    return out


def test_one_slow_round_raises_nothing() -> None:
    m = AlertMachine("base", raise_rounds=2, clear_rounds=3)
    assert run(m, ["healthy", "down", "healthy", "healthy", "degraded", "healthy"]) == []
    assert m.state == "healthy"


def test_down_is_raised_after_raise_rounds_and_cleared_after_clear_rounds() -> None:
    m = AlertMachine("base", raise_rounds=2, clear_rounds=3)
    trs = run(m, ["healthy", "down", "down", "down", "healthy", "healthy", "down", "healthy", "healthy", "healthy"])
    assert [(t.from_state, t.to_state) for t in trs] == [("healthy", "down"), ("down", "healthy")]
    raise_, clear = trs
    assert raise_.at_utc == 1004.0          # the second down round
    assert raise_.incident_start_utc == 1000.0  # the last round the head advanced
    assert raise_.detection_latency_s == 4.0
    assert clear.at_utc == 1018.0           # the third healthy round in a row (the down at 1012 reset the count)
    assert clear.incident_start_utc == raise_.incident_start_utc and m.incident_start_utc is None


def test_flicker_between_worse_states_raises_the_milder_then_escalates() -> None:
    m = AlertMachine("base", raise_rounds=2, clear_rounds=2)
    trs = run(m, ["healthy", "down", "degraded", "down", "down", "degraded", "healthy", "healthy"])
    assert [(t.from_state, t.to_state) for t in trs] == [("healthy", "degraded"), ("degraded", "down"),
                                                         ("down", "degraded")]
    # both changes belong to one incident: same start, distinct fingerprints
    assert len({t.incident_start_utc for t in trs}) == 1 and len({t.fingerprint for t in trs}) == 3
    # degraded, healthy: better rounds count together and the change goes to the worst of them
    assert trs[-1].at_utc == 1000.0 + 6 * 2.0


def test_degraded_alerts_can_be_switched_off() -> None:
    m = AlertMachine("base", raise_rounds=1, clear_rounds=1, degraded=False)
    trs = run(m, ["degraded", "degraded", "down", "degraded", "healthy"])
    assert [(t.from_state, t.to_state) for t in trs] == [("healthy", "down"), ("down", "healthy")]


def test_saved_state_resumes_without_alerting_again() -> None:
    m = AlertMachine("base", raise_rounds=2, clear_rounds=2)
    first = run(m, ["healthy", "down", "down", "down"])
    assert len(first) == 1
    saved = json.loads(json.dumps(m.to_state()))
    again = AlertMachine.from_state("base", saved, raise_rounds=2, clear_rounds=2)
    assert again.step(status(1010.0, "down", down_for_s=10.0)) is None
    assert again.state == "down" and again.incident_start_utc == first[0].incident_start_utc
    trs = run(again, ["healthy", "healthy"], t0=1012.0)
    assert [(t.from_state, t.to_state) for t in trs] == [("down", "healthy")]
    assert trs[0].fingerprint == f"base:{first[0].incident_start_utc:.3f}:healthy:{trs[0].at_utc:.3f}"
    with pytest.raises(ValueError, match="not healthy, degraded or down"):
        AlertMachine.from_state("base", {**saved, "state": "on fire"})


def reference(states: list[State], k_up: int, k_down: int) -> list[tuple[State, State, int]]:
    """Slow, obvious twin: alerted state changes when the last k statuses all lie on one side of it."""
    alerted: State = "healthy"
    out = []
    run_side, run_len, extreme = 0, 0, 0
    for i, s in enumerate(states):
        side = (SEVERITY[s] > SEVERITY[alerted]) - (SEVERITY[s] < SEVERITY[alerted])
        if side == 0:
            run_side, run_len = 0, 0
            continue
        if side != run_side:
            run_side, run_len, extreme = side, 0, SEVERITY[s]
        run_len += 1
        extreme = min(extreme, SEVERITY[s]) if side > 0 else max(extreme, SEVERITY[s])
        if run_len >= (k_up if side > 0 else k_down):
            new = ("healthy", "degraded", "down")[extreme]
            out.append((alerted, new, i))
            alerted, run_side, run_len = new, 0, 0  # type: ignore[assignment]
    return out


@settings(max_examples=300, deadline=None)
@given(states=st.lists(st.sampled_from(["healthy", "degraded", "down"]), max_size=60),
       k_up=st.integers(1, 4), k_down=st.integers(1, 4))
def test_machine_matches_its_reference_twin(states: list[State], k_up: int, k_down: int) -> None:
    m = AlertMachine("base", raise_rounds=k_up, clear_rounds=k_down)
    got = []
    for i, s in enumerate(states):
        tr = m.step(status(float(i), s))
        if tr:
            got.append((tr.from_state, tr.to_state, i))
    assert got == reference(states, k_up, k_down)
    # hysteresis: every alerted change follows at least k rounds on its side, so runs shorter than both never alert
    for (_a, _b, i), (_c, _d, j) in itertools.pairwise(got):
        assert j - i >= min(k_up, k_down)


def test_alert_document_carries_probability_nowcast_and_alertmanager_form() -> None:
    m = AlertMachine("base", raise_rounds=1)
    st_ = status(1060.0, "down", p=0.97, down_for_s=60.0)
    tr = m.step(st_)
    assert tr is not None
    nc = {"p_still_down": [{"at": "+15m", "in_s": 900.0, "p": 0.4}], "books": [{"book": "desk", "es_usd": 1e5}]}
    doc = alert_document(tr, st_, nc)
    assert doc["schema"] == "seqrisk.alert/1" and doc["kind"] == "down" and doc["p_down"] == 0.97
    assert doc["nowcast"] == nc and doc["detection_latency_s"] == 60.0 and doc["at"] == "1970-01-01T00:17:40Z"
    (am,) = doc["alertmanager"]
    assert am["labels"] == {"alertname": "L2SequencerDown", "chain": "base", "severity": "critical",
                            "source": "seqrisk"}
    assert all(isinstance(v, str) for v in am["annotations"].values())  # Alertmanager takes strings only
    assert json.loads(am["annotations"]["nowcast"]) == nc and am["startsAt"] == "1970-01-01T00:16:40Z"
    assert "endsAt" not in am
    # clearing resolves the firing alert: same labels and start, with an end
    clear = AlertMachine.from_state("base", m.to_state(), clear_rounds=1).step(status(1100.0, "healthy"))
    assert clear is not None
    (res,) = alertmanager_alerts(clear, status(1100.0, "healthy"))
    assert res["labels"] == am["labels"] and res["startsAt"] == am["startsAt"]
    assert res["endsAt"] == "1970-01-01T00:18:20Z"
