"""Advice to one party at a time: which of its own levers cut its own loss, on EL and on ES, per dollar it pays.

From a :class:`~seqrisk.decide.compare.Comparison`: for the advised party
(holder or venue) every strategy's paired change of that party's expected loss
and expected shortfall, the cost that party pays, and the cut per dollar of it.
A lever counts as helping when it cuts EL or ES by more than two paired
standard errors; it is *recommended* only to the party that controls it.
Levers another party controls are listed with their effect on the advised
party's loss, for information. The other party's loss never enters.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqrisk.decide.base import check_party
from seqrisk.decide.compare import Comparison, per_usd
from seqrisk.decide.measures import Estimate, PairedDiff, level_name
from seqrisk.units import format_usd

__all__ = ["Advice", "LeverEffect", "advise"]

#: a change counts when it exceeds this many paired standard errors
Z_SIGNIFICANT = 2.0


@dataclass(frozen=True)
class LeverEffect:
    """One strategy's effect on the advised party: changes of its EL and ES (USD, paired) and its cost."""

    strategy: str
    description: str
    party: str | None
    cost_usd: float
    el: PairedDiff
    es: PairedDiff

    @property
    def el_cut_per_usd(self) -> float:
        """EL cut per dollar of the party's cost (``inf`` when free and helpful)."""
        return per_usd(self.el.value, self.cost_usd)

    @property
    def es_cut_per_usd(self) -> float:
        """ES cut per dollar of the party's cost (``inf`` when free and helpful)."""
        return per_usd(self.es.value, self.cost_usd)

    @property
    def cuts_el(self) -> bool:
        return -self.el.value > Z_SIGNIFICANT * self.el.se

    @property
    def cuts_es(self) -> bool:
        return -self.es.value > Z_SIGNIFICANT * self.es.se

    @property
    def raises(self) -> bool:
        """The lever makes the party's EL or ES worse by more than two paired standard errors."""
        return self.el.value > Z_SIGNIFICANT * self.el.se or self.es.value > Z_SIGNIFICANT * self.es.se

    def sentence(self, level: str) -> str:
        """The effect in words: ``"extra margin ...: cuts ES 99% by $1.2k ± 0.3k and EL by ..."``."""
        def change(name: str, d: PairedDiff, per: float) -> str:
            verb = "cuts" if d.value < 0 else "raises"
            txt = f"{verb} {name} by {format_usd(abs(d.value))} ± {format_usd(d.se)}"
            if self.cost_usd > 0 and d.value < 0:
                txt += f" ({per:.2g} per dollar)"
            return txt
        parts = [change(f"ES {level}%", self.es, self.es_cut_per_usd), change("EL", self.el, self.el_cut_per_usd)]
        cost = "at no cost to it" if self.cost_usd <= 0 else f"for {format_usd(self.cost_usd)}"
        txt = f"{self.description}: {' and '.join(parts)}, {cost}"
        if self.cost_usd > 0 and self.el_cut_per_usd < 1:
            txt += " (on average it costs more than it saves: a price paid for a thinner tail)" \
                if self.cuts_es else " (on average it costs more than it saves)"
        return txt


@dataclass(frozen=True)
class Advice:
    """What one party can do about its own loss, from a comparison on common random numbers."""

    party: str
    level: str
    baseline_el: Estimate
    baseline_es: Estimate
    own: tuple[LeverEffect, ...]
    others: tuple[LeverEffect, ...]

    @property
    def recommended(self) -> tuple[LeverEffect, ...]:
        """The party's own levers that cut its EL or ES by more than two paired standard errors, best first."""
        return tuple(e for e in self.own if (e.cuts_el or e.cuts_es))

    def lines(self) -> list[str]:
        """The advice in sentences (first the recommended levers, then what else was tried)."""
        who = "holder" if self.party == "holder" else "venue"
        out = []
        rec = self.recommended
        if rec:
            out += [f"Recommended to the {who}: {e.sentence(self.level)}." for e in rec]
        else:
            out.append(f"None of the {who}'s levers compared cuts its EL or ES {self.level}% by more than two "
                       "standard errors.")
        rest = [e for e in self.own if e not in rec]
        out += [f"Not recommended: {e.sentence(self.level)}." for e in rest]
        out += [f"Not the {who}'s to decide ({e.party or 'no one'} controls it): {e.sentence(self.level)}."
                for e in self.others]
        return out


def _rank(e: LeverEffect) -> tuple[int, float, float]:
    """Free and helpful levers first (by ES cut), then paid ones by ES cut per dollar, then the rest."""
    helps = e.cuts_el or e.cuts_es
    if helps and e.cost_usd <= 0:
        return (0, e.es.value, e.el.value)
    if helps:
        return (1, -e.es_cut_per_usd, -e.el_cut_per_usd)
    return (2, e.es.value, e.el.value)


def advise(cmp: Comparison, party: str, level: float = 0.99) -> Advice:
    """Advice to ``party`` (holder or venue) on its own loss, at ES level ``level``."""
    check_party(party)
    lv = level_name(level)
    es_key, el_key = f"{party}.es{lv}", f"{party}.el"
    own: list[LeverEffect] = []
    others: list[LeverEffect] = []
    for r in cmp.results[1:]:
        if es_key not in r.diffs:
            raise ValueError(f"the comparison has no {es_key}")
        eff = LeverEffect(strategy=r.name, description=r.description, party=r.party, cost_usd=r.cost_usd(party),
                          el=r.diffs[el_key], es=r.diffs[es_key])
        (own if r.party == party else others).append(eff)
    base = cmp.baseline.measures
    return Advice(party=party, level=lv, baseline_el=base[el_key], baseline_es=base[es_key],
                  own=tuple(sorted(own, key=_rank)), others=tuple(sorted(others, key=_rank)))
