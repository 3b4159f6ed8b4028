"""Backtest: its scores favour the model the data come from; on the catalog it runs end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from seqrisk.catalog import load_catalog
from seqrisk.cli.app import app
from seqrisk.exceptions import UsageError
from seqrisk.stats import GammaPoissonPooling
from seqrisk.stats.backtest import COUNT_MODELS, backtest, count_forecasts, count_scores, nb_mixture_pmf


def _scores(rng: np.random.Generator, shape: float | None, reps: int = 40, n: int = 26) -> dict[str, np.ndarray]:
    """Log scores (reps, chains) and 90% hits of the three forecasts of next year's counts, at the catalog's
    design: 26 chains trained on 1-5 years, rates gamma(shape, mean 0.3) (``shape`` None: every chain at 0.3)."""
    ls: dict[str, list[float]] = {m: [] for m in COUNT_MODELS}
    hit: dict[str, list[bool]] = {m: [] for m in COUNT_MODELS}
    for _ in range(reps):
        lam = rng.gamma(shape, 0.3 / shape, n) if shape is not None else np.full(n, 0.3)
        t = rng.uniform(1, 5, n)
        k = rng.poisson(lam * t)
        k_next = rng.poisson(lam * 1.0)
        pool = GammaPoissonPooling().fit(k, t)
        equal = k.sum() / t.sum()
        for i in range(n):
            for m, pmf in count_forecasts(pool, i, int(k[i]), float(t[i]), equal, 1.0).items():
                s, _, inside, _ = count_scores(pmf, int(k_next[i]))
                ls[m].append(s)
                hit[m].append(inside)
    return {**{m: np.array(v).reshape(reps, n) for m, v in ls.items()},
            **{f"{m}:90": np.array(v) for m, v in hit.items()}}


@pytest.mark.slow
def test_scores_favour_the_pooled_model_when_chains_differ() -> None:
    s = _scores(np.random.default_rng(3), shape=1.1)
    # the data come from the gamma-Poisson model: its predictive beats equal rates and raw rates per chain
    # (paired differences of each replication's total log score, > 3 standard errors)
    for other in ("pooled-equal", "per-chain"):
        d = (s["model"] - s[other]).sum(axis=1)
        assert d.mean() > 3.0 * d.std(ddof=1) / np.sqrt(d.size), other
    assert s["model:90"].mean() >= 0.9


@pytest.mark.slow
def test_scores_favour_equal_rates_when_chains_are_alike() -> None:
    s = _scores(np.random.default_rng(4), shape=None)
    # every chain at one rate: naive pooling is the true model and wins; the pooled model stays close to it
    # (it learns the chains are alike), raw per-chain rates overfit and lose
    d_naive = (s["pooled-equal"] - s["model"]).sum(axis=1)
    d_raw = (s["model"] - s["per-chain"]).sum(axis=1)
    se = d_naive.std(ddof=1) / np.sqrt(d_naive.size)
    assert -2.0 * se < d_naive.mean() < 0.02 * 26  # the pooled model loses < 0.02 nats per chain to the truth
    assert d_raw.mean() > 3.0 * d_raw.std(ddof=1) / np.sqrt(d_raw.size)


def test_count_pmf_is_the_negative_binomial_convolved_with_shock_hits() -> None:
    from scipy import stats as sps

    pmf = nb_mixture_pmf(np.array([0.3, 0.7]), np.array([1.5, 3.0]), np.array([2.0, 5.0]), 1.5, shock_mean=0.4)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    own = 0.3 * sps.nbinom.pmf(np.arange(4), 1.5, 2.0 / 3.5) + 0.7 * sps.nbinom.pmf(np.arange(4), 3.0, 5.0 / 6.5)
    direct = sum(own[j] * sps.poisson.pmf(2 - j, 0.4) for j in range(3))
    assert pmf[2] == pytest.approx(direct, rel=1e-12)
    mean = float(np.arange(pmf.size) @ pmf)
    assert mean == pytest.approx(0.3 * 1.5 / 2.0 * 1.5 + 0.7 * 3.0 / 5.0 * 1.5 + 0.4, rel=1e-9)


def test_backtest_on_the_catalog_scores_every_observed_chain_window() -> None:
    bt = backtest(load_catalog(), train_until=datetime(2024, 1, 1, tzinfo=UTC),
                  test_until=datetime(2026, 1, 1, tzinfo=UTC))
    assert [o.year for o in bt.origins] == [2024, 2025]
    assert bt.rows and all(r["exposure_years"] > 0 for r in bt.rows)
    summ = bt.summary()
    for m in COUNT_MODELS:
        assert np.isfinite(summ[m]["log_score"]) and sum(summ[m]["pit_histogram"]) == len(bt.rows)
    # the observed events are the catalog's downtime events in the windows, the same for every model
    assert summ["model"]["events"] == sum(r["observed"] for r in bt.rows) > 0
    doc = json.loads(json.dumps(bt.to_dict(), allow_nan=False))
    assert doc["models"] == list(COUNT_MODELS)


def test_backtest_cli_table_json_and_plot(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--home", str(tmp_path / "home"), "backtest", "--train-until", "2024-07-01", "--test-until",
            "2026-01-01"]
    r = runner.invoke(app, base, catch_exceptions=False, env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert max(len(x.rstrip()) for x in r.output.splitlines()) <= 80
    for m in COUNT_MODELS:
        assert any(x.startswith(m) for x in r.output.splitlines()), m
    plot = tmp_path / "bt.html"
    r = runner.invoke(app, [*base, "--json", "--plot", str(plot)], catch_exceptions=False)
    doc = json.loads(r.output)
    assert doc["schema"] == "seqrisk.backtest/1" and doc["plot"] == str(plot) and plot.stat().st_size > 10_000
    assert set(doc["summary"]) == set(COUNT_MODELS)
    bad = runner.invoke(app, ["--home", str(tmp_path / "home"), "backtest", "--train-until", "2030-01-01"])
    assert isinstance(bad.exception, UsageError) and bad.exception.exit_code == 2
    assert "train-until" in str(bad.exception)
