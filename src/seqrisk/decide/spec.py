"""The mitigation spec language used by ``seqrisk compare`` (parsed here, pure, so it is testable).

A *strategy* is levers joined by ``+``; a lever is ``kind[=value]`` followed by
``,key=value`` options::

    grace=1h[,qmax=0.5][,response=20m][,sigma=1.5]   oracle grace period 1 h; of the holders under
                                   water a share qmax would top up at all, those whose lognormal response
                                   time (median, log-sigma) is shorter than the grace period do (unset:
                                   the scenario's)
    grace=2h,repay-blocked         ... and the repay path checks the oracle (nobody can top up)
    buffer=0.1[,rate=0.08]         extra collateral 10 % of notional, capital at 8 %/year
                                   (default: the scenario's cost_of_capital)
    margin-rules,maintenance=0.03[,penalty=0.01][,chain=arbitrum]   the venue's margin rules for every perp
    forced-inclusion[,l1=15m][,gas=20]   act through L1 after the chain's delay (+ L1 time, $ per tx)
    move=arbitrum:base[:0.5][,fee=5][,spread=2][,bridge=10][,transit=30m][,rate=0.08]
                                   move (a share of) the arbitrum positions to base; taker fee and
                                   spread in bps of notional, bridge fee in bps of the capital moved,
                                   capital out of the market for the transit time (defaults shown)
    shared=base/optimism[,rate=0.5][,dur=0.5][,shock=0.5][,shock-median=1h][,fee=10k]
    insure=indemnity[,deductible=10k][,limit=1M][,coins=0.1][,loading=0.2][,coc=0.1][,level=0.99]
    insure=parametric,chain=arbitrum,payout=100k,trigger=2h[,loading=..][,coc=..][,level=..]
    grace=1h+buffer=0.25           two levers in one strategy

Durations take ``s, m, h, d``; money takes ``k, M, B`` suffixes and an optional ``$``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from seqrisk.decide.base import Mitigation, Strategy
from seqrisk.decide.insurance import IndemnityCover, ParametricCover, Pricing
from seqrisk.decide.insure import Insure
from seqrisk.decide.levers import (
    ForcedInclusion,
    GracePeriod,
    MarginBuffer,
    MarginRules,
    SharedSequencer,
    duration_label,
)
from seqrisk.decide.move import Move, MoveCost
from seqrisk.exceptions import UsageError
from seqrisk.outage import DurationLaw
from seqrisk.units import parse_duration

__all__ = ["SWEEP_KEYS", "parse_lever", "parse_strategy", "parse_sweep", "parse_usd", "sweep_factory"]

_MONEY = re.compile(r"^\$?\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kmb])?$", re.IGNORECASE)
_SCALE = {None: 1.0, "k": 1e3, "m": 1e6, "b": 1e9}


def parse_usd(text: str, *, field: str | None = None) -> float:
    """``'100k'`` -> 100000.0, ``'$1.5M'`` -> 1500000.0."""
    m = _MONEY.match(str(text).strip())
    if not m:
        raise UsageError("cannot read amount (use e.g. 250, 100k, 1.5M)", field=field, value=text)
    return float(m.group(1)) * _SCALE[m.group(2).lower() if m.group(2) else None]


def _num(text: str, field: str, lo: float | None = None, hi: float | None = None) -> float:
    try:
        v = float(text)
    except ValueError:
        raise UsageError("not a number", field=field, value=text) from None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise UsageError(f"must be in [{lo}, {hi}]", field=field, value=text)
    return v


def _items(text: str) -> tuple[str, str | None, dict[str, str]]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise UsageError("empty mitigation", field="mitigation", value=text)
    kind, _, val = parts[0].partition("=")
    opts: dict[str, str] = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        opts[k.strip().lower()] = v.strip() if eq else "true"
    return kind.strip().lower(), (val.strip() or None), opts


def _pricing(opts: dict[str, str]) -> Pricing:
    return Pricing(loading=_num(opts.pop("loading", "0.2"), "loading", 0),
                   cost_of_capital_per_year=_num(opts.pop("coc", "0.1"), "coc", 0),
                   es_level=_num(opts.pop("level", "0.99"), "level", 0.5, 0.99999))


def _build(kind: str, val: str | None, opts: dict[str, str], text: str) -> Mitigation:
    lever: Mitigation
    if kind == "grace":
        if "q" in opts:
            raise UsageError("q is now qmax: the share of holders who would top up at all; a grace period G saves "
                             "qmax x P(response time < G) of them", field="q", value=text)
        qmax, resp, sig = opts.pop("qmax", None), opts.pop("response", None), opts.pop("sigma", None)
        lever = GracePeriod(parse_duration(val or opts.pop("grace", "1h"), field="grace"),
                            None if qmax is None else _num(qmax, "qmax", 0, 1),
                            None if resp is None else parse_duration(resp, field="response"),
                            None if sig is None else _num(sig, "sigma", 1e-9),
                            opts.pop("repay-blocked", "false") == "true")
    elif kind == "buffer":
        rate = opts.pop("rate", None)
        lever = MarginBuffer(_num(val or opts.pop("buffer", "0.5"), "buffer", 0),
                             None if rate is None else _num(rate, "rate", 0))
    elif kind in ("forced-inclusion", "fi"):
        lever = ForcedInclusion(parse_duration(val or opts.pop("l1", "15m"), field="l1"),
                                parse_usd(opts.pop("gas", "0"), field="gas"))
    elif kind == "margin-rules":
        mm, pen = opts.pop("maintenance", None), opts.pop("penalty", None)
        lever = MarginRules(None if mm is None else _num(mm, "maintenance", 0, 1),
                            None if pen is None else _num(pen, "penalty", 0, 1), opts.pop("chain", None))
    elif kind == "move":
        bits = (val or "").split(":")
        if len(bits) not in (2, 3):
            raise UsageError("move takes FROM:TO[:FRACTION]", field="move", value=val)
        frac = opts.pop("fraction", bits[2] if len(bits) == 3 else "1")
        d = MoveCost()
        rate = opts.pop("rate", None)
        cost = MoveCost(_num(opts.pop("fee", str(d.taker_fee_bps)), "fee", 0),
                        _num(opts.pop("spread", str(d.spread_bps)), "spread", 0),
                        _num(opts.pop("bridge", str(d.bridge_bps)), "bridge", 0),
                        parse_duration(opts.pop("transit", f"{d.transit_s:g}s"), field="transit"),
                        None if rate is None else _num(rate, "rate", 0))
        lever = Move(bits[0], bits[1], _num(frac, "fraction", 0, 1), cost)
    elif kind == "shared":
        chains = tuple(c for c in (val or "").split("/") if c)
        med = opts.pop("shock-median", None)
        lever = SharedSequencer(
            chains, _num(opts.pop("rate", "0.5"), "rate", 0), _num(opts.pop("dur", "0.5"), "dur", 1e-9),
            _num(opts.pop("shock", "0.5"), "shock", 0),
            DurationLaw("lognormal", {"median_s": parse_duration(med, field="shock-median"), "sigma": 1.0})
            if med else None, cost_usd_per_year=parse_usd(opts.pop("fee", "0"), field="fee"))
    elif kind == "insure":
        pricing = _pricing(opts)
        if (val or "indemnity") == "indemnity":
            cover: IndemnityCover | ParametricCover = IndemnityCover(
                parse_usd(opts.pop("deductible", "0"), field="deductible"),
                parse_usd(opts.pop("limit", "1e30"), field="limit"), _num(opts.pop("coins", "0"), "coins", 0, 0.999))
        elif val == "parametric":
            if "chain" not in opts or "payout" not in opts:
                raise UsageError("parametric cover needs chain= and payout=", field="insure", value=text)
            cover = ParametricCover(opts.pop("chain"), parse_usd(opts.pop("payout"), field="payout"),
                                    parse_duration(opts.pop("trigger", "1h"), field="trigger"))
        else:
            raise UsageError("insure takes indemnity or parametric", field="insure", value=val)
        lever = Insure(cover, pricing)
    else:
        raise UsageError("unknown mitigation (known: grace, buffer, margin-rules, forced-inclusion, move, shared, "
                         "insure)",
                         field="mitigation", value=kind)
    if opts:
        raise UsageError(f"unknown option for {kind}", field=next(iter(opts)), value=text)
    return lever


def parse_lever(text: str) -> Mitigation:
    """One lever from its spec, e.g. ``grace=1h,qmax=0.5``."""
    kind, val, opts = _items(text)
    return _build(kind, val, opts, text)


def parse_strategy(text: str, name: str | None = None) -> Strategy:
    """A strategy: levers joined by ``+``, named by its spec unless ``name`` is given."""
    levers = tuple(parse_lever(p) for p in text.split("+") if p.strip())
    if not levers:
        raise UsageError("empty mitigation", field="mitigation", value=text)
    return Strategy(name or text.strip(), levers)


#: Parameters a sweep can vary, and the lever option each one sets.
SWEEP_KEYS = {"grace": ("grace", "duration"), "qmax": ("grace", "number"), "response": ("grace", "duration"),
              "sigma": ("grace", "number"), "buffer": ("buffer", "number"),
              "maintenance": ("margin-rules", "number"), "penalty": ("margin-rules", "number"),
              "fraction": ("move", "number"), "l1": ("forced-inclusion", "duration"),
              "rate": ("shared", "number"), "dur": ("shared", "number")}


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """``'grace=0:4h:9'`` -> ``('grace', [0, 1800, ..., 14400])`` (seconds for durations); a list of values works
    too: ``'grace=0,1s,15m,1h,4h'``."""
    key, eq, rng = text.partition("=")
    key = key.strip().lower()
    if not eq or key not in SWEEP_KEYS:
        raise UsageError(f"sweep takes PARAM=LO:HI:N or PARAM=V1,V2,... with PARAM one of {', '.join(SWEEP_KEYS)}",
                         field="sweep", value=text)
    conv: Callable[[str], float] = ((lambda s: parse_duration(s, field="sweep"))
                                    if SWEEP_KEYS[key][1] == "duration" else (lambda s: _num(s, "sweep")))
    if "," in rng and ":" not in rng:
        values = [conv(v.strip()) for v in rng.split(",") if v.strip()]
        if len(values) < 2 or len(set(values)) != len(values):
            raise UsageError("a sweep list needs at least two different values", field="sweep", value=text)
        return key, values
    bits = rng.split(":")
    if len(bits) != 3:
        raise UsageError("sweep range is LO:HI:N or a list V1,V2,...", field="sweep", value=text)
    lo, hi = conv(bits[0]), conv(bits[1])
    n = int(_num(bits[2], "sweep", 2, 200))
    return key, [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def sweep_factory(key: str, template: str | None) -> Callable[[float], Strategy]:
    """A function value -> strategy: ``template``'s lever of the sweep's kind with ``key`` set to value.

    Without a template the lever is the kind's default (e.g. ``grace`` sweeps
    ``GracePeriod(value)`` with the scenario's response law). Other levers in the template are kept.
    """
    kind = SWEEP_KEYS[key][0]
    parts = [p for p in (template or "").split("+") if p.strip()]
    kinds = (kind, "fi") if kind == "forced-inclusion" else (kind,)
    idx = next((i for i, p in enumerate(parts) if _items(p)[0] in kinds), None)
    if idx is None:
        if kind in ("move", "shared"):
            raise UsageError(f"a {key} sweep needs a --mitigation {kind}=... to vary", field="sweep", value=key)
        parts.append(kind)
        idx = len(parts) - 1
    k0, v0, o0 = _items(parts[idx])

    unit = "s" if SWEEP_KEYS[key][1] == "duration" else ""  # the value as text that reads back exactly

    def make(value: float) -> Strategy:
        opts: dict[str, Any] = dict(o0)
        val = v0
        if key == kind:
            val = repr(float(value)) + unit
        elif key == "fraction":
            val = ":".join((v0 or "").split(":")[:2])
            opts["fraction"] = repr(float(value))
        else:
            opts[key] = repr(float(value)) + unit
        levers = [parse_lever(p) for i, p in enumerate(parts) if i != idx]
        levers.insert(idx, _build(k0, val, dict(opts), parts[idx]))
        shown = duration_label(value) if SWEEP_KEYS[key][1] == "duration" else f"{value:g}"
        return Strategy(f"{key}={shown}", tuple(levers))

    return make

