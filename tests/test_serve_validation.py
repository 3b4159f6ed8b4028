"""One validation for the API and the CLI (issue 17): every job kind's request refuses what its command refuses.

Each case is a value the command line refuses, sent as the request field of the
same meaning: the API answers 422 naming the field's path in the request and the
value, without queueing anything; the command, run for real on the same value,
exits with one line naming its option and the value (2 for an option's value, 1
for bad data in a file, the CLI's rule). Both sides get their verdict from the
same code (the book loader's and the scenario's models, the lever parser, the
catalog, the backtest's window check), so they cannot drift apart unseen.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from serve_util import BOOK, bearer, cli, start, token

DESK = yaml.safe_load(BOOK.read_text())

#: a valid request of each kind and the command line it stands for ({book}: the book file, {out}: a temp dir)
BASE: dict[str, tuple[dict[str, Any], list[str]]] = {
    "simulate": ({"book": DESK}, ["simulate", "{book}"]),
    "report": ({"book": DESK}, ["report", "{book}", "--out", "{out}/r.html"]),
    "compare": ({"book": DESK, "mitigations": ["grace=1h"]}, ["compare", "{book}", "-m", "grace=1h"]),
    "insure": ({"chains": ["base"]}, ["insure", "--chain", "base"]),
    "allocate": ({"book": DESK, "chains": ["arbitrum", "base"]}, ["allocate", "{book}", "--chains", "arbitrum,base"]),
    "score": ({}, ["score"]),
    "backtest": ({"train_until": "2023-01-01"}, ["backtest", "--train-until", "2023-01-01"]),
}


def _position(**change: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(DESK))
    doc["positions"][0].update(change)
    return doc


# kind, request fields changed, (API field path, value), CLI arguments added, (CLI option, value as shown), exit
CASES: list[tuple[str, dict[str, Any], tuple[str, Any], list[str], tuple[str, str], int]] = [
    ("simulate", {"paths": 0}, ("paths", 0), ["--paths", "0"], ("paths", "0"), 2),
    ("simulate", {"horizon": "-1d"}, ("horizon", "-1d"), ["--horizon", "-1d"], ("--horizon", "'-1d'"), 2),
    ("simulate", {"seed": -1}, ("seed", -1), ["--seed", "-1"], ("--seed", "-1"), 2),
    ("simulate", {"as_of": "2023-13-01"}, ("as_of", "2023-13-01"), ["--as-of", "2023-13-01"],
     ("--as-of", "2023-13-01"), 2),
    ("simulate", {"stress": ["nochain=2h"]}, ("stress[0]", "nochain=2h"), ["--outage", "nochain=2h"],
     ("--outage", "nochain"), 2),
    ("simulate", {"stress": ["unichain=2h"]}, ("stress[0]", None), ["--outage", "unichain=2h"],
     ("--outage", "unichain"), 2),
    ("report", {"stress": ["unichain=2h"]}, ("stress[0]", None), ["--outage", "unichain=2h"],
     ("--outage", "unichain"), 2),
    ("compare", {"stress": ["unichain=2h"]}, ("stress[0]", None), ["--outage", "unichain=2h"],
     ("--outage", "unichain"), 2),
    ("simulate", {"book": _position(leverage=-5)}, ("book.positions[0].leverage", -5), [], ("leverage", "-5"), 1),
    ("simulate", {"book": _position(chain="nochain")}, ("book.positions[0].chain", "nochain"), [],
     ("chain", "nochain"), 1),
    ("report", {"paths": 50}, ("paths", 50), ["--paths", "50"], ("--paths", "'50'"), 2),
    ("report", {"horizon": "0s"}, ("horizon", "0s"), ["--horizon", "0s"], ("--horizon", "0s"), 2),
    ("report", {"scenario": {"grace_period_s": -1}}, ("scenario.grace_period_s", None), ["--config", "{config}"],
     ("grace_period_s", "-1"), 1),
    ("compare", {"mitigations": ["grace=bogus"]}, ("mitigations[0]", "bogus"), ["-m", "grace=bogus"],
     ("grace", "bogus"), 2),
    ("compare", {"sweep": "grace=0:4h"}, ("sweep", "grace=0:4h"), ["--sweep", "grace=0:4h"],
     ("sweep", "grace=0:4h"), 2),
    ("compare", {"perspective": "lender"}, ("perspective", "lender"), ["--perspective", "lender"],
     ("perspective", "lender"), 2),
    ("insure", {"chains": ["nochain"]}, ("chains[0]", "nochain"), ["--chain", "nochain"], ("chain", "nochain"), 2),
    ("insure", {"payout": "abc"}, ("payout", "abc"), ["--payout", "abc"], ("--payout", "abc"), 2),
    ("insure", {"trigger": "0s"}, ("trigger", "0s"), ["--trigger", "0s"], ("--trigger", "0s"), 2),
    ("insure", {"book": DESK, "chains": ["unichain"]}, ("chains[0]", None), ["{book}", "--chain", "unichain"],
     ("--chain", "unichain"), 2),
    ("allocate", {"chains": ["base"]}, ("chains", ["base"]), ["--chains", "base"], ("chains", "base"), 2),
    ("allocate", {"paths": 20, "replications": 3}, ("paths", 20), ["--paths", "20", "--replications", "3"],
     ("paths", "20"), 2),
    ("allocate", {"replications": 1}, ("replications", 1), ["--replications", "1"], ("--replications", "'1'"), 2),
    ("score", {"chains": ["nochain"]}, ("chains[0]", "nochain"), ["--chain", "nochain"], ("chain", "nochain"), 2),
    ("score", {"by": "xx"}, ("by", "xx"), ["--by", "xx"], ("--by", "xx"), 2),
    ("backtest", {"test_until": "2022-01-01"}, ("train_until", "2023-01-01"), ["--test-until", "2022-01-01"],
     ("--train-until", "2023-01-01"), 2),
    ("backtest", {"step": "1h"}, ("step", "1h"), ["--step", "1h"], ("--step", "1h"), 2),
    ("backtest", {"type": "rain"}, ("type", "rain"), ["--type", "rain"], ("--type", "rain"), 2),
]


def _id(case: tuple[Any, ...]) -> str:
    return f"{case[0]}-{case[2][0]}"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("serve-validation")
    write = token(home, "write")
    with start(home, "--workers", "0") as srv, httpx.Client(base_url=srv.base, timeout=60,
                                                             headers=bearer(write)) as client:
        yield {"client": client, "home": home}


def test_every_job_kind_has_cases() -> None:
    from seqrisk.service.requests import KINDS

    assert {c[0] for c in CASES} == set(KINDS) == set(BASE)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_the_api_and_the_cli_refuse_the_same_value(case: tuple[Any, ...], api: dict[str, Any],
                                                    tmp_path: Path) -> None:
    kind, change, (field, value), extra, (option, shown), code = case
    body, argv = BASE[kind]
    r = api["client"].post(f"/api/v1/jobs/{kind}", json={**body, **change})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == field, err
    if value is not None:
        assert err["value"] == value, err
    assert "Traceback" not in r.text
    db = sqlite3.connect(api["home"] / "state.sqlite")
    try:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0  # nothing queued
    finally:
        db.close()

    book = tmp_path / "book.yaml"
    book.write_text(yaml.safe_dump(change.get("book", DESK), sort_keys=False))
    config = tmp_path / "scenario.yaml"
    config.write_text(yaml.safe_dump(change.get("scenario", {})))
    args = [a.format(book=book, out=tmp_path, config=config) for a in [*argv, *extra]]
    out = cli(api["home"], *args)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == code, (args, out.stderr)
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert option in lines[0] and shown in lines[0], lines[0]


def test_the_paths_floor_is_the_commands() -> None:
    """A request's fewest paths is its command's ``--paths`` minimum (the scenario's, for a command without one)."""
    from cli_commands import commands
    from seqrisk.engine import Scenario
    from seqrisk.service.requests import KINDS

    by_name = dict(commands())
    scenario_min = next(m.ge for m in Scenario.model_fields["paths"].metadata if hasattr(m, "ge"))
    for kind, model in KINDS.items():
        if "paths" not in model.model_fields:
            continue
        opt = next(p for p in by_name[model.command].params if p.name == "paths")
        low = opt.min if opt.min is not None else scenario_min
        assert model.min_paths == low, kind
