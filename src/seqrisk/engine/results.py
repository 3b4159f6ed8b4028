"""The result of a simulation: measures with standard errors, tables, JSON, Parquet, per-path losses."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from seqrisk._typing import FloatArray
from seqrisk.display import Displayed, Shown, pm, pm_usd
from seqrisk.engine.distribution import LossDistribution
from seqrisk.engine.measures import LEVELS, TailBuffer, WeightedTotals, tail_measures
from seqrisk.engine.prepare import COMPONENTS
from seqrisk.engine.scenario import Scenario
from seqrisk.exceptions import UsageError
from seqrisk.units import format_duration, format_usd

if TYPE_CHECKING:
    from seqrisk.engine.prepare import Prepared

__all__ = ["JSON_SCHEMA", "SimulationResult"]

#: Version of the ``to_json`` layout.
JSON_SCHEMA = 1
#: Rows of the displayed summary: (label, measure, level).
_SHOWN = (("expected loss", "expected_loss", None), ("VaR 95%", "var", 0.95), ("VaR 99%", "var", 0.99),
          ("VaR 99.9%", "var", 0.999), ("ES 99%", "es", 0.99), ("ES 99.9%", "es", 0.999),
          ("P(any liquidation)", "p_liquidation", None))
#: The tables of a result, for :meth:`SimulationResult.to_frame`.
TABLES = ("measures", "positions", "chains", "components")


class SimulationResult(Displayed):
    """Measures of one run. Money in USD over the scenario's horizon; every figure has a standard error.

    ``measures`` rows: ``perspective`` (holder|venue), ``basis``
    (attributable|total), ``measure``, ``level`` (None or 0.95/0.99/0.999),
    ``value``, ``std_error``. In a notebook it shows as a table of the main
    figures (``value ± standard error``); :meth:`plot` draws the loss
    distribution with VaR and ES marked.
    """

    def __init__(self, *, prep: Prepared, scenario: Scenario, totals: WeightedTotals, tails: dict[str, TailBuffer],
                 pos_loss: FloatArray, pos_bad: FloatArray, pos_liq: FloatArray, pos_liq2: FloatArray,
                 diagnostics: dict[str, float], paths: dict[str, np.ndarray] | None,
                 samples: dict[str, tuple[FloatArray, FloatArray, int]] | None = None) -> None:
        self.prep = prep
        self.scenario = scenario
        self._totals = totals
        self._tails = tails
        self._pos = (pos_loss, pos_bad, pos_liq, pos_liq2)
        self._paths = paths
        self._samples = samples or {}
        n = max(totals.n, 1)
        self.n_paths = totals.n
        #: chains of the book for which the outage model has no event at all (they lose nothing at random)
        self.unmodelled_chains: tuple[str, ...] = prep.unmodelled_chains
        self.diagnostics: dict[str, float] = dict(diagnostics)
        mean_p = totals.sum_p / n
        self.diagnostics.update(
            paths=float(totals.n), mean_p_event=mean_p,
            effective_sample_size=(totals.sum_p ** 2 / totals.sum_p2) if totals.sum_p2 > 0 else 0.0,
            plain_mc_equivalent_paths=(n / mean_p) if mean_p > 0 else float("inf"))
        self.measures = self._measures()
        self.positions = self._positions()
        self.chains = self._chains()
        self.components = self._components()

    # -- tables ------------------------------------------------------------------
    def _measures(self) -> pd.DataFrame:
        t = self._totals
        rows: list[dict[str, Any]] = []
        for persp in ("holder", "venue"):
            for basis in ("attributable", "total"):
                name = f"{persp}_{basis}"
                m, se = t.mean_se(name)
                rows.append(dict(perspective=persp, basis=basis, measure="expected_loss", level=None,
                                 value=float(m), std_error=float(se)))
                tm = tail_measures(self._tails[name], t.n, t.sum_p, t.sum_p2)
                for lv in LEVELS:
                    rows.append(dict(perspective=persp, basis=basis, measure="var", level=lv,
                                     value=tm[lv]["var"], std_error=tm[lv]["var_se"]))
                for lv in LEVELS:
                    rows.append(dict(perspective=persp, basis=basis, measure="es", level=lv,
                                     value=tm[lv]["es"], std_error=tm[lv]["es_se"]))
                for meas, key in (("p_liquidation", "p_liquidation"),
                                  ("expected_liquidated_notional", "liquidated_notional")):
                    m2, se2 = t.mean_se(key)
                    rows.append(dict(perspective=persp, basis=basis, measure=meas, level=None, value=float(m2),
                                     std_error=float(se2)))
                if persp == "venue":
                    m3, se3 = t.mean_se("bad_debt")
                    rows.append(dict(perspective=persp, basis=basis, measure="expected_bad_debt", level=None,
                                     value=float(m3), std_error=float(se3)))
        return pd.DataFrame(rows)

    def _positions(self) -> pd.DataFrame:
        prep, t = self.prep, self._totals
        n = max(t.n, 1)
        loss, bad, liq, liq2 = self._pos
        pos = prep.pos
        ci, ai = pos.chain, pos.asset
        lin = (prep.cap_alpha * t.s1["lin_cap"][ci, ai] + prep.cap_beta * t.s1["lin_cap_b"][ci, ai]
               + prep.notional_units * t.s1["lin_not"][ci, ai]) / n
        pl = liq / n
        pl_se = np.sqrt(np.maximum(liq2 / n - pl * pl, 0.0) / n)
        return pd.DataFrame({
            "id": list(pos.ids), "chain": [prep.chains[c] for c in ci],
            "p_liquidation": pl, "p_liquidation_std_error": pl_se,
            "expected_loss_usd": loss / n + lin, "expected_bad_debt_usd": bad / n})

    def _chains(self) -> pd.DataFrame:
        t = self._totals
        mh, sh = t.mean_se("chain_holder")
        mv, sv = t.mean_se("chain_venue")
        return pd.DataFrame({"chain": list(self.prep.chains), "holder_expected_loss_usd": mh,
                             "holder_std_error": sh, "venue_expected_loss_usd": mv, "venue_std_error": sv})

    def _components(self) -> pd.DataFrame:
        t = self._totals
        mh, sh = t.mean_se("comp_holder")
        mv, sv = t.mean_se("comp_venue")
        return pd.DataFrame({"component": list(COMPONENTS), "holder_expected_loss_usd": mh, "holder_std_error": sh,
                             "venue_expected_loss_usd": mv, "venue_std_error": sv})

    # -- access --------------------------------------------------------------------
    def value(self, measure: str, *, perspective: str = "holder", basis: str = "attributable",
              level: float | None = None) -> tuple[float, float]:
        """(value, std_error) of one measure."""
        m = self.measures
        sel = (m.measure == measure) & (m.perspective == perspective) & (m.basis == basis)
        sel &= m.level.isna() if level is None else np.isclose(m.level.astype(float), level)
        if not sel.any():
            raise UsageError("no such measure", field="measure", value=(measure, perspective, basis, level))
        r = m[sel].iloc[0]
        return float(r.value), float(r.std_error)

    def summary(self) -> pd.DataFrame:
        """Main figures: one row per perspective and basis (USD, with standard errors)."""
        rows = []
        for persp in ("holder", "venue"):
            for basis in ("attributable", "total"):
                el, el_se = self.value("expected_loss", perspective=persp, basis=basis)
                es, es_se = self.value("es", perspective=persp, basis=basis, level=0.99)
                var, var_se = self.value("var", perspective=persp, basis=basis, level=0.99)
                pl, pl_se = self.value("p_liquidation", perspective=persp, basis=basis)
                rows.append(dict(perspective=persp, basis=basis, expected_loss_usd=el, expected_loss_se=el_se,
                                 var_99_usd=var, var_99_se=var_se, es_99_usd=es, es_99_se=es_se,
                                 p_liquidation=pl, p_liquidation_se=pl_se))
        return pd.DataFrame(rows)

    def to_frame(self, table: str = "measures") -> pd.DataFrame:
        """A copy of one table: ``measures`` (every measure row, the default), ``positions``, ``chains`` or
        ``components`` (expected losses in USD with their standard errors)."""
        if table not in TABLES:
            raise UsageError(f"no such table (one of {', '.join(TABLES)})", field="table", value=table)
        return pd.DataFrame(getattr(self, table)).copy()

    def _shown(self) -> Shown:
        rows: dict[str, dict[str, str]] = {}
        for label, measure, level in _SHOWN:
            unit = "probability" if measure == "p_liquidation" else "USD"
            fmt = pm if unit == "probability" else pm_usd
            rows[label] = {"unit": unit} | {p: fmt(*self.value(measure, perspective=p, level=level))
                                             for p in ("holder", "venue")}
        rows["expected bad debt"] = {"unit": "USD", "holder": "", "venue": pm_usd(*self.value(
            "expected_bad_debt", perspective="venue"))}
        notes = ["Losses attributable to outages (the same market path with and without the outage); "
                 "± one Monte Carlo standard error. More: .summary(), .to_frame(table), .plot()."]
        if self.unmodelled_chains:
            notes.append(f"No outage model for {', '.join(self.unmodelled_chains)}: they lose nothing at random.")
        return Shown(f"SimulationResult: {self.prep.book.name} over {format_duration(self.scenario.horizon_s)}, "
                     f"{self.n_paths:,} paths, seed {self.scenario.seed}",
                     pd.DataFrame.from_dict(rows, orient="index"), tuple(notes))

    def plot(self, perspective: str = "holder", basis: str = "attributable") -> Any:
        """The exceedance curve ``P(loss > x)`` of one party's loss over the horizon (USD, log axes) with
        VaR 99%, ES 99% and ES 99.9% marked and their 95% intervals shaded; a plotly figure."""
        from seqrisk.engine.plots import MARKS, loss_distribution

        dist = self.loss_distribution(f"{perspective}_{basis}")
        masses = np.where(dist.values > 0, dist.masses, 0.0)
        if not np.any((dist.values >= 1.0) & (masses > 0)):
            raise UsageError(f"no simulated path carries a {perspective} {basis} loss of a dollar or more",
                             field="perspective", value=perspective)
        marks = {}
        for name, level, label in MARKS:
            v, se = self.value(name, perspective=perspective, basis=basis, level=level)
            marks[f"{label} {format_usd(v)}"] = (v, se)
        hz = format_duration(self.scenario.horizon_s)
        return loss_distribution(dist.values, masses, marks, f"{perspective.capitalize()}: P({basis} loss over "
                                 f"{hz} > x), {self.n_paths:,} paths")

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        meas = [{k: clean(v) if k != "level" else (None if v is None or (isinstance(v, float) and math.isnan(v))
                                                    else float(v)) for k, v in r.items()}
                for r in self.measures.to_dict(orient="records")]
        return {
            "schema": JSON_SCHEMA,
            "kind": "seqrisk.simulation",
            "book": self.prep.book.name,
            "scenario": self.scenario.model_dump(mode="json"),
            "measures": meas,
            "positions": [{k: clean(v) for k, v in r.items()} for r in self.positions.to_dict(orient="records")],
            "chains": self.chains.to_dict(orient="records"),
            "components": self.components.to_dict(orient="records"),
            "diagnostics": {k: clean(float(v)) for k, v in self.diagnostics.items()},
            "unmodelled_chains": list(self.unmodelled_chains),
        }

    def to_json(self, **kw: Any) -> str:
        """The JSON document (``measures`` and ``positions`` lists, plus chains, components, diagnostics)."""
        return json.dumps(self.to_dict(), **({"indent": 2} | kw))

    def to_parquet(self, path: Path | str) -> None:
        """Write the measures table to Parquet (positions, chains and components in ``<stem>.<table>.parquet``)."""
        p = Path(path)
        self.measures.to_parquet(p, index=False)
        for name, df in (("positions", self.positions), ("chains", self.chains), ("components", self.components)):
            df.to_parquet(p.with_name(f"{p.stem}.{name}{p.suffix or '.parquet'}"), index=False)

    # -- per-path samples ------------------------------------------------------------
    def path_losses(self) -> pd.DataFrame:
        """Per simulated path: ``path`` id, ``weight`` (the probability of this row's outcome: ``p_event / N``),
        ``p_event``, the four loss series, ``liquidated`` (1 if any position was liquidated on the outcome; a
        probability for censorship events) and per-chain attributable holder/venue losses (``holder:<chain>``,
        ``venue:<chain>``). USD.

        Rows are not equally likely: with rare-event sampling every row holds an outage and the rest of the
        probability, ``1 - weight.sum()``, sits on the no-outage outcome (losses 0, except ``holder_total``:
        the carrying cost of a margin buffer). Use :meth:`loss_distribution` (quantiles, exceedance curve,
        histogram) or ``np.average(x, weights=...)`` with the atom, never the plain mean of a column."""
        if self._paths is None:
            raise UsageError("per-path losses were not kept (set scenario.keep_paths: true)", field="keep_paths")
        d = self._paths
        n = max(self.n_paths, 1)
        cols: dict[str, Any] = {"path": d["path"], "weight": d["p_event"] / n, "p_event": d["p_event"]}
        for k in ("holder_attributable", "holder_total", "venue_attributable", "venue_total", "liquidated"):
            cols[k] = d[k]
        for i, c in enumerate(self.prep.chains):
            cols[f"holder:{c}"] = d["chain_holder"][:, i]
            cols[f"venue:{c}"] = d["chain_venue"][:, i]
        return pd.DataFrame(cols)

    def loss_distribution(self, column: str = "holder_attributable") -> LossDistribution:
        """The weighted distribution of one loss series (``holder_attributable``, ``holder_total``,
        ``venue_attributable``, ``venue_total``), USD: exact from the kept paths, else the exact tail plus a
        bounded sample of the body (see :mod:`seqrisk.engine.distribution`)."""
        if column not in self._tails:
            raise UsageError("no such loss series", field="column", value=column)
        atom = self.prep.carry_cost_usd if column == "holder_total" else 0.0
        if self._paths is not None:
            return LossDistribution.from_paths(self._paths[column], self._paths["p_event"], atom)
        buf = self._tails[column]
        return LossDistribution.build(atom, self.n_paths, (buf.value, buf.p), self._samples.get(column))

    def expected_from_paths(self, column: str, atom: float = 0.0) -> tuple[float, float]:
        """Mean and standard error of a per-path column, no-outage mass included (USD)."""
        df = self.path_losses()
        y = df.p_event.to_numpy() * df[column].to_numpy() + (1 - df.p_event.to_numpy()) * atom
        return float(y.mean()), float(y.std(ddof=1) / math.sqrt(y.size)) if y.size > 1 else float("nan")

    def paired_difference(self, other: SimulationResult, column: str = "holder_attributable") -> tuple[float, float]:
        """E[this - other] and its standard error on common random numbers (same seed, paths and chains)."""
        a, b = self.path_losses(), other.path_losses()
        if len(a) != len(b) or not np.array_equal(a.path.to_numpy(), b.path.to_numpy()) or not np.allclose(
                a.p_event.to_numpy(), b.p_event.to_numpy()):
            raise UsageError("paired comparison needs runs with the same seed, paths and simulated chains")
        atom_a = self.prep.carry_cost_usd if column == "holder_total" else 0.0
        atom_b = other.prep.carry_cost_usd if column == "holder_total" else 0.0
        p = a.p_event.to_numpy()
        y = p * (a[column].to_numpy() - b[column].to_numpy()) + (1 - p) * (atom_a - atom_b)
        return float(y.mean()), float(y.std(ddof=1) / math.sqrt(y.size)) if y.size > 1 else float("nan")
