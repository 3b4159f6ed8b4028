"""`seqrisk serve` over real loopback HTTP: the read API, token guards on every write, JSON errors, limits, and a
simulation job whose result equals `seqrisk simulate` with the same seed (issue 17, first slice)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from serve_util import BOOK, bearer, cli, raw_request, start, token, wait_jobs

_cli, _token, _bearer = cli, token, bearer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("serve-home")
    tokens = {"read": _token(home, "read"), "write": _token(home, "write")}
    srv = start(home, "--workers", "1", env={"SEQRISK_SERVE_MAX_BODY_BYTES": "200000"})
    try:
        with httpx.Client(base_url=srv.base, timeout=60) as client:
            yield {"client": client, "home": home, "tokens": tokens, "base": srv.base}
    finally:
        srv.stop()


def test_refuses_another_address_without_auth(tmp_path: Path) -> None:
    out = _cli(tmp_path, "serve", "--host", "0.0.0.0", "--port", "0")
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "refusing to listen on 0.0.0.0 without authentication" in lines[0]
    assert "Traceback" not in out.stderr


def test_backend_options_are_simulates_and_refuse_bad_values(tmp_path: Path) -> None:
    """`--backend` and `--scheduler` as `seqrisk simulate` takes them: a bad value is one line naming the option
    (exit 2); `--backend local` wins over a scheduler named by the environment (here one nobody listens on)."""
    dead = "tcp://127.0.0.1:9"
    said = {}
    for args, option in ((["--backend", "spark"], "--backend"), (["--backend", "local", "--scheduler", dead],
                                                                  "--scheduler"),
                         (["--scheduler", "127.0.0.1:8786"], "--scheduler")):
        out = _cli(tmp_path, "serve", "--port", "0", *args)
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        assert out.returncode == 2 and len(lines) == 1 and option in lines[0], (args, out.stderr)
        said[args[1]] = lines[0]
    for args in (["--backend", "spark"], ["--backend", "local", "--scheduler", dead]):
        sim = _cli(tmp_path, "simulate", str(BOOK), *args)
        assert sim.returncode == 2 and sim.stderr.strip() == said[args[1]]  # the same rule in the same words
    srv = start(tmp_path / "local", "--workers", "0", "--backend", "local", env={"SEQRISK_SERVE_SCHEDULER": dead})
    try:
        with httpx.Client(base_url=srv.base, timeout=30) as c:
            assert c.get("/api/v1/info").json()["backend"] == {"name": "local", "scheduler": None}
    finally:
        srv.stop()


def test_catalog_reads_match_the_cli(server: dict[str, Any]) -> None:
    c, home = server["client"], server["home"]
    r = c.get("/api/v1/chains")
    assert r.status_code == 200
    cli = json.loads(_cli(home, "chains", "--json").stdout)
    assert [ch["id"] for ch in r.json()["chains"]] == [ch["id"] for ch in cli["chains"]]
    one = c.get("/api/v1/chains/base").json()
    assert one["chain"]["id"] == "base" and all(i["chain"] == "base" for i in one["incidents"])
    assert len(one["incidents"]) > 0
    incs = c.get("/api/v1/incidents", params={"chain": "base", "since": "2024-01-01"}).json()["incidents"]
    assert incs and all(i["start_utc"] >= "2024-01-01" for i in incs)
    reg = c.get("/api/v1/registry", params={"chain": "arbitrum"}).json()["registry"]
    assert list(reg) == ["arbitrum"]
    # the response is not cached and carries the security headers
    assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"
    # CORS is off: no Access-Control header even for a foreign origin
    assert "access-control-allow-origin" not in c.get("/api/v1/chains", headers={"Origin": "https://evil.example"}
                                                      ).headers


def test_fitted_model_per_chain_moves_with_as_of(server: dict[str, Any]) -> None:
    c = server["client"]
    early = c.get("/api/v1/model/chains/arbitrum", params={"as_of": "2024-01-01"}).json()
    late = c.get("/api/v1/model/chains/arbitrum").json()
    assert early["chain"] == "arbitrum" and early["provenance"]["as_of"].startswith("2024-01-01")
    assert late["provenance"]["as_of"] != early["provenance"]["as_of"]
    assert early["chains"] != late["chains"]  # the fit sees different data


def _write_routes(home: Path) -> list[tuple[str, str]]:
    """Every route of the app (API and pages) that changes something, walked from the app itself."""
    from fastapi.routing import APIRoute

    from seqrisk.service.app import create_app
    from seqrisk.service.config import load_config

    app = create_app(load_config(environ={}, dashboard=True), home, start_pool=False)
    out = []

    def walk(routes: list[Any], prefix: str) -> None:
        for r in routes:
            if hasattr(r, "original_router"):  # a router included into the app (FastAPI keeps it whole)
                walk(r.original_router.routes, prefix + r.include_context.prefix)
            elif hasattr(r, "routes") and hasattr(r, "path"):  # a mounted sub-application
                walk(r.routes, prefix + r.path)
            elif isinstance(r, APIRoute) or getattr(r, "methods", None):
                out.extend((m, prefix + r.path) for m in sorted(r.methods) if m not in ("GET", "HEAD", "OPTIONS"))

    walk(list(app.routes), "")
    assert out, "no route found: the walk no longer understands how the app keeps its routes"
    return out


#: Writes that take no token by design: logging in (it checks the token it is given) and out (drops the cookie).
NO_TOKEN = {("POST", "/login"), ("POST", "/logout")}


def test_every_write_endpoint_refuses_missing_wrong_and_read_tokens(server: dict[str, Any], tmp_path: Path) -> None:
    c, tokens = server["client"], server["tokens"]
    writes = [w for w in _write_routes(tmp_path) if w not in NO_TOKEN]
    spec = c.get("/api/v1/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert set(writes) <= documented  # every guarded write is in the API's schema
    kinds = {p.rsplit("/", 1)[-1] for _, p in writes if p.startswith("/api/v1/jobs/") and "{" not in p}
    assert kinds == {"simulate", "report", "compare", "insure", "allocate", "score", "backtest"}
    assert ("POST", "/api/v1/books") in writes and ("POST", "/api/v1/jobs/{job_id}/cancel") in writes
    wrong = "sqr_" + "A" * 43
    for method, path in writes:
        url = path.replace("{job_id}", "job_0000").replace("{chain_id}", "base")
        for headers, status in (({}, 401), (_bearer(wrong), 401), (_bearer(tokens["read"]), 403),
                                ({"Authorization": "Basic eDp5"}, 401)):
            r = c.request(method, url, json={}, headers=headers)
            assert r.status_code == status, (method, path, headers, r.text)
            assert r.json()["kind"] == "seqrisk.error"
    # the store keeps digests, never the tokens
    db = sqlite3.connect(server["home"] / "state.sqlite")
    stored = [row[0] for row in db.execute("SELECT hash FROM api_tokens")]
    db.close()
    assert len(stored) == 2 and not set(stored) & set(tokens.values())


def test_errors_are_json_with_the_field_and_no_traceback(server: dict[str, Any]) -> None:
    c, w = server["client"], _bearer(server["tokens"]["write"])
    r = c.get("/api/v1/chains/no-such-chain")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"
    r = c.get("/api/v1/model", params={"horizon": "soon"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "horizon"
    book = yaml.safe_load(BOOK.read_text())
    book["positions"][1]["notional_usd"] = "lots"
    r = c.post("/api/v1/jobs/simulate", json={"book": book, "paths": 1000}, headers=w)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert (err["position"], err["field"], err["value"]) == ("arb-eth-short", "book.positions[1].notional_usd",
                                                             "lots"), err
    assert "Traceback" not in r.text
    r = c.post("/api/v1/jobs/simulate", json={"book": yaml.safe_load(BOOK.read_text()), "paths": 10**9},
               headers=w)
    assert r.status_code in (413, 422, 429) and r.json()["error"]["limit"] == "max_paths"


def test_request_size_limit_names_the_limit(server: dict[str, Any]) -> None:
    """Over the limit by its declared length (refused before the body is judged; the server reads and drops it)
    and by the bytes that arrive (chunked, no length). The body sent is never more than the server reads, so the
    reply cannot be lost to a connection reset (a server closing with unread bytes resets the connection)."""
    w = _bearer(server["tokens"]["write"])["Authorization"].encode()
    want = {"type": "limit", "message": "the request body is larger than 200,000 bytes", "limit": "max_body_bytes",
            "allowed": 200000}
    head = (b"POST /api/v1/jobs/simulate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + w +
            b"\r\nContent-Type: application/json\r\n")
    status, doc = raw_request(server["base"], head + b"Content-Length: 300000\r\n\r\n", [b" " * 100_000] * 3)
    assert (status, doc["error"]) == (413, want)
    parts = [b"{" + b" " * 49_999] * 4 + [b" "]  # 200,001 bytes: one over the limit
    chunks = [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts]
    status, doc = raw_request(server["base"], head + b"Transfer-Encoding: chunked\r\n\r\n", chunks)
    assert (status, doc["error"]) == (413, want)
    # at the limit exactly, the body is read and judged on its content
    r = server["client"].post("/api/v1/jobs/simulate", content=b"{" + b" " * 199_998 + b"}", headers={
        **_bearer(server["tokens"]["write"]), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "body"


def test_simulation_job_equals_the_cli_with_the_same_seed(server: dict[str, Any], tmp_path: Path) -> None:
    c, home, w = server["client"], server["home"], _bearer(server["tokens"]["write"])
    book = yaml.safe_load(BOOK.read_text())
    r = c.post("/api/v1/jobs/simulate", json={"book": book, "paths": 2000, "seed": 11}, headers=w)
    assert r.status_code == 202, r.text
    job_id = r.json()["job"]["id"]
    for _ in range(600):
        job = c.get(f"/api/v1/jobs/{job_id}").json()["job"]
        if job["status"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.5)
    assert job["status"] == "done", job
    api = c.get(f"/api/v1/jobs/{job_id}/result").json()
    _check_layout(api, "simulate")
    cli = _cli(tmp_path, "simulate", str(BOOK), "--paths", "2000", "--seed", "11", "--json")
    assert cli.returncode == 0, cli.stderr
    ref = json.loads(cli.stdout)
    for key in ("expected_loss_usd", "var_usd", "es_usd"):
        if key in ref:
            assert api[key] == ref[key], key
    strip = {"provenance"}
    assert {k: v for k, v in api.items() if k not in strip} == {k: v for k, v in ref.items() if k not in strip}
    assert api["provenance"]["seed"] == ref["provenance"]["seed"] == 11
    # the job is a row of the state store with what reproduces it
    db = sqlite3.connect(home / "state.sqlite")
    row = db.execute("SELECT kind, status, seed, catalog_version FROM jobs WHERE id=?", (job_id,)).fetchone()
    db.close()
    assert row[:3] == ("simulate", "done", 11) and row[3]


def test_uploaded_book_runs_by_id_and_the_digest_keeps_asset_order(server: dict[str, Any]) -> None:
    c, w = server["client"], _bearer(server["tokens"]["write"])
    text = BOOK.read_text()
    r = c.post("/api/v1/books", json={"content": text, "name": "desk.yaml"}, headers=w)
    assert r.status_code == 201, r.text
    book_id = r.json()["book"]["id"]
    assert c.get(f"/api/v1/books/{book_id}").json()["document"]["positions"]
    doc = yaml.safe_load(text)
    swapped = {**doc, "assets": dict(reversed(list(doc["assets"].items())))}
    r2 = c.post("/api/v1/books", json={"book": swapped}, headers=w)
    assert r2.status_code == 201, r2.text
    assert r2.json()["book"]["id"] != book_id  # the asset order drives the random numbers: another book


def test_pages_carry_the_security_headers(server: dict[str, Any]) -> None:
    r = server["client"].get("/", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";") if d.strip())
    assert csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'" and csp["default-src"] == "'none'"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in r.text and "cdn" not in r.text.lower()  # scripts come from this server, as files
    js = server["client"].get("/assets/plotly.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert len(js.content) > 10**6  # plotly itself, from the installed package


def _rerun_from_record(home: Path, client: httpx.Client, job: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """The job's own record run again with the CLI: its command, with its book and scenario written as files."""
    import shlex

    argv = shlex.split(job["reproducibility"]["command"])[1:]
    if argv[0] == "report":
        argv.append("--json")  # the record's command writes the file; its --json is the job's result
    if "book.json" in argv or "--book" in argv:
        doc = client.get(f"/api/v1/jobs/{job['id']}/book").json()["document"]
        (tmp / "book.json").write_text(json.dumps(doc))
    if "scenario.json" in argv:
        (tmp / "scenario.json").write_text(json.dumps(job["request"]["scenario"]))
    out = subprocess.run([*SEQRISK_CMD, "--home", str(home), *argv], capture_output=True, text=True, timeout=300,
                         cwd=tmp)
    assert out.returncode == 0, (argv, out.stderr)
    return dict(json.loads(out.stdout))


SEQRISK_CMD = [sys.executable, "-m", "seqrisk"]


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    """A result without its provenance block and notes (which name files and the run's time)."""
    return {k: v for k, v in doc.items() if k not in ("provenance", "notes")}


def _check_layout(doc: dict[str, Any], command: str) -> None:
    """``doc`` is named ``seqrisk.<command>[.<variant>]/<version>`` and valid against that published layout."""
    from jsonschema import Draft202012Validator

    from seqrisk.schemas import output_schema

    name = str(doc["schema"]).removeprefix("seqrisk.").split("/")[0]
    assert name == command or name.startswith(command + "."), (command, doc["schema"])
    Draft202012Validator(output_schema(name)).validate(doc)


def test_every_kind_reproduces_from_its_record(server: dict[str, Any], tmp_path: Path) -> None:
    """compare with a sweep, insure, allocate, score, report and backtest jobs: each result has the layout of its
    command (valid against the JSON Schema published under its name) and equals the CLI command of the job's record
    (its reproducibility.command) run on the book the record keeps."""
    c, home, w = server["client"], server["home"], _bearer(server["tokens"]["write"])
    book = yaml.safe_load(BOOK.read_text())
    asks = {
        "compare": {"book": book, "sweep": "grace=0:2h:3", "perspective": "venue", "paths": 500, "seed": 3,
                    "horizon": "30d"},
        "insure": {"book": book, "payout": "50k", "trigger": "1h", "paths": 500, "seed": 4},
        "allocate": {"book": book, "chains": ["arbitrum", "base"], "replications": 2, "paths": 500, "seed": 5,
                     "horizon": "30d"},
        "score": {"book": book, "chains": ["arbitrum", "base"], "paths": 300, "seed": 6, "horizon": "30d"},
        "report": {"book": book, "paths": 500, "seed": 7, "horizon": "30d", "mitigations": False},
        "backtest": {"train_until": "2023-01-01", "step": "1y"},
    }
    ids = {}
    for kind, body in asks.items():
        r = c.post(f"/api/v1/jobs/{kind}", json=body, headers=w)
        assert r.status_code == 202, (kind, r.text)
        ids[kind] = r.json()["job"]["id"]
    jobs = wait_jobs(c, list(ids.values()))
    for kind, jid in ids.items():
        job = c.get(f"/api/v1/jobs/{jid}").json()["job"]
        assert jobs[jid]["status"] == "done", job
        api = c.get(f"/api/v1/jobs/{jid}/result").json()
        _check_layout(api, kind)
        sub = tmp_path / kind
        sub.mkdir()
        ref = _rerun_from_record(home, c, job, sub)
        if kind == "report":  # the file written: the job's artifact, and the CLI's file in its folder
            assert (api["file"], api["bytes"]) == ("report.html", len(c.get(f"/api/v1/jobs/{jid}/report").content))
            api, ref = ({k: v for k, v in d.items() if k not in ("file", "bytes")} for d in (api, ref))
        assert _strip(api) == _strip(ref), kind
        assert api["provenance"]["catalog"]["version"] == job["reproducibility"]["catalog_version"]
        assert api["provenance"]["seqrisk_version"] == job["reproducibility"]["seqrisk_version"]


def test_a_bad_backtest_request_names_the_field(server: dict[str, Any]) -> None:
    c, w = server["client"], _bearer(server["tokens"]["write"])
    r = c.post("/api/v1/jobs/backtest", json={"train_until": "2023-01-01", "test_until": "2022-01-01"}, headers=w)
    assert r.status_code == 422 and r.json()["error"]["field"] == "train_until"  # (tests/test_serve_validation.py)
    r = c.post("/api/v1/jobs/backtest", json={"train_until": "2023-01-01", "type": "rain"}, headers=w)
    assert r.status_code == 422 and r.json()["error"]["field"] == "type"
    from seqrisk.stats.events import MODELLED_TYPES

    schema = c.get("/api/v1/openapi.json").json()["components"]["schemas"]["BacktestRequest"]
    assert tuple(schema["properties"]["type"]["enum"]) == MODELLED_TYPES  # the CLI's types, no more, no fewer


def test_idempotency_key_submits_once_and_cancel_stops_a_job(server: dict[str, Any]) -> None:
    c, w = server["client"], _bearer(server["tokens"]["write"])
    book = yaml.safe_load(BOOK.read_text())
    body = {"book": book, "paths": 200_000, "seed": 99}  # long enough to be running when cancelled
    first = c.post("/api/v1/jobs/simulate", json=body, headers={**w, "Idempotency-Key": "k-1"})
    again = c.post("/api/v1/jobs/simulate", json=body, headers={**w, "Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (202, 200)
    jid = first.json()["job"]["id"]
    assert again.json()["job"]["id"] == jid
    queued = c.post("/api/v1/jobs/simulate", json=body, headers=w).json()["job"]["id"]  # behind it (one worker)
    while c.get(f"/api/v1/jobs/{jid}").json()["job"]["status"] == "queued":
        time.sleep(0.2)
    r = c.post(f"/api/v1/jobs/{queued}/cancel", headers=w)
    assert r.json()["job"]["status"] == "cancelled"
    r = c.post(f"/api/v1/jobs/{jid}/cancel", headers=w)
    assert r.status_code == 200 and r.json()["job"]["cancel_requested"]
    job = wait_jobs(c, [jid])[jid]
    assert job["status"] == "cancelled", job
    r = c.post(f"/api/v1/jobs/{jid}/cancel", headers=w)
    assert r.status_code == 409 and r.json()["error"]["type"] == "finished"
    r = c.get(f"/api/v1/jobs/{jid}/result")
    assert r.status_code == 409
    db = sqlite3.connect(server["home"] / "state.sqlite")
    n = db.execute("SELECT COUNT(*) FROM jobs WHERE idempotency_key='k-1'").fetchone()[0]
    runs = db.execute("SELECT COUNT(*) FROM job_runs WHERE job_id=?", (queued,)).fetchone()[0]
    db.close()
    assert n == 1 and runs == 0  # one job for the key; the cancelled queued job never ran


def test_live_status_reads_the_monitors_latest_round(server: dict[str, Any]) -> None:
    """The test writes rounds as the monitor does (rows of `observations`); the API shows each chain's latest."""
    c = server["client"]
    db = sqlite3.connect(server["home"] / "state.sqlite")
    with db:
        db.executemany("INSERT INTO observations(chain, observed_utc, head_number, head_time_utc, lag_s, status) "
                       "VALUES (?,?,?,?,?,?)", [("base", 1000.0, 10, 998.0, 2.0, "healthy"),
                                                ("base", 1010.0, 10, 998.0, 12.0, "down"),
                                                ("arbitrum", 1005.0, 7, 1004.0, 1.0, "healthy")])
    db.close()
    rows = {r["chain"]: r for r in c.get("/api/v1/status").json()["chains"]}
    assert {k: rows["base"][k] for k in ("label", "observed_utc", "lag_s")} == {"label": "down", "observed_utc": 1010.0,
                                                                               "lag_s": 12.0}
    assert rows["arbitrum"]["label"] == "healthy" and rows["arbitrum"]["nowcast"] is None
    one = c.get("/api/v1/status/base").json()
    assert one["status"]["label"] == "down" and one["chain"] == "base"
    assert c.get("/api/v1/status/optimism").json()["status"] is None


def test_the_deployment_settings_load_and_the_docs_list_every_setting() -> None:
    from seqrisk.service.config import ServiceConfig, load_config

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "deploy" / "serve.yaml", environ={})
    assert cfg == ServiceConfig()  # the example file spells out the defaults
    env = load_config(root / "deploy" / "serve.yaml", environ={"SEQRISK_SERVE_WORKERS": "4"}, port=9000)
    assert (env.workers, env.port) == (4, 9000)  # file < environment < options
    docs = (root / "docs" / "serve.md").read_text()
    table = docs[docs.index("| setting |"):]
    missing = [f for f in ServiceConfig.model_fields if f"`{f}`" not in table]
    assert missing == []
    unit = (root / "deploy" / "seqrisk-serve.service").read_text()
    assert "ExecStart=/opt/seqrisk/bin/seqrisk serve --config /etc/seqrisk/serve.yaml" in unit
