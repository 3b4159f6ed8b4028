"""Tokens at rest and `auth: all` over real loopback HTTP: the store keeps only each token's SHA-256 (checked
with the standard library's own hash), `token list` never shows a secret, a revoked token is refused at once,
and with `auth: all` every page and endpoint but the health check needs a token (the server does not start
without one). Another address than loopback needs `auth: all` and a token (checked on the settings: no test
listens beyond 127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")

from seqrisk.service.tokens import TokenStore
from seqrisk.store import StateStore
from serve_util import bearer, cli, start


def test_another_address_needs_auth_all_and_a_token() -> None:
    from seqrisk.service.config import load_config

    public = load_config(environ={}, host="0.0.0.0")
    assert "without authentication" in (public.refusal(tokens=5) or "")
    guarded = load_config(environ={}, host="0.0.0.0", auth="all")
    assert "no API token" in (guarded.refusal(tokens=0) or "") and guarded.refusal(tokens=1) is None
    assert load_config(environ={}).refusal(tokens=0) is None  # loopback, writes guarded: no token needed to start


def test_tokens_are_kept_hashed_and_auth_all_guards_every_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = cli(home, "serve", "--port", "0", "--auth", "all")
    assert out.returncode == 2 and "no API token exists" in out.stderr  # auth on, nothing to authenticate with
    with StateStore(home / "state.sqlite") as st:  # as `seqrisk serve token create` does (tested with the CLI)
        read, write, gone = (TokenStore(st).create(scope)[0] for scope in ("read", "write", "read"))
    srv = start(home, "--workers", "0", "--auth", "all")
    try:
        with httpx.Client(base_url=srv.base, timeout=30) as c:
            assert c.get("/api/v1/health").status_code == 200
            for path in ("/api/v1/chains", "/api/v1/status", "/api/v1/jobs", "/api/v1/info"):
                assert c.get(path).status_code == 401, path
                assert c.get(path, headers=bearer(write[:-2] + "xx")).status_code == 401, path
                assert c.get(path, headers=bearer(read)).status_code == 200, path
            page = c.get("/", headers={"Accept": "text/html"})
            assert page.status_code in (303, 401) and "chains" not in page.text.lower()  # to the login form
            login = c.post("/login", data={"token": read, "next": "/"}, headers={"Origin": srv.base})
            assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()
            assert c.get("/", headers={"Accept": "text/html"}).status_code == 200  # the login cookie
            c.cookies.clear()
            assert c.get("/api/v1/chains", headers=bearer(gone)).status_code == 200
            listed = cli(home, "serve", "token", "list", "--json").stdout
            tid = next(t["id"] for t in json.loads(listed)["tokens"]
                       if t["id"] == "tok_" + hashlib.sha256(gone.encode()).hexdigest()[:12])
            assert cli(home, "serve", "token", "revoke", tid).returncode == 0
            assert c.get("/api/v1/chains", headers=bearer(gone)).status_code == 401  # refused from now on
    finally:
        srv.stop()
    db = sqlite3.connect(home / "state.sqlite")
    try:
        hashes = {h for (h,) in db.execute("SELECT hash FROM api_tokens")}
    finally:
        db.close()
    secrets = (read, write, gone)
    assert hashes == {hashlib.sha256(s.encode("utf-8")).hexdigest() for s in secrets}
    stored = b"".join(p.read_bytes() for p in home.glob("state.sqlite*"))  # the database and its journal
    for s in secrets:
        assert s.encode() not in stored and s not in listed
