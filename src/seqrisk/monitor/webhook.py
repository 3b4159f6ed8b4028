"""Webhook delivery of alerts: signed, timed out, retried with backoff, dead-lettered when a receiver stays down.

The body is the alert as JSON (or, for an ``alertmanager`` receiver, its Alertmanager alert list). Headers:

- ``X-Seqrisk-Alert-Id``: the alert's fingerprint (a receiver that got it already can drop a repeat);
- ``X-Seqrisk-Timestamp``: UTC epoch seconds when this attempt was signed;
- ``X-Seqrisk-Signature``: ``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>`` with the receiver's
  secret (only when a secret is set). :func:`verify` is the receiver's check; it also refuses a timestamp
  older than its tolerance, so a captured request cannot be replayed later.

A 2xx answer is delivered. A timeout, a transport failure, 408, 429 and 5xx are retried: attempt ``k``
waits ``min(backoff_max_s, backoff_s * 2**k)`` times a factor uniform in [0.5, 1]. Any other answer (a 4xx:
the receiver refuses this alert) is final. An alert not delivered after all attempts is appended to the
dead-letter file, one JSON line each, and counted as failed; the monitor goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from seqrisk.monitor.config import WebhookSettings

__all__ = ["Delivery", "append_dead_letter", "deliver", "sign", "verify"]

SIGNATURE_HEADER = "X-Seqrisk-Signature"
TIMESTAMP_HEADER = "X-Seqrisk-Timestamp"
ALERT_ID_HEADER = "X-Seqrisk-Alert-Id"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, *, now_utc: float,
           tolerance_s: float = 300.0) -> bool:
    """A receiver's check: the signature matches and the timestamp is within ``tolerance_s`` of ``now_utc``."""
    try:
        ts = float(timestamp)
    except ValueError:
        return False
    if abs(now_utc - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one alert to one receiver."""

    receiver: str
    ok: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None


def _retryable(code: int) -> bool:
    return code in (408, 425, 429) or code >= 500


async def deliver(client: httpx.AsyncClient, hook: WebhookSettings, alert_id: str, body: bytes, *,
                  secret: bytes | None = None, clock: Callable[[], float] = time.time,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                  rng: random.Random | None = None) -> Delivery:
    """POST ``body`` to ``hook`` with retries; never raises for the receiver's failures."""
    r = rng or random.Random()
    attempts, last, code = 0, None, None
    for k in range(hook.retries + 1):
        attempts += 1
        ts = f"{clock():.3f}"
        headers = {"content-type": "application/json", ALERT_ID_HEADER: alert_id, TIMESTAMP_HEADER: ts}
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret, ts, body)
        try:
            resp = await asyncio.wait_for(client.post(hook.url, content=body, headers=headers, timeout=hook.timeout_s),
                                          hook.timeout_s + 1.0)
            code = resp.status_code
            if 200 <= code < 300:
                return Delivery(hook.label, True, attempts, code)
            last = f"HTTP {code}"
            if not _retryable(code):
                break
        except TimeoutError:
            last, code = f"no answer within {hook.timeout_s:g} s", None
        except httpx.TimeoutException:
            last, code = f"no answer within {hook.timeout_s:g} s", None
        except (httpx.HTTPError, OSError) as exc:
            last, code = f"transport failed: {type(exc).__name__}", None
        if k < hook.retries:
            await sleep(min(hook.backoff_max_s, hook.backoff_s * 2.0 ** k) * (0.5 + 0.5 * r.random()))
    return Delivery(hook.label, False, attempts, code, last)


def append_dead_letter(path: Path, alert_id: str, receiver: str, document: Any, outcome: Delivery,
                       failed_utc: float) -> None:
    """One JSON line for an alert ``receiver`` never took (the file is only ever appended to)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"alert_id": alert_id, "receiver": receiver, "failed_utc": failed_utc,
                       "attempts": outcome.attempts, "status_code": outcome.status_code, "error": outcome.error,
                       "document": document}, sort_keys=True, default=str)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
