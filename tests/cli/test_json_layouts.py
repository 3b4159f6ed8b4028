"""Every command takes ``--json`` and ``--quiet``; every ``--json`` output is one object named by its ``schema``
(``seqrisk.<command>/<version>``) and valid against the JSON Schema the package publishes under that name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from cli_commands import commands
from seqrisk.cli.app import app
from seqrisk.schemas import output_id, output_names, output_schema

ROOT = Path(__file__).resolve().parents[2]
DESK = str(ROOT / "examples" / "desk.yaml")
#: Commands that read a chain's node over JSON-RPC: their outputs are validated by the real-node tests
#: (tests/integration/test_ingest_node.py).
NEEDS_A_NODE = {"ingest", "scan", "detect"}


def test_every_command_has_json_and_quiet() -> None:
    seen = dict(commands())
    assert {"chains", "simulate", "store info", "serve", "serve token create"} <= set(seen)
    for name, cmd in seen.items():
        opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert {"--json", "--quiet"} <= opts, f"seqrisk {name} lacks {sorted({'--json', '--quiet'} - opts)}"
    root = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    assert "--json" in root and "--quiet" in root  # the root help says every command takes them


def test_the_published_schemas_are_valid_and_named_by_their_files() -> None:
    names = output_names()
    commands_seen = set(dict(commands()))
    for name in names:
        sch = output_schema(name)
        Draft202012Validator.check_schema(sch)
        assert sch["$id"] == output_id(name) and sch["$id"].startswith(f"seqrisk.{name}/")
        assert sch["properties"]["schema"] == {"const": sch["$id"], "description": "This layout's name and version."}
        # each layout belongs to a command (a variant's name extends its command's: compare.sweep)
        assert any(name == c.replace(" ", ".") or name.startswith(c.replace(" ", ".") + ".") for c in commands_seen)
    with pytest.raises(Exception, match="no published output layout"):
        output_schema("nonsense")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One home for the module, a model file fitted once (the decision commands read it), a user catalog
    directory, a detected event to promote and an API token."""
    base = tmp_path_factory.mktemp("layouts")
    home = base / "home"
    model = base / "model.json"
    r = _invoke(home, "fit", "--save", str(model), "--quiet")
    assert r.exit_code == 0, r.output
    csv = base / "mine.csv"
    csv.write_text("id,chain,type,start_utc,start_precision,duration_min,cause,funds_lost,scope,sources,confidence\n"
                   "BASE-20250301,base,downtime,2025-03-01T10:00Z,minute,30,Seen by us,no,sequencer,"
                   "https://x.org/pm,high\n")
    from seqrisk.store import DetectedEvent, Home

    with Home(home).state() as st:
        st.add_events([DetectedEvent(chain="base", type="downtime", start_utc=1_745_000_000.0,
                                     end_utc=1_745_001_800.0, confidence=0.9, detector="gap",
                                     evidence={"block": 123456, "gap_s": 1800.0})])
        event = st.events(chain="base")[0].id
    token = json.loads(_invoke(home, "serve", "token", "create", "--json").stdout)["id"]
    return {"home": home, "model": str(model), "csv": str(csv), "dir": str(base / "cat"), "event": str(event),
            "token": token, "report": str(base / "report.html")}


def _invoke(home: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--home", str(home), *args], env={"COLUMNS": "120"})


#: One invocation per command, small enough to be quick; ``{key}`` is filled from the module's ``env``.
CASES: dict[str, list[str]] = {
    "chains": ["chains"],
    "chain": ["chain", "base"],
    "incidents": ["incidents", "--chain", "base"],
    "overview": ["overview"],
    "catalog check": ["catalog", "check"],
    "catalog import": ["catalog", "import", "{csv}", "--dir", "{dir}"],
    "catalog promote": ["catalog", "promote", "{event}", "--dir", "{dir}", "--source", "https://x.org/status"],
    "store info": ["store", "info"],
    "store recover": ["store", "recover"],
    "serve token list": ["serve", "token", "list"],
    "serve token revoke": ["serve", "token", "revoke", "{token}"],
    "serve token create": ["serve", "token", "create", "--scope", "write"],
    "fit": ["fit", "--chain", "base"],
    "backtest": ["backtest", "--train-until", "2025-01-01"],
    "simulate": ["simulate", DESK, "--model", "{model}", "--paths", "400", "--seed", "1"],
    "compare": ["compare", DESK, "--model", "{model}", "-m", "grace=1h", "--paths", "300", "--horizon", "30d"],
    "compare.sweep": ["compare", DESK, "--model", "{model}", "--sweep", "grace=0:1h:2", "--paths", "300",
                      "--horizon", "30d"],
    "insure": ["insure", DESK, "--model", "{model}", "--paths", "300"],
    "insure.parametric": ["insure", "--model", "{model}", "-c", "arbitrum", "--paths", "300"],
    "allocate": ["allocate", DESK, "--model", "{model}", "--chains", "arbitrum,base", "--paths", "300",
                 "--replications", "2", "--horizon", "30d"],
    "score": ["score", "--model", "{model}", "-c", "arbitrum", "-c", "base", "--paths", "200"],
    "report": ["report", DESK, "--model", "{model}", "--paths", "200", "--no-mitigations", "--point-estimates",
               "--out", "{report}"],
    "nowcast": ["nowcast", "arbitrum", DESK, "--down-for", "2h", "--model", "{model}", "--paths", "500"],
    "monitor status": ["monitor", "status"],
    "store query": ["store", "query", "SELECT chain, type, start_utc FROM events"],
    "schema output": ["schema", "output"],
}
#: Commands whose output is itself a JSON Schema (valid against the JSON Schema meta-schema).
SCHEMA_DOCUMENTS = {"schema book": ["schema", "book"], "schema mapping": ["schema", "mapping"],
                    "schema output simulate": ["schema", "output", "simulate"]}


def test_every_command_and_layout_has_a_case() -> None:
    """The cases below run every command a user can run without a node, and every published layout."""
    cmds = {c for c, _ in commands()}
    own_tests = {"serve", "monitor"}  # below
    covered = {c.split(".")[0] for c in CASES} | set(SCHEMA_DOCUMENTS) | NEEDS_A_NODE | own_tests
    assert cmds <= covered, sorted(cmds - covered)
    layouts = {c.replace(" ", ".") for c in CASES} | NEEDS_A_NODE | {"serve", "monitor"}
    assert layouts == set(output_names())


@pytest.mark.parametrize("case", list(CASES))
def test_json_output_parses_and_validates(case: str, env: dict[str, Any]) -> None:
    argv = [a.format(**env) for a in CASES[case]]
    r = _invoke(env["home"], *argv, "--json", "--quiet")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""  # --quiet: nothing on stderr
    doc = json.loads(r.stdout)  # stdout is the one JSON object and nothing else
    name = case.replace(" ", ".")
    assert doc["schema"] == output_id(name) and doc["schema"].startswith(f"seqrisk.{name}/")
    errors = sorted(Draft202012Validator(output_schema(name)).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]
    assert next(iter(doc)) == "schema" and ("provenance" not in doc or list(doc)[1] == "provenance")


@pytest.mark.parametrize("case", list(SCHEMA_DOCUMENTS))
def test_schema_documents_are_json_schemas(case: str, env: dict[str, Any]) -> None:
    """``seqrisk schema book|mapping|output COMMAND`` print a JSON Schema, with --json or without."""
    plain = _invoke(env["home"], *SCHEMA_DOCUMENTS[case])
    r = _invoke(env["home"], *SCHEMA_DOCUMENTS[case], "--json", "--quiet")
    assert r.exit_code == 0 == plain.exit_code and r.stderr == "" and r.stdout == plain.stdout
    Draft202012Validator.check_schema(json.loads(r.stdout))


def test_a_layout_rejects_what_it_does_not_describe(env: dict[str, Any]) -> None:
    """The schemas are not vacuous: a missing field, a wrong type or an unknown top-level key fails."""
    doc = json.loads(_invoke(env["home"], "chains", "--json").stdout)
    v = Draft202012Validator(output_schema("chains"))
    assert v.is_valid(doc)
    assert not v.is_valid({k: x for k, x in doc.items() if k != "chains"})
    assert not v.is_valid(doc | {"chains": "arbitrum"})
    assert not v.is_valid(doc | {"surprise": 1})
    assert not v.is_valid(doc | {"schema": "seqrisk.chains/2"})


def test_serve_json_announces_the_address(tmp_path: Path) -> None:
    """``seqrisk serve --port 0 --json``: one JSON object with the address it listens on, then it serves."""
    with subprocess.Popen([sys.executable, "-m", "seqrisk", "--home", str(tmp_path / "home"), "serve", "--port",
                           "0", "--json", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "SEQRISK_SERVE_WORKERS": "1"}) as proc:
        try:
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if line.rstrip() == "}":
                    break
            doc = json.loads("".join(lines))
            assert Draft202012Validator(output_schema("serve")).is_valid(doc), doc
            assert doc["url"].startswith("http://127.0.0.1:") and not doc["url"].endswith(":0/")
            import httpx

            assert httpx.get(doc["url"] + "api/v1/health", timeout=30).status_code == 200
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert proc.stderr is not None
        assert proc.stderr.read() == ""  # --quiet: no banner, no access log


def test_monitor_json_logs_one_record_a_line(tmp_path: Path) -> None:
    """``seqrisk monitor --json``: its log on stderr, one JSON object a line (an endpoint that refuses on
    loopback: every round logs it unreachable); ``--quiet`` leaves warnings and errors only."""
    model = ROOT / "examples" / "outage-model.json"
    cfg = tmp_path / "monitor.yaml"
    cfg.write_text("interval_s: 1s\ntimeout_s: 0.5s\nchains:\n  - id: base\n    endpoints: [http://127.0.0.1:9]\n"
                   f"l1: {{endpoints: []}}\nmetrics: {{port: null}}\nnowcast: {{model: {model}}}\n")
    base = [sys.executable, "-m", "seqrisk", "--home", str(tmp_path / "home"), "monitor", "--config", str(cfg),
            "--rounds", "2", "--json"]
    r = subprocess.run([*base, "--verbose"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    records = [json.loads(line) for line in r.stderr.splitlines()]
    v = Draft202012Validator(output_schema("monitor"))
    assert records and all(v.is_valid(x) for x in records)
    assert sum("unreachable" in x["message"] for x in records) == 2  # one a round
    quiet = subprocess.run([*base, "--quiet"], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and all(json.loads(x)["level"] in ("warning", "error")
                                         for x in quiet.stderr.splitlines())
