"""Ethereum JSON-RPC client (edge layer): batched, bounded, retrying, failing over.

:class:`RpcClient` talks to one chain through one or more endpoints. Every call
is a JSON-RPC batch over httpx; batches run on a bounded thread pool. Transport
failures, HTTP 429/5xx, malformed or truncated bodies and retryable JSON-RPC
errors are retried with exponential backoff and equal jitter (the wait is
uniform between half and all of ``base * 2**attempt``; a ``Retry-After``
header, in seconds or as an HTTP date, replaces it), then the next endpoint is
tried. Block tags an endpoint refuses (``safe``, ``finalized`` on older nodes)
are remembered per endpoint and not asked again. Whatever cannot be
served raises a typed :class:`~seqrisk.exceptions.RpcError` naming the
endpoint, the method and the block. A ``null`` block, a response for another
block number, a malformed header or an endpoint on another chain id are errors,
never data.

>>> client = RpcClient(["http://127.0.0.1:8545"], chain_id=31337)   # doctest: +SKIP
>>> client.headers(range(100, 200))                                  # doctest: +SKIP
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from seqrisk.exceptions import RpcError, UsageError

__all__ = [
    "BatchTooLargeError",
    "ChainIdMismatchError",
    "Header",
    "RpcClient",
    "RpcMalformedError",
    "RpcNullBlockError",
    "RpcRemoteError",
    "RpcTransportError",
    "parse_header",
    "parse_retry_after",
    "redact",
]

_QTY = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
_INT64 = 2**63
#: JSON-RPC error codes worth retrying (rate limits, internal and server errors).
_RETRYABLE_CODES = {-32000, -32002, -32005, -32603, 429}


class RpcTransportError(RpcError):
    """The endpoint could not be reached or answered with HTTP 429/5xx after all retries."""


class RpcMalformedError(RpcError):
    """A response was not valid JSON-RPC (truncated body, missing ids, wrong shapes or fields)."""


class RpcNullBlockError(RpcError):
    """The endpoint returned ``null`` for a block that should exist."""


class RpcRemoteError(RpcError):
    """The endpoint answered with a JSON-RPC error object; ``code`` holds its code."""

    def __init__(self, message: str, code: int | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.code = code


class BatchTooLargeError(RpcRemoteError):
    """The endpoint refused a whole batch (one error object, or HTTP 413): smaller batches may pass."""


class ChainIdMismatchError(RpcError):
    """An endpoint serves another chain than the one asked for."""


@dataclass(frozen=True, slots=True)
class Header:
    """One block header as stored: hashes are 32 raw bytes, timestamp in UTC epoch seconds."""

    number: int
    timestamp: int
    hash: bytes
    parent_hash: bytes
    tx_count: int
    gas_used: int


def redact(url: str) -> str:
    """``url`` as shown in errors: scheme, host and port only (paths and queries often hold API keys)."""
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid url>"
    if not u.scheme or not u.host:
        return "<invalid url>"
    base = f"{u.scheme}://{u.host}" + (f":{u.port}" if u.port else "")
    return base + ("/***" if (u.path not in ("", "/") or u.query) else "")


def _qty(v: Any, what: str) -> int:
    # fast path for the common case, the regex only decides the rare odd value
    if type(v) is str and 2 < len(v) <= 66 and v[:2] == "0x" and v[2:].isalnum():
        try:
            return int(v[2:], 16)
        except ValueError:
            pass
    if not isinstance(v, str) or not _QTY.match(v):
        raise ValueError(f"{what} is not a hex quantity: {v!r:.80}")
    return int(v, 16)


def _hash(v: Any, what: str) -> bytes:
    if type(v) is str and len(v) == 66 and v[:2] == "0x":
        try:
            b = bytes.fromhex(v[2:])
        except ValueError:
            b = b""
        if len(b) == 32:
            return b
    raise ValueError(f"{what} is not a 32-byte hex hash: {v!r:.80}")


def parse_header(obj: Any, number: int | None = None) -> Header:
    """Validate one ``eth_getBlockByNumber(n, false)`` result and return its :class:`Header`.

    Raises ``ValueError`` (the client turns it into :class:`RpcMalformedError`)
    for anything that is not a complete header of block ``number``.
    """
    if type(obj) is not dict:
        raise ValueError(f"block is not an object: {type(obj).__name__}")
    txs = obj.get("transactions")
    if type(txs) is not list:
        raise ValueError("block has no transactions list")
    # The hot path (tens of thousands of headers per second): plain checks, the helpers only on odd input.
    n, t, g, h, p = obj.get("number"), obj.get("timestamp"), obj.get("gasUsed"), obj.get("hash"), obj.get("parentHash")
    try:
        if not (type(n) is str and type(t) is str and type(g) is str and n[:2] == t[:2] == g[:2] == "0x"
                and n[2:].isalnum() and t[2:].isalnum() and g[2:].isalnum() and len(n) > 2 and len(t) > 2
                and len(g) > 2 and type(h) is str and type(p) is str and len(h) == len(p) == 66
                and h[:2] == p[:2] == "0x"):
            raise ValueError
        hb, pb = bytes.fromhex(h[2:]), bytes.fromhex(p[2:])
        if len(hb) != 32 or len(pb) != 32:
            raise ValueError
        out = Header(int(n[2:], 16), int(t[2:], 16), hb, pb, len(txs), int(g[2:], 16))
    except ValueError:  # say precisely what is wrong
        out = Header(_qty(n, "number"), _qty(t, "timestamp"), _hash(h, "hash"), _hash(p, "parentHash"),
                     len(txs), _qty(g, "gasUsed"))
    if out.number >= _INT64 or out.timestamp >= _INT64 or out.gas_used >= _INT64:
        raise ValueError("number, timestamp or gasUsed does not fit 63 bits")
    if number is not None and out.number != number:
        raise ValueError(f"asked for block {number}, got block {out.number}")
    return out


class _Retryable(Exception):
    """Internal: a failure that backoff, then failover, may cure."""

    def __init__(self, err: RpcError, retry_after_s: float | None = None) -> None:
        super().__init__(str(err))
        self.err = err
        self.retry_after_s = retry_after_s


def parse_retry_after(value: str | None, now_utc: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110); None if unreadable.

    A date in the past means "now" (0 s); ``now_utc`` is the observer's clock in UTC epoch seconds.
    """
    if value is None:
        return None
    v = value.strip()
    try:
        s = float(v)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(v)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        s = when.timestamp() - now_utc
    return max(0.0, s) if s == s and s != float("inf") else None


class RpcClient:
    """A JSON-RPC client for one chain over one or more endpoints (tried in order).

    Parameters: ``chain_id`` expected from every endpoint (None: take the first
    endpoint's and require the others to agree); ``batch_size`` calls per HTTP
    request; ``concurrency`` requests in flight; ``timeout_s`` per request;
    ``max_retries`` per endpoint before failing over; backoff
    ``min(backoff_max_s, backoff_base_s * 2**attempt)`` times a uniform factor
    in [0.5, 1] (equal jitter: never less than half the step, so retries stay
    spaced out, yet spread across clients; a ``Retry-After`` header, capped at
    ``retry_after_max_s``, replaces it). ``transport``, ``sleep`` and ``clock``
    (UTC epoch seconds, for date-form ``Retry-After``) are injectable for tests.
    """

    def __init__(self, endpoints: Sequence[str], *, chain_id: int | None = None, batch_size: int = 500,
                 concurrency: int = 4, timeout_s: float = 20.0, max_retries: int = 4, backoff_base_s: float = 0.25,
                 backoff_max_s: float = 8.0, retry_after_max_s: float = 60.0,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, seed: int | None = None) -> None:  # clock-ok
        if not endpoints:
            raise RpcError("no RPC endpoint given")
        for e in endpoints:
            shown = redact(e)
            if shown == "<invalid url>" or httpx.URL(e).scheme not in ("http", "https"):
                raise UsageError("an RPC endpoint must be an http:// or https:// URL with a host", field="--rpc",
                                 value=shown)
        self.endpoints = list(endpoints)
        self.chain_id = chain_id
        self.batch_size = max(1, int(batch_size))
        self.concurrency = max(1, int(concurrency))
        self.max_retries = max(0, int(max_retries))
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.retry_after_max_s = retry_after_max_s
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._checked: set[str] = set()
        self._preferred = 0
        #: Block tags each endpoint refused (asked once per client, then skipped).
        self.refused_tags: dict[str, set[str]] = {}
        limits = httpx.Limits(max_connections=self.concurrency * len(self.endpoints),
                              max_keepalive_connections=self.concurrency * len(self.endpoints))
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s), limits=limits, transport=transport,
                                  headers={"content-type": "application/json"})
        self._pool: ThreadPoolExecutor | None = None
        #: Counters: JSON-RPC calls and HTTP requests made (retries included), retries, failovers.
        self.calls = 0
        self.requests = 0
        self.retries = 0
        self.failovers = 0

    # -- lifecycle -------------------------------------------------------------
    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._http.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one HTTP request ------------------------------------------------------
    def _post(self, endpoint: str, calls: list[tuple[str, list[Any]]], block: int | None) -> list[Any]:
        """One batch on one endpoint; results in call order. Raises _Retryable or RpcError."""
        method = calls[0][0]
        ctx: dict[str, Any] = {"endpoint": redact(endpoint), "method": method, "block": block}
        body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p}
                           for i, (m, p) in enumerate(calls)]).encode()
        with self._lock:
            self.requests += 1
            self.calls += len(calls)
        try:
            resp = self._http.post(endpoint, content=body)
        except httpx.TimeoutException as exc:
            raise _Retryable(RpcTransportError(f"timed out ({type(exc).__name__})", **ctx)) from None
        except httpx.TransportError as exc:
            raise _Retryable(RpcTransportError(f"transport failed: {type(exc).__name__}: {exc}", **ctx)) from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise _Retryable(RpcTransportError(f"HTTP {resp.status_code}", **ctx),
                             parse_retry_after(resp.headers.get("retry-after"), self._clock()))
        if resp.status_code == 413 and len(calls) > 1:
            raise BatchTooLargeError(f"HTTP 413 for a batch of {len(calls)}", **ctx)
        if resp.status_code != 200:
            raise RpcTransportError(f"HTTP {resp.status_code}: {resp.text[:120]!r}", **ctx)
        try:
            doc = json.loads(resp.content)
        except ValueError as exc:
            raise _Retryable(RpcMalformedError(f"response is not JSON ({exc}; {len(resp.content)} bytes)",
                                               **ctx)) from None
        if isinstance(doc, dict) and "error" in doc:
            err = doc["error"] if isinstance(doc["error"], dict) else {}
            msg = f"batch refused: {err.get('message', doc['error'])}"
            if len(calls) > 1:  # one error for a whole batch: most often a provider's batch-size cap
                raise BatchTooLargeError(f"{msg} (batch of {len(calls)})", code=err.get("code"), **ctx)
            raise _Retryable(RpcRemoteError(msg, code=err.get("code"), **ctx))
        if not isinstance(doc, list) or len(doc) != len(calls):
            raise _Retryable(RpcMalformedError(
                f"expected a batch of {len(calls)} responses, got "
                f"{len(doc) if isinstance(doc, list) else type(doc).__name__}", **ctx))
        out: list[Any] = [None] * len(calls)
        seen = set()
        for item in doc:
            if not isinstance(item, dict) or not isinstance(item.get("id"), int) or not 0 <= item["id"] < len(calls):
                raise _Retryable(RpcMalformedError(f"batch item without a valid id: {str(item)[:80]!r}", **ctx))
            i = item["id"]
            if i in seen:
                raise _Retryable(RpcMalformedError(f"duplicate id {i} in batch", **ctx))
            seen.add(i)
            if item.get("error") is not None:
                err = item["error"] if isinstance(item["error"], dict) else {"message": item["error"]}
                code = err.get("code")
                e = RpcRemoteError(f"JSON-RPC error {code}: {err.get('message')}", code=code,
                                   endpoint=redact(endpoint), method=calls[i][0], block=_block_of(calls[i]))
                if code in _RETRYABLE_CODES:
                    raise _Retryable(e)
                raise e
            if "result" not in item:
                raise _Retryable(RpcMalformedError(f"batch item {i} has neither result nor error", **ctx))
            out[i] = item["result"]
        return out

    def _backoff_s(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(retry_after_s, self.retry_after_max_s)
        with self._lock:
            jitter = 0.5 + 0.5 * self._rng.random()
        return min(self.backoff_max_s, self.backoff_base_s * 2.0 ** attempt) * jitter

    # -- chain id --------------------------------------------------------------
    def _check_chain(self, endpoint: str) -> None:
        if endpoint in self._checked:
            return
        with self._check_lock:  # one eth_chainId per endpoint, even with threads racing here
            if endpoint not in self._checked:
                self._check_chain_locked(endpoint)

    def _check_chain_locked(self, endpoint: str) -> None:
        got = None
        for attempt in range(self.max_retries + 1):
            try:
                got = _qty(self._post(endpoint, [("eth_chainId", [])], None)[0], "chain id")
                break
            except _Retryable as r:
                if attempt == self.max_retries:
                    raise r.err from None
                self._sleep(self._backoff_s(attempt, r.retry_after_s))
            except ValueError as exc:
                raise RpcMalformedError(str(exc), endpoint=redact(endpoint), method="eth_chainId") from None
        with self._lock:
            if self.chain_id is None:
                self.chain_id = got
            if got != self.chain_id:
                raise ChainIdMismatchError(f"endpoint serves chain id {got}, expected {self.chain_id}",
                                           endpoint=redact(endpoint), method="eth_chainId", value=got)
            self._checked.add(endpoint)

    # -- calls with retries and failover --------------------------------------
    def _on_endpoint(self, idx: int, calls: list[tuple[str, list[Any]]], block: int | None,
                     validate: Callable[[list[Any]], Any] | None, refusal_is_final: bool = False) -> Any:
        """``calls`` on endpoint ``idx`` with retries; raises :class:`_EndpointFailed` when the next may serve.

        With ``refusal_is_final`` a JSON-RPC error object is not retried (it is the endpoint's answer).
        """
        endpoint = self.endpoints[idx]
        try:
            self._check_chain(endpoint)
        except ChainIdMismatchError:
            raise
        except RpcError as exc:
            raise _EndpointFailed(exc) from None
        last: RpcError | None = None
        for attempt in range(self.max_retries + 1):
            try:
                res = self._post(endpoint, calls, block)
                return validate(res) if validate else res
            except _Retryable as r:
                if refusal_is_final and isinstance(r.err, RpcRemoteError):
                    raise r.err from None
                last = r.err
                retry_after = r.retry_after_s
            except RpcTransportError as exc:  # HTTP 401/403/404...: retrying will not help, the next may
                raise _EndpointFailed(exc) from None
            except _TagRefused:
                raise
            except _NullBlock as nb:
                last = RpcNullBlockError(f"endpoint returned null for block {nb.block}",
                                         endpoint=redact(endpoint), method=calls[0][0], block=nb.block)
                retry_after = None
            except ValueError as exc:
                last = RpcMalformedError(f"invalid result: {exc}", endpoint=redact(endpoint),
                                         method=calls[0][0], block=block)
                retry_after = None
            if attempt < self.max_retries:
                with self._lock:
                    self.retries += 1
                self._sleep(self._backoff_s(attempt, retry_after))
        assert last is not None
        raise _EndpointFailed(last)

    def call_batch(self, calls: list[tuple[str, list[Any]]], *, block: int | None = None,
                   validate: Callable[[list[Any]], Any] | None = None, endpoint: int | None = None) -> Any:
        """Run ``calls`` as one batch, with retries and failover; return ``validate(results)``.

        ``validate`` raises ``ValueError`` for a result that must not be
        accepted (it is then retried like a malformed response, and reported as
        :class:`RpcMalformedError` or :class:`RpcNullBlockError`). ``endpoint``
        (an index into :attr:`endpoints`) asks that endpoint only, without failover.
        """
        if endpoint is not None:
            try:
                return self._on_endpoint(endpoint, calls, block, validate)
            except _EndpointFailed as f:
                raise f.err from None
        last: RpcError | None = None
        n = len(self.endpoints)
        start = self._preferred
        for k in range(n):
            idx = (start + k) % n
            if k:
                with self._lock:
                    self.failovers += 1
            try:
                out = self._on_endpoint(idx, calls, block, validate)
            except _EndpointFailed as f:
                last = f.err
                continue
            if k:
                self._preferred = idx
            return out
        assert last is not None
        raise last

    # -- endpoints -------------------------------------------------------------
    @property
    def preferred(self) -> int:
        """Index of the endpoint asked first (the last one that worked)."""
        return self._preferred

    def prefer(self, idx: int) -> None:
        """Ask endpoint ``idx`` first from now on."""
        if not 0 <= idx < len(self.endpoints):
            raise UsageError("no such endpoint", field="endpoint", value=idx)
        self._preferred = idx

    def fail_over(self) -> bool:
        """Move to the next endpoint (after bad data from the current one); False when there is no other."""
        if len(self.endpoints) < 2:
            return False
        with self._lock:
            self._preferred = (self._preferred + 1) % len(self.endpoints)
            self.failovers += 1
        return True

    def endpoint_names(self) -> list[str]:
        """Endpoints as shown and stored: redacted, numbered where two look alike."""
        shown = [redact(e) for e in self.endpoints]
        return [s if shown.count(s) == 1 else f"{s}#{i + 1}" for i, s in enumerate(shown)]

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        """One JSON-RPC call (sent as a batch of one) with retries and failover."""
        return self.call_batch([(method, list(params or []))])[0]

    def chain_id_checked(self) -> int:
        """The chain id of the first endpoint that answers (checked against the expected one)."""
        self.call("eth_chainId")
        assert self.chain_id is not None
        return self.chain_id

    # -- headers ---------------------------------------------------------------
    def _header_batch(self, numbers: list[int]) -> list[Header]:
        """One batch of headers; a refused batch is split in halves (and later batches shrink too)."""
        def validate(res: list[Any]) -> list[Header]:
            out = []
            for n, r in zip(numbers, res, strict=True):
                if r is None:
                    raise _NullBlock(n)
                out.append(parse_header(r, n))
            return out
        try:
            return self.call_batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers],
                                   block=numbers[0], validate=validate)
        except BatchTooLargeError:
            if len(numbers) == 1:
                raise
            half = len(numbers) // 2
            with self._lock:
                self.batch_size = min(self.batch_size, half)
            return self._header_batch(numbers[:half]) + self._header_batch(numbers[half:])

    def headers(self, numbers: Iterable[int]) -> list[Header]:
        """Headers of ``numbers`` (in the order given), batched and fetched concurrently."""
        nums = list(numbers)
        chunks = [nums[i:i + self.batch_size] for i in range(0, len(nums), self.batch_size)]
        if not chunks:
            return []
        if len(chunks) == 1 or self.concurrency == 1:
            results = [self._header_batch(c) for c in chunks]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="seqrisk-rpc")
            results = list(self._pool.map(self._header_batch, chunks))
        return [h for r in results for h in r]

    def header(self, tag: int | str, *, endpoint: int | None = None) -> Header:
        """One header by number or tag (``latest``, ``safe``, ``finalized``); ``endpoint`` as in :meth:`call_batch`."""
        param = hex(tag) if isinstance(tag, int) else tag

        def validate(res: list[Any]) -> Header:
            if res[0] is None:
                raise _NullBlock(tag if isinstance(tag, int) else None)
            return parse_header(res[0], tag if isinstance(tag, int) else None)
        return self.call_batch([("eth_getBlockByNumber", [param, False])],
                               block=tag if isinstance(tag, int) else None, validate=validate, endpoint=endpoint)

    def tag_header(self, tag: str, *, endpoint: int | None = None) -> Header | None:
        """The header at block tag ``tag`` (``safe``, ``finalized``), or None where the endpoint refuses the tag.

        A JSON-RPC error or a ``null`` answer is a refusal: it is remembered
        for that endpoint (in :attr:`refused_tags`) and the tag is not asked
        there again, so a node without the tag costs one request, not a round
        of retries every time. Transport failures are retried as usual and
        raise :class:`RpcError`.
        """
        idx = self._preferred if endpoint is None else endpoint
        ep = self.endpoints[idx]
        if tag in self.refused_tags.get(ep, ()):
            return None

        def validate(res: list[Any]) -> Header:
            if res[0] is None:
                raise _TagRefused
            return parse_header(res[0])
        try:
            h: Header = self._on_endpoint(idx, [("eth_getBlockByNumber", [tag, False])], None, validate,
                                          refusal_is_final=True)
            return h
        except _EndpointFailed as f:
            raise f.err from None
        except (RpcRemoteError, _TagRefused):
            with self._lock:
                self.refused_tags.setdefault(ep, set()).add(tag)
            return None

    def block_number(self, *, endpoint: int | None = None) -> int:
        """The head block number (of ``endpoint`` only when given)."""
        def validate(res: list[Any]) -> int:
            return _qty(res[0], "block number")
        n: int = self.call_batch([("eth_blockNumber", [])], validate=validate, endpoint=endpoint)
        return n

    def heads(self) -> list[int | RpcError]:
        """Every endpoint's head block number (or the error it gave), in endpoint order."""
        out: list[int | RpcError] = []
        for i in range(len(self.endpoints)):
            try:
                out.append(self.block_number(endpoint=i))
            except ChainIdMismatchError:
                raise
            except RpcError as exc:
                out.append(exc)
        return out

    def blocks_with_txs(self, numbers: Sequence[int]) -> list[dict[str, Any]]:
        """Full blocks (transactions as objects) for ``numbers``, validated like headers."""
        def one(chunk: list[int]) -> list[dict[str, Any]]:
            def validate(res: list[Any]) -> list[dict[str, Any]]:
                for n, r in zip(chunk, res, strict=True):
                    if r is None:
                        raise _NullBlock(n)
                    if not isinstance(r, dict) or not isinstance(r.get("transactions"), list):
                        raise ValueError(f"block {n} has no transactions list")
                    h = parse_header({**r, "transactions": []}, n)
                    if any(not isinstance(t, dict) for t in r["transactions"]):
                        raise ValueError(f"block {n}: transactions are not objects")
                    r["_header"] = h
                return res
            return self.call_batch([("eth_getBlockByNumber", [hex(n), True]) for n in chunk], block=chunk[0],
                                   validate=validate)
        nums = list(numbers)
        size = max(1, self.batch_size // 10)
        return [b for i in range(0, len(nums), size) for b in one(nums[i:i + size])]


class _EndpointFailed(Exception):
    """Internal: one endpoint could not serve a call after its retries; the next endpoint may."""

    def __init__(self, err: RpcError) -> None:
        super().__init__(str(err))
        self.err = err


class _TagRefused(ValueError):
    """Internal: an endpoint answered ``null`` for a block tag."""


class _NullBlock(ValueError):
    def __init__(self, block: int | None) -> None:
        super().__init__(f"null block {block}")
        self.block = block


def _block_of(call: tuple[str, list[Any]]) -> int | None:
    if call[0].startswith("eth_getBlockBy") and call[1] and isinstance(call[1][0], str) and _QTY.match(call[1][0]):
        return int(call[1][0], 16)
    return None
