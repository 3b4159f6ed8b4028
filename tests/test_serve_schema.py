"""schemathesis against the service's own OpenAPI document: no generated request gets a 5xx.

The server is a real `seqrisk serve` on loopback (no workers: accepted jobs wait in the queue), called with a
write token so the generated bodies reach the validation of every job kind, book upload and cancel. The live
status stream is left out (it never ends); every other operation gets a bounded number of examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("schemathesis")

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from serve_util import Server, bearer, start, token

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

_AUTH: dict[str, str] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home: Path = tmp_path_factory.mktemp("schema-home")
    _AUTH.update(bearer(token(home, "write")))
    with start(home, "--workers", "0", env={"SEQRISK_SERVE_MAX_ACTIVE_JOBS_PER_TOKEN": "100000",
                                            "SEQRISK_SERVE_MAX_QUEUED_JOBS": "100000"}) as srv:
        yield srv


def test_no_generated_request_gets_a_server_error(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base}/api/v1/openapi.json")
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if op.path != "/api/v1/status/stream"]
    assert len(ops) >= 20 and any(op.method.upper() == "POST" for op in ops)
    seen: dict[str, set[int]] = {}

    for op in ops:
        @given(case=op.as_strategy())
        @settings(max_examples=5, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            response = case.call(headers={**_AUTH}, timeout=60)
            case.validate_response(response, checks=[not_a_server_error])
            ctype = (response.headers.get("content-type") or [""])[0]
            assert ctype.startswith(("application/json", "text/")), response.text
            seen.setdefault(f"{case.operation.method.upper()} {case.operation.path}", set()).add(
                response.status_code)

        run()
    # the generated inputs reached both the refusals and the work behind them
    assert any(code < 300 for codes in seen.values() for code in codes)
    assert any(code == 422 for codes in seen.values() for code in codes)
