"""Where a catalog fact comes from, and the frozen base of every catalog record."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["Frozen", "Source", "parse_source"]

#: http(s), a host (a domain name, localhost, IPv4 or [IPv6]), an optional port and path.
_URL = re.compile(r"^https?://([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}|localhost|\d{1,3}(\.\d{1,3}){3}"
                  r"|\[[0-9A-Fa-f:]+\])(:\d{1,5})?(/\S*)?$")
#: A repository reference ``owner/repo:path[@commit]`` (how L2BEAT config files are cited).
_REPO_REF = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+):(?P<path>[^@\s]+)(?:@(?P<rev>[0-9a-f]+))?$")


class Frozen(BaseModel):
    """Immutable, strict records: unknown fields are errors, strings are stripped."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Source(Frozen):
    """Where a fact comes from: a URL, and the reference as first written if it was not one.

    A source that is block data read by seqrisk (an incident promoted from a
    detected event) has the endpoint as ``url``, a one-line summary as ``ref``
    and the detection's ``evidence`` (chain id, blocks, times, confidence ...).
    """

    url: str
    ref: str | None = None
    evidence: dict[str, str | int | float | None] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not _URL.match(v):
            raise ValueError(f"not a well-formed http(s) URL: {v!r}")
        return v


def parse_source(text: str) -> dict[str, str]:
    """A source as written in a CSV cell: a URL, or ``owner/repo:path@commit`` (kept as ``ref``
    beside its GitHub URL). Anything else is returned as a URL and fails validation with its value.

    >>> parse_source("l2beat/l2beat:packages/config/src/projects/base/base.ts@000705cf")["url"]
    'https://github.com/l2beat/l2beat/blob/000705cf/packages/config/src/projects/base/base.ts'
    """
    text = text.strip()
    m = _REPO_REF.match(text)
    if m and not text.startswith(("http://", "https://")):
        rev = m.group("rev") or "main"
        return {"url": f"https://github.com/{m.group('repo')}/blob/{rev}/{m.group('path')}", "ref": text}
    return {"url": text}
