"""The FastAPI application: the JSON API under ``/api/v1``, the dashboard pages, their guards and error replies.

:func:`create_app` builds the app for a configuration; the worker pool starts
and stops with it (its lifespan). Errors never carry a traceback: a seqrisk
error becomes 4xx JSON with the message and the field, a limit names the limit
and its value, an unexpected error becomes 500 with a reference that the server
log has the traceback for.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from seqrisk import __version__
from seqrisk.catalog import Catalog, load_catalog
from seqrisk.exceptions import SeqriskError, UnknownChainError, UsageError
from seqrisk.service.books import BookStore
from seqrisk.service.config import ServiceConfig
from seqrisk.service.jobs import JobStore, LimitError
from seqrisk.service.pool import WorkerPool, error_doc
from seqrisk.service.security import COOKIE, BodyLimit, SecurityHeaders, error_body
from seqrisk.service.tokens import Token, TokenStore
from seqrisk.store import StateStore

__all__ = ["ApiError", "Service", "create_app", "open_dask", "require"]

log = logging.getLogger("seqrisk.serve")
bearer = HTTPBearer(auto_error=False, description="an API token: `seqrisk serve token create --scope read|write`")


class ApiError(Exception):
    """An error reply: status, type, message and fields (``field``, ``limit``, ``allowed`` ...)."""

    def __init__(self, status: int, type_: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.fields = status, type_, message, fields


@dataclass
class Service:
    """What the app serves from: configuration, home, catalog, per-thread store connections, the pool."""

    config: ServiceConfig
    home: Path
    catalog: Catalog
    pool: WorkerPool | None = None
    dask: Any = None
    stopping: threading.Event = field(default_factory=threading.Event)
    _local: threading.local = field(default_factory=threading.local)
    _fits: dict[str | None, Any] = field(default_factory=dict)
    _fit_lock: threading.Lock = field(default_factory=threading.Lock)
    _docs: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)

    @property
    def state_path(self) -> Path:
        return self.home / "state.sqlite"

    def store(self) -> StateStore:
        """This thread's connection to the state store (SQLite connections stay in their thread)."""
        st = getattr(self._local, "store", None)
        if st is None:
            st = self._local.store = StateStore(self.state_path)
        return st

    def jobs(self) -> JobStore:
        return JobStore(self.store())

    def tokens(self) -> TokenStore:
        tok = getattr(self._local, "tokens", None)
        if tok is None:
            tok = self._local.tokens = TokenStore(self.store())
        return tok

    def books(self) -> BookStore:
        return BookStore(self.store())

    def live(self, chain: str | None = None) -> list[dict[str, Any]]:
        """The monitor's latest round per chain, with a now-cast for each chain it has down."""
        from seqrisk.service.status import live_status, with_nowcasts

        rows = live_status(self.store(), chain)
        if any(r.get("label") == "down" for r in rows):
            rows = with_nowcasts(rows, self.statistics(None).model, self.catalog)
        return rows

    def model_doc(self, as_of: str | None, chains: tuple[str, ...] | None, horizon_s: float) -> dict[str, Any]:
        """The fitted model's document (as ``seqrisk fit --json``) for ``chains`` over ``horizon_s``, memoised: it
        is a function of the fit alone, and computing it takes about half a CPU second per chain."""
        key = (as_of, chains, horizon_s)
        with self._fit_lock:
            doc = self._docs.get(key)
        if doc is None:
            from seqrisk.stats.summary import statistics_doc

            doc = statistics_doc(self.statistics(as_of), chains=list(chains) if chains else None, horizon_s=horizon_s)
            with self._fit_lock:
                if len(self._docs) >= 64:
                    self._docs.pop(next(iter(self._docs)))
                self._docs[key] = doc
        return doc

    def statistics(self, as_of: str | None = None) -> Any:
        """The outage statistics fitted to the catalog as of ``as_of`` (default: the coverage date), memoised,
        from the home's statistics cache when a command or a job fitted them before."""
        key = as_of
        with self._fit_lock:
            if key not in self._fits:
                from seqrisk.store.cache import cached_statistics
                from seqrisk.units import parse_datetime

                when = parse_datetime(as_of, field="as_of") if as_of else None
                if len(self._fits) > 8:
                    self._fits.pop(next(iter(self._fits)))
                self._fits[key] = cached_statistics(self.home / "cache", self.catalog, when, {})
            return self._fits[key]


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def _same_origin(request: Request) -> bool:
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return False
    o = urlsplit(origin)
    return o.netloc == request.headers.get("host", "")


def require(scope: str) -> Callable[..., Token | None]:
    """A dependency: the caller's token, checked for ``scope`` (``read`` or ``write``).

    Reads need no token unless the server runs with ``auth: all``; writes always need a write token.
    """

    def dep(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Token | None:
        svc = _service(request)
        header = request.headers.get("authorization")
        via_cookie = False
        if header is not None:
            if cred is None or cred.scheme.lower() != "bearer" or not cred.credentials:
                raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer <token>'")
            secret: str | None = cred.credentials
        else:
            secret = request.cookies.get(COOKIE)
            via_cookie = secret is not None
        needed = scope == "write" or svc.config.auth == "all"
        if secret is None:
            if needed:
                raise ApiError(401, "unauthorized", f"a {scope} token is required (Authorization: Bearer <token>)",
                               scope=scope)
            return None
        tok = svc.tokens().verify(secret)
        if tok is None or tok.revoked_utc is not None:
            if needed or not via_cookie:
                raise ApiError(401, "unauthorized", "unknown or revoked token" if tok is None or tok.revoked_utc
                               else "unknown token", scope=scope)
            return None
        if not tok.allows(scope):
            raise ApiError(403, "forbidden", f"this token's scope is {tok.scope}; a {scope} token is required",
                           scope=scope)
        if via_cookie and scope == "write" and not _same_origin(request):
            raise ApiError(403, "forbidden", "a write from the browser must come from this site's own pages")
        return tok

    return dep


def _scalar(value: Any) -> Any:
    """The value a client sent for a field, when it is short (a number, a string up to 200 characters, a list of
    up to 8 of them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 200):
        return value
    if isinstance(value, list) and len(value) <= 8:  # a short list of scalars (chains, levers)
        items = [_scalar(v) for v in value]
        return items if all(i is not None for i in items) else None
    return None


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "body"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _reply(request: Request, status: int, doc: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    if (_is_api(request) or "text/html" not in request.headers.get("accept", "")
            or not _service(request).config.dashboard):
        return JSONResponse(doc, status_code=status, headers=headers)
    if status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    from seqrisk.service.pages import error_page

    return error_page(request, status, doc["error"]["message"])


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _reply(request, exc.status, error_body(exc.status, exc.type, exc.message, **exc.fields), headers)

    @app.exception_handler(LimitError)
    async def _limit(request: Request, exc: LimitError) -> Response:
        ctx = error_doc(exc)
        ctx.pop("type")
        return _reply(request, exc.status, error_body(exc.status, "limit", **ctx))

    @app.exception_handler(SeqriskError)
    async def _seqrisk(request: Request, exc: SeqriskError) -> Response:
        status = 404 if isinstance(exc, UnknownChainError) and exc.context.get("field") is None else 422
        doc = error_doc(exc)
        doc["type"] = "usage_error" if isinstance(exc, UsageError) else "invalid"
        if isinstance(exc, UnknownChainError):
            doc["type"] = "not_found" if status == 404 else "invalid"
        type_, message = doc.pop("type"), doc.pop("message")
        return _reply(request, status, error_body(status, type_, message, **doc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errs = [{"field": _field(e.get("loc", ())), "message": str(e.get("msg", "")).removeprefix("Value error, "),
                 "type": e.get("type"), "value": _scalar(e.get("input"))} for e in exc.errors()]
        first = errs[0] if errs else {"field": "body", "message": "invalid request"}
        return _reply(request, 422, error_body(422, "invalid", first["message"], field=first["field"],
                                               value=first.get("value"), errors=errs[:20]))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        names = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
        return _reply(request, exc.status_code, error_body(exc.status_code, names.get(exc.status_code, "http_error"),
                                                           str(exc.detail)), dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        ref = "err_" + secrets.token_hex(4)
        log.exception("internal error %s on %s %s", ref, request.method, request.url.path)
        return _reply(request, 500, error_body(500, "internal", "internal error (the server log has the details)",
                                               ref=ref))


def open_dask(config: ServiceConfig) -> Any:
    """The Dask cluster of ``backend: dask``, opened and checked (reachable, same versions): the one at
    ``scheduler``, or a local cluster of ``dask_workers`` processes on 127.0.0.1 that lives as long as the server.
    """
    import logging as _logging

    from seqrisk.distributed import DaskBackend

    _logging.getLogger("distributed").setLevel(_logging.ERROR)  # Dask's own reconnection chatter
    return DaskBackend(config.scheduler, workers=None if config.scheduler else config.dask_workers).open()


def create_app(config: ServiceConfig, home: Path, *, catalog: Catalog | None = None,
               start_pool: bool = True, dask: Any = None) -> FastAPI:
    """The app for ``config`` over the seqrisk home ``home`` (state store, jobs, tokens).

    ``start_pool`` False runs no workers (jobs wait in the queue), for tests of the API alone. With
    ``backend: dask``, ``dask`` is the opened :class:`~seqrisk.distributed.DaskBackend` (:func:`open_dask`; opened
    at start-up when not given) whose scheduler the workers connect to.
    """
    cat = catalog if catalog is not None else load_catalog(config.catalog_dir)
    svc = Service(config=config, home=home, catalog=cat)
    StateStore(svc.state_path).close()  # create and migrate before anything reads it

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import asyncio

        own = None
        if config.backend == "dask" and start_pool and config.workers:
            svc.dask = dask if dask is not None else await asyncio.to_thread(open_dask, config)
            own = None if dask is not None else svc.dask
        if start_pool:
            svc.pool = WorkerPool(svc.state_path, home, config.catalog_dir, config.workers,
                                  max_attempts=config.max_attempts, max_job_s=config.max_job_s,
                                  cancel_grace_s=config.cancel_grace_s,
                                  scheduler=svc.dask.address if svc.dask is not None else None)
            svc.pool.start()
        try:
            yield
        finally:
            svc.stopping.set()
            if svc.pool is not None:
                svc.pool.stop()
            if own is not None:
                own.close()

    app = FastAPI(
        title="seqrisk", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        description="Layer-2 sequencer risk: the catalog, fitted outage models, the monitor's live status and "
        "jobs (simulate, report, compare, insure, allocate, score) over the seqrisk library. Every JSON result "
        "has the layout of the CLI's `--json` output (`schema`, `kind`, `provenance` first). Reads are open on "
        "loopback unless the server runs with `auth: all`; every write needs a write token.")
    app.state.service = svc
    _install_errors(app)
    from seqrisk.service.api import router as api_router

    app.include_router(api_router)
    if config.dashboard:
        from seqrisk.service.pages import install_pages

        install_pages(app)
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type",
                                                                         "Idempotency-Key"])
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    return app


def html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status)
