"""Webhook delivery: HMAC signatures, retries with backoff, final refusals, dead letters."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import httpx

from seqrisk.monitor.config import WebhookSettings
from seqrisk.monitor.webhook import Delivery, append_dead_letter, deliver, sign, verify

SECRET = b"correct horse"
BODY = b'{"kind":"down"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    want = hmac.new(SECRET, b"1700000000.000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1700000000.000", BODY) == "sha256=" + want


def test_verify_refuses_tampering_other_keys_and_stale_timestamps() -> None:
    sig = sign(SECRET, "1000.000", BODY)
    assert verify(SECRET, "1000.000", BODY, sig, now_utc=1010.0)
    assert not verify(SECRET, "1000.000", BODY + b" ", sig, now_utc=1010.0)
    assert not verify(b"other", "1000.000", BODY, sig, now_utc=1010.0)
    assert not verify(SECRET, "1001.000", BODY, sig, now_utc=1010.0)     # timestamp is signed too
    assert not verify(SECRET, "1000.000", BODY, sig, now_utc=2000.0)     # replayed too late
    assert not verify(SECRET, "soon", BODY, sig, now_utc=1010.0)


def hook(**kw: object) -> WebhookSettings:
    return WebhookSettings.model_validate({"url": "http://hook.test/in", "retries": 3, "backoff_s": 1.0,
                                           "backoff_max_s": 3.0, **kw})


def run(handler, h: WebhookSettings, secret: bytes | None = SECRET) -> tuple[Delivery, list[float]]:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    async def go() -> Delivery:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            return await deliver(http, h, "base:1:down:2", BODY, secret=secret, clock=lambda: 1234.5, sleep=sleep)
    return asyncio.run(go()), slept


def test_a_receiver_that_recovers_gets_the_alert_signed_after_backoff() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if len(seen) < 3 else 204)
    out, slept = run(handler, hook())
    assert out == Delivery("http://hook.test/***", True, 3, 204)
    # attempt k waits base * 2**k times a factor in [0.5, 1], capped at backoff_max_s
    assert len(slept) == 2 and 0.5 <= slept[0] <= 1.0 and 1.0 <= slept[1] <= 2.0
    r = seen[-1]
    assert r.headers["x-seqrisk-alert-id"] == "base:1:down:2" and r.headers["x-seqrisk-timestamp"] == "1234.500"
    assert verify(SECRET, r.headers["x-seqrisk-timestamp"], r.content, r.headers["x-seqrisk-signature"],
                  now_utc=1234.5)


def test_a_receiver_answering_500_forever_fails_after_every_attempt() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500)
    out, slept = run(handler, hook())
    assert not out.ok and out.attempts == 4 == len(calls) and out.error == "HTTP 500"
    assert len(slept) == 3 and slept[2] <= 3.0  # capped


def test_a_refusal_is_final_and_timeouts_are_retried() -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401)
    out, slept = run(refuse, hook())
    assert (out.ok, out.attempts, out.status_code, slept) == (False, 1, 401, [])

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)
    out, slept = run(slow, hook(retries=1))
    assert (out.ok, out.attempts, out.error) == (False, 2, "no answer within 5 s")


def test_no_secret_no_signature_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)
    out, _ = run(handler, hook(), secret=None)
    assert out.ok and "x-seqrisk-signature" not in seen[0].headers


def test_dead_letter_lines_are_appended_whole(tmp_path: Path) -> None:
    p = tmp_path / "dl" / "dead.jsonl"
    for i in range(2):
        append_dead_letter(p, f"a{i}", "hook", {"kind": "down"}, Delivery("hook", False, 4, 500, "HTTP 500"), 9.0)
    rows = [json.loads(x) for x in p.read_text().splitlines()]
    assert [r["alert_id"] for r in rows] == ["a0", "a1"]
    assert rows[0]["document"] == {"kind": "down"} and rows[0]["attempts"] == 4 and rows[0]["error"] == "HTTP 500"
