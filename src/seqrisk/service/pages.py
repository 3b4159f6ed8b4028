"""The dashboard: server-rendered pages (Jinja2) with plotly served from the installed package, no CDN.

* ``/``: every chain with its design, pooled downtime rate (95 % interval) and
  the monitor's live status and probability, updated by server-sent events;
* ``/chains/{id}``: design and risk entries, registry facts, the incident
  timeline, fitted rates and durations with intervals, live status and the
  now-cast while the chain is down;
* ``/book``: upload a book (YAML, JSON or CSV), run it, follow it;
* ``/jobs`` and ``/jobs/{id}``: progress, then EL, VaR and ES with their errors,
  positions at risk, the stress grid, the levers per party and the report.

Charts are plotly figures serialised as JSON into inert ``<script
type="application/json">`` blocks; ``/static/dashboard.js`` draws them, so the
Content Security Policy allows no inline script.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from seqrisk import __version__
from seqrisk.service.app import ApiError, Service, _same_origin, _service, require
from seqrisk.service.security import COOKIE
from seqrisk.service.status import transitions
from seqrisk.units import format_duration, format_usd

__all__ = ["error_page", "install_pages"]

_HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(_HERE / "templates"))
templates.env.filters["usd"] = lambda v: format_usd(v) if isinstance(v, int | float) and v is not None else "n/a"
templates.env.filters["dur"] = lambda v: format_duration(v) if isinstance(v, int | float) else "n/a"
templates.env.filters["pct"] = lambda v, d=1: f"{v * 100:.{d}f}%" if isinstance(v, int | float) else "n/a"
templates.env.filters["num"] = lambda v, f=".3g": format(v, f) if isinstance(v, int | float) else "n/a"


@lru_cache(maxsize=1)
def _plotly_js() -> tuple[bytes, str]:
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode("utf-8")
    return body, hashlib.sha256(body).hexdigest()[:16]


def _fig(fig: Any) -> str:
    """A plotly figure as JSON for an inert script block (``</`` escaped)."""
    return str(fig.to_json()).replace("</", "<\\/")


def _render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    svc = _service(request)
    base = {"request": request, "version": __version__, "catalog_version": svc.catalog.version,
            "auth": svc.config.auth, "logged_in": COOKIE in request.cookies, "plotly_version": _plotly_js()[1]}
    return templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return _render(request, "error.html", status=status, status_code=status, message=message)


def _page_auth(request: Request) -> None:
    """Pages need a read token (cookie) only with ``auth: all``."""
    require("read")(request, None)


def _status_by_chain(svc: Service) -> dict[str, dict[str, Any]]:
    return {r["chain"]: r for r in svc.live()}


def _downtime_rates(svc: Service) -> dict[str, dict[str, Any]]:
    stats = svc.statistics(None)
    law = stats.model.chains
    out = {}
    for c, ch in law.items():
        r = ch.rates_per_year.get("downtime")
        lo, hi = ch.rate_intervals.get("downtime", (math.nan, math.nan))
        out[c] = {"rate": r, "low": lo, "high": hi}
    return out


def _rates_figure(rates: dict[str, dict[str, Any]]) -> Any:
    import plotly.graph_objects as go

    rows = sorted(((c, v) for c, v in rates.items() if v["rate"] is not None), key=lambda t: t[1]["rate"])
    fig = go.Figure(go.Scatter(
        x=[v["rate"] for _, v in rows], y=[c for c, _ in rows], mode="markers", name="pooled rate",
        error_x={"type": "data", "symmetric": False, "array": [v["high"] - v["rate"] for _, v in rows],
                 "arrayminus": [v["rate"] - v["low"] for _, v in rows]},
        hovertemplate="%{y}: %{x:.2f} per year<extra></extra>"))
    fig.update_layout(title={"text": "Downtime rate per chain (per year, pooled, 95% interval)", "x": 0.01},
                      template="plotly_white", height=max(320, 22 * len(rows) + 120),
                      margin={"l": 110, "r": 20, "t": 50, "b": 50}, xaxis_title="outages per year")
    return fig


def overview(request: Request) -> HTMLResponse:
    _page_auth(request)
    svc = _service(request)
    cat = svc.catalog
    counts: dict[str, int] = {}
    for i in cat.incidents:
        counts[i.chain] = counts.get(i.chain, 0) + 1
    rates = _downtime_rates(svc)
    live = _status_by_chain(svc)
    rows = [{"chain": c, "incidents": counts.get(c.id, 0), "rate": rates.get(c.id), "live": live.get(c.id)}
            for c in cat.chains]
    return _render(request, "overview.html", rows=rows, rates_fig=_fig(_rates_figure(rates)),
                   coverage=cat.coverage_date, monitored=len(live))


def chain_page(request: Request, chain_id: str) -> HTMLResponse:
    _page_auth(request)
    svc = _service(request)
    cat = svc.catalog
    c = cat.chain(chain_id)
    from seqrisk.catalog import risk_entries
    from seqrisk.report.figures import incident_timeline

    incs = [i for i in cat.incidents if i.chain == c.id]
    stats = svc.statistics(None)
    fit = svc.model_doc(None, (c.id,), 365 * 86400.0)["chains"].get(c.id) if c.id in stats.chains else None
    live = svc.live(c.id)
    registry = c.model_dump(mode="json").get("registry") or {}
    return _render(request, "chain.html", chain=c, risk=risk_entries(c), incidents=incs, fit=fit,
                   timeline_fig=_fig(incident_timeline(incs)) if incs else None, live=live[0] if live else None,
                   transitions=transitions(svc.store(), c.id, limit=20), registry=registry)


def book_page(request: Request) -> HTMLResponse:
    _page_auth(request)
    svc = _service(request)
    return _render(request, "book.html", limits=svc.config.public())


def jobs_page(request: Request) -> HTMLResponse:
    _page_auth(request)
    svc = _service(request)
    return _render(request, "jobs.html", jobs=[j.to_dict() for j in svc.jobs().list(limit=100)])


def _measures(sim: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m in sim.get("measures", []):
        lvl = m.get("level")
        key = f"{m['perspective']}.{m['basis']}.{m['measure']}" + (f".{lvl:g}" if lvl is not None else "")
        out[key] = m
    return out


def _stress_figures(stress: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str]]:
    import plotly.graph_objects as go

    figs = []
    for chain, rows in stress.items():
        durs = sorted({r["duration_s"] for r in rows})
        moves = sorted({r["price_move"] for r in rows})
        for col, who in (("holder_loss_usd", "holder loss"), ("venue_loss_usd", "venue bad debt")):
            z = [[next((r[col] for r in rows if r["duration_s"] == d and r["price_move"] == m), None)
                   for m in moves] for d in durs]
            fig = go.Figure(go.Heatmap(z=z, x=[f"{m:+.0%}" for m in moves], y=[format_duration(d) for d in durs],
                                       colorscale="Reds", colorbar={"title": "USD"},
                                       hovertemplate="outage %{y}, move %{x}: $%{z:,.0f}<extra></extra>"))
            fig.update_layout(title={"text": f"{chain}: {who} if down for (rows) while the price moves (columns)",
                                     "x": 0.01}, template="plotly_white", height=360,
                              margin={"l": 70, "r": 20, "t": 50, "b": 50}, xaxis_title="price move over the outage",
                              yaxis_title="outage duration")
            figs.append((f"{chain}-{col}", _fig(fig)))
    return figs


def job_page(request: Request, job_id: str) -> HTMLResponse:
    _page_auth(request)
    svc = _service(request)
    job = svc.jobs().get(job_id, with_runs=True)
    if job is None:
        raise ApiError(404, "not_found", "no such job", id=job_id)
    result = svc.jobs().result(job_id) if job.status == "done" else None
    sim = analysis = None
    if result is not None:
        art = svc.jobs().artifact(job_id, "analysis.json") if job.kind == "report" else None
        analysis = json.loads(art[1]) if art else (result if result.get("kind") == "seqrisk.analysis" else None)
        sim = analysis.get("simulation") if analysis is not None else (
            result if str(result.get("schema", "")).startswith("seqrisk.simulate/")
            or result.get("kind") == "seqrisk.simulation" else None)  # (jobs stored before the layout names)
    ctx: dict[str, Any] = {"job": job.to_dict(), "result": result, "sim": sim}
    if sim is not None:
        ctx["m"] = _measures(sim)
        ctx["positions"] = sorted(sim.get("positions", []), key=lambda p: -(p.get("expected_loss_usd") or 0))[:20]
        ctx["by_chain"] = sim.get("chains", [])
    if analysis is not None:
        ctx["stress_figs"] = _stress_figures(analysis.get("stress") or {})
        ctx["mitigations"] = analysis.get("mitigations")
    if result is not None and sim is None:
        ctx["result_json"] = json.dumps(result, indent=2)[:200_000]
    return _render(request, "job.html", **ctx)


async def login_form(request: Request) -> HTMLResponse:
    return _render(request, "login.html", next=request.query_params.get("next", "/"), error=None)


async def login(request: Request) -> Response:
    svc = _service(request)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    secret = (form.get("token") or [""])[0].strip()
    nxt = (form.get("next") or ["/"])[0]
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/"
    if not _same_origin(request):
        raise ApiError(403, "forbidden", "log in from this site's own login page")
    tok = svc.tokens().verify(secret)
    if tok is None or tok.revoked_utc is not None:
        return _render(request, "login.html", status=401, next=nxt, error="unknown or revoked token")
    resp = RedirectResponse(nxt, status_code=303)
    secure = svc.config.cookie_secure if svc.config.cookie_secure is not None else request.url.scheme == "https"
    resp.set_cookie(COOKIE, secret, httponly=True, samesite="strict", secure=secure, path="/", max_age=30 * 86400)
    return resp


async def logout(request: Request) -> Response:
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


def plotly_js(request: Request) -> Response:
    body, tag = _plotly_js()
    return Response(body, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{tag}"'})


def install_pages(app: FastAPI) -> None:
    """Mount the pages and static files on ``app`` (not part of the OpenAPI document)."""
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    for path, fn in (("/", overview), ("/chains/{chain_id}", chain_page), ("/book", book_page),
                     ("/jobs", jobs_page), ("/jobs/{job_id}", job_page), ("/login", login_form),
                     ("/assets/plotly.min.js", plotly_js)):
        app.add_api_route(path, fn, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)
    app.add_api_route("/login", login, methods=["POST"], include_in_schema=False)
    app.add_api_route("/logout", logout, methods=["POST"], include_in_schema=False)


def next_url(request: Request) -> str:
    return quote(request.url.path)
