"""The service's guards: request size limits, security headers, tokens and their scopes.

* Bodies larger than ``max_body_bytes`` are refused with 413 before they are
  read whole (declared length first, then counted as they stream in).
* Every response carries ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``,
  ``Cross-Origin-Opener-Policy: same-origin``; pages get a Content Security
  Policy allowing nothing but this origin (no external script, style, font,
  image or connection; ``frame-ancestors 'none'``); API responses are not cached.
* A token arrives as ``Authorization: Bearer sqr_...`` or, for the pages, in the
  ``seqrisk_token`` cookie set by the login form (HttpOnly, SameSite=Strict). A
  write authenticated by the cookie must come from this origin (``Origin`` or
  ``Sec-Fetch-Site``), so another site cannot make a browser submit jobs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, ClassVar

__all__ = ["COOKIE", "PAGE_CSP", "REPORT_CSP", "BodyLimit", "SecurityHeaders", "error_body"]

COOKIE = "seqrisk_token"
#: Pages: this origin only; plotly injects its own <style> elements, hence 'unsafe-inline' for styles alone.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
#: The downloadable report is one self-contained file with its scripts inline; still no other origin.
REPORT_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
              "font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_body(status: int, type_: str, message: str, **fields: Any) -> dict[str, Any]:
    """The one error layout of the API: ``{"schema": 1, "kind": "seqrisk.error", "status", "error": {...}}``."""
    err = {"type": type_, "message": message, **{k: v for k, v in fields.items() if v is not None}}
    return {"schema": 1, "kind": "seqrisk.error", "status": status, "error": err}


async def _send_json(send: Send, status: int, doc: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(doc).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive, cap: int) -> None:
    """Read and drop a refused body, up to ``cap`` bytes, before answering.

    A server that answers and closes while the client is still sending leaves unread bytes in its socket, and
    the kernel then resets the connection: the client sees "connection reset" instead of the 413 that names the
    limit. Draining a body of moderate size lets the answer arrive; beyond ``cap`` the connection is dropped."""
    seen = 0
    while seen <= cap:
        msg = await receive()
        if msg["type"] != "http.request":
            return
        seen += len(msg.get("body", b""))
        if not msg.get("more_body", False):
            return


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 naming the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_big(self) -> dict[str, Any]:
        return error_body(413, "limit", f"the request body is larger than {self.max_bytes:,} bytes",
                          limit="max_body_bytes", allowed=self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    await _send_json(send, 400, error_body(400, "bad_request", "Content-Length is not a number"),
                                     SecurityHeaders.COMMON)
                    return
                if n > self.max_bytes:
                    await _drain(receive, 16 * self.max_bytes)
                    await _send_json(send, 413, self._too_big(), SecurityHeaders.COMMON)
                    return
        seen = 0
        started = over = False

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen, over
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise _TooLarge()
            return msg

        async def tracking_send(msg: MutableMapping[str, Any]) -> None:
            nonlocal started
            if over:  # the app turned the refused body into its own error reply (400): the reply is ours
                if msg["type"] == "http.response.start" and not started:
                    started = True
                    await _send_json(send, 413, self._too_big(), SecurityHeaders.COMMON)
                return
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counted, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, self._too_big(), SecurityHeaders.COMMON)


class _TooLarge(Exception):
    pass


class SecurityHeaders:
    """Add the security headers to every response (a CSP on HTML, no caching on the API)."""

    COMMON: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin")]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def with_headers(msg: MutableMapping[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                headers = [(k, v) for k, v in msg.get("headers", []) if k.lower() not in
                           {h for h, _ in self.COMMON}]
                names = {k.lower() for k, _ in headers}
                headers += self.COMMON
                ctype = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"")
                if b"content-security-policy" not in names:
                    csp = PAGE_CSP
                    if ctype.startswith(b"text/html") and path.endswith("/report"):
                        csp = REPORT_CSP
                    headers.append((b"content-security-policy", csp.encode()))
                if path.startswith("/api/") and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                msg["headers"] = headers
            await send(msg)

        await self.app(scope, receive, with_headers)
