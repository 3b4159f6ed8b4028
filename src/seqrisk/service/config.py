"""The service's configuration: a YAML file, environment variables and command-line options, in that order.

Every setting has a safe default: the server listens on 127.0.0.1 only, write
endpoints need a write token, reads are open on loopback only, CORS is off,
bodies, books, paths and jobs per token are bounded. A later source overrides
an earlier one: file < ``SEQRISK_SERVE_<NAME>`` < command-line option. Durations
accept ``30s``, ``5m``, ``1h``; sizes accept ``512k``, ``4M`` (bytes). Errors name
the file or variable, the field and the value.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from seqrisk._documents import read_mapping
from seqrisk.exceptions import UsageError, ValidationError
from seqrisk.units import parse_duration

__all__ = ["ENV_PREFIX", "ServiceConfig", "is_loopback", "load_config", "parse_size"]

#: Environment variables ``SEQRISK_SERVE_<FIELD>`` (upper case) override the file.
ENV_PREFIX = "SEQRISK_SERVE_"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]i?[bB]?|[bB])?\s*$")
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}


def parse_size(text: str | int, *, field: str = "size") -> int:
    """``4M`` -> 4,000,000 bytes, ``512Ki`` -> 524,288; an int is bytes already."""
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise UsageError("a size is a number with an optional unit k, M, G (powers of 1000) or Ki, Mi, Gi",
                         field=field, value=text)
    unit = (m.group(2) or "").lower().removesuffix("b")
    return int(float(m.group(1)) * _UNITS[unit])


def is_loopback(host: str) -> bool:
    """True for ``127.0.0.0/8``, ``::1`` and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServiceConfig(BaseModel):
    """Settings of ``seqrisk serve`` (docs/serve.md lists them with their environment variables)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    host: str = Field("127.0.0.1", description="address to listen on; anything but loopback needs auth=token")
    port: int = Field(8000, ge=0, le=65535, description="TCP port (0: any free port)")
    home: Path | None = Field(None, description="state directory (default: the CLI's --home / $SEQRISK_HOME)")
    catalog_dir: Path | None = Field(None, description="your own catalog files merged over the bundle")
    auth: Literal["writes", "all"] = Field(
        "writes", description="writes: a write token for every write, reads open (loopback only); "
        "all: a token for every page and endpoint but /api/v1/health")
    workers: int = Field(2, ge=0, le=64, description="job worker processes (0: accept jobs, run none)")
    backend: Literal["local", "dask"] = Field(
        "local", description="where the jobs' simulations run: local (in each worker process) or dask (a Dask "
        "cluster: scheduler, or a local cluster of dask_workers processes on 127.0.0.1); numbers do not change")
    scheduler: str | None = Field(None, description="address of a running Dask scheduler, tcp://HOST:PORT "
                                  "(implies backend dask)")
    dask_workers: int | None = Field(None, ge=1, le=256, description="size of the local Dask cluster the server "
                                     "starts for backend dask without a scheduler (default: one per CPU)")
    max_body_bytes: int = Field(4_000_000, ge=1024, description="largest request body")
    max_book_bytes: int = Field(2_000_000, ge=256, description="largest book document or file")
    max_positions: int = Field(20_000, ge=1, description="most positions in one book")
    max_paths: int = Field(200_000, ge=1, description="most Monte Carlo paths of one run")
    max_strategies: int = Field(12, ge=1, description="most levers compared in one job")
    max_active_jobs_per_token: int = Field(8, ge=1, description="queued + running jobs of one token")
    max_queued_jobs: int = Field(1000, ge=1, description="queued + running jobs in all")
    max_job_s: float = Field(3600.0, gt=0, description="a running job is stopped after this long")
    max_attempts: int = Field(2, ge=1, description="a job interrupted by a restart or a dead worker is "
                              "run again until this many attempts, then marked failed with the reason")
    cancel_grace_s: float = Field(5.0, gt=0, description="a cancelled job that has not stopped by then is "
                                  "killed with its worker (a new worker takes its place)")
    status_poll_s: float = Field(1.0, gt=0, description="how often the live-status stream reads the store")
    dashboard: bool = Field(True, description="serve the dashboard pages (false: the JSON API alone)")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS (default none: "
                                    "CORS off)")
    cookie_secure: bool | None = Field(None, description="mark the login cookie Secure (default: when the "
                                       "request came over https)")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    @field_validator("max_job_s", "cancel_grace_s", "status_poll_s", mode="before")
    @classmethod
    def _dur(cls, v: Any) -> Any:
        return parse_duration(v, default_unit="s") if isinstance(v, str) else v

    @field_validator("max_body_bytes", "max_book_bytes", mode="before")
    @classmethod
    def _size(cls, v: Any) -> Any:
        return parse_size(v) if isinstance(v, str) else v

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [o.strip() for o in v.split(",") if o.strip()]
        return v

    @field_validator("scheduler")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError(f"a scheduler address looks like tcp://HOST:PORT: {v!r}")
        return v

    @model_validator(mode="after")
    def _backend(self) -> ServiceConfig:
        if self.scheduler is not None:
            if self.dask_workers is not None:
                raise ValueError("dask_workers sizes a local cluster; a scheduler's cluster has its own workers")
            object.__setattr__(self, "backend", "dask")
        elif self.dask_workers is not None and self.backend != "dask":
            raise ValueError("dask_workers goes with backend dask")
        return self

    @model_validator(mode="after")
    def _origins_exact(self) -> ServiceConfig:
        for o in self.cors_origins:
            if o == "*" or not re.match(r"^https?://[^/\s]+$", o):
                raise ValueError(f"a CORS origin is scheme://host[:port], never '*': {o!r}")
        return self

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def refusal(self, tokens: int) -> str | None:
        """Why the server must not start with this configuration (None: it may).

        Another address than loopback needs ``auth: all`` and at least one token.
        """
        if not self.loopback and self.auth != "all":
            return (f"refusing to listen on {self.host} without authentication: pass --auth all (or auth: all in "
                    "the config) and create a token with `seqrisk serve token create`")
        if self.auth == "all" and tokens == 0:
            return "auth is on but no API token exists: create one with `seqrisk serve token create --scope read`"
        return None

    def public(self) -> dict[str, Any]:
        """The settings a client may see (limits), for ``GET /api/v1/limits``."""
        return {k: getattr(self, k) for k in ("auth", "workers", "backend", "max_body_bytes", "max_book_bytes",
                                              "max_positions", "max_paths", "max_strategies",
                                              "max_active_jobs_per_token", "max_queued_jobs", "max_job_s")}


def _env(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ServiceConfig.model_fields:
        v = environ.get(ENV_PREFIX + name.upper())
        if v is not None and v != "":
            out[name] = v
    return out


def load_config(path: Path | str | None = None, *, environ: Mapping[str, str] | None = None,
                **overrides: Any) -> ServiceConfig:
    """The configuration from ``path`` (YAML), then the environment, then ``overrides`` (None values ignored)."""
    data: dict[str, Any] = {}
    p = None if path is None else Path(path)
    if p is not None:
        data.update(read_mapping(p, "the service config"))
    env = _env(os.environ if environ is None else environ)
    data.update(env)
    over = {k: v for k, v in overrides.items() if v is not None}
    if over.get("backend") == "local" and "scheduler" not in over:  # local asked last: no cluster set earlier
        for k in ("scheduler", "dask_workers"):
            data.pop(k, None)
    data.update(over)
    try:
        return ServiceConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        top = str(err["loc"][0]) if err["loc"] else None
        where: dict[str, Any] = {}
        if top in over:
            where["field"] = f"--{top.replace('_', '-')}"
        elif top in env:
            where["field"] = ENV_PREFIX + top.upper()
        else:
            where.update(file=str(p) if p else None, field=".".join(str(x) for x in err["loc"]) or None)
        msg = str(err["msg"]).removeprefix("Value error, ")
        cls = UsageError if top in over else ValidationError  # a bad option is a usage error (exit 2)
        raise cls(msg, value=data.get(top) if top else None, **where) from None
