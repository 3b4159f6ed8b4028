"""`seqrisk serve` over real loopback HTTP: the read API, token guards on every write, JSON errors, limits, and a
simulation job whose result equals `seqrisk simulate` with the same seed (issue 17, first slice)."""

from __future__ import annotations

import json
import os
import re
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

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "examples" / "desk.yaml"
SEQRISK = [sys.executable, "-m", "seqrisk"]


def _cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEQRISK, "--home", str(home), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _token(home: Path, scope: str) -> str:
    out = _cli(home, "serve", "token", "create", "--scope", scope, "--name", f"test-{scope}", "--json")
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["token"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("serve-home")
    tokens = {"read": _token(home, "read"), "write": _token(home, "write")}
    env = {**os.environ, "SEQRISK_SERVE_MAX_BODY_BYTES": "200000"}
    log = home / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen([*SEQRISK, "--home", str(home), "serve", "--port", "0", "--workers", "1"],
                                stderr=err, stdout=subprocess.DEVNULL, env=env)
    try:
        m = None
        for _ in range(600):
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text())
            if m or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert m, f"no address in the server's log: {log.read_text()!r}"
        base = f"http://127.0.0.1:{m.group(1)}"
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(200):
                try:
                    if client.get("/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield {"client": client, "home": home, "tokens": tokens, "base": base}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_refuses_another_address_without_auth(tmp_path: Path) -> None:
    out = _cli(tmp_path, "serve", "--host", "0.0.0.0", "--port", "0")
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "refusing to listen on 0.0.0.0 without authentication" in lines[0]
    assert "Traceback" not in out.stderr


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


def test_every_write_endpoint_refuses_missing_wrong_and_read_tokens(server: dict[str, Any]) -> None:
    c, tokens = server["client"], server["tokens"]
    spec = c.get("/api/v1/openapi.json").json()
    writes = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m in ("post", "put", "patch",
                                                                                     "delete")]
    assert len(writes) >= 8  # books, the job kinds, cancel
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
    assert (err["position"], err["field"], err["value"]) == ("arb-eth-short", "notional_usd", "lots"), err
    assert "Traceback" not in r.text
    r = c.post("/api/v1/jobs/simulate", json={"book": yaml.safe_load(BOOK.read_text()), "paths": 10**9},
               headers=w)
    assert r.status_code in (413, 422, 429) and r.json()["error"]["limit"] == "max_paths"


def test_request_size_limit_names_the_limit(server: dict[str, Any]) -> None:
    c, w = server["client"], _bearer(server["tokens"]["write"])
    r = c.post("/api/v1/jobs/simulate", content=b"{" + b" " * 300_000 + b"}", headers={
        **w, "Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"] == {"type": "limit", "message": "the request body is larger than 200,000 bytes",
                                 "limit": "max_body_bytes", "allowed": 200000}


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


def test_pages_are_not_served_until_wired(server: dict[str, Any]) -> None:
    r = server["client"].get("/", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.json()["kind"] == "seqrisk.error"
