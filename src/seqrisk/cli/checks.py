"""Every command-line input checked at the edge, before any work: one module, one rule per option.

A bad value is a :class:`~seqrisk.exceptions.UsageError` (exit 2) naming the
option and the value, raised before a model is fitted, a node is asked or a
file is written:

- durations need a unit (``2h``, ``30d``; ``--horizon 2`` is refused: two
  seconds or two years?) and are > 0 where zero means nothing;
- numbers are finite (no ``nan``, ``inf``) and in their range; counts are
  whole numbers where negatives or zero mean nothing;
- files read are regular, readable, UTF-8 text (a binary file is refused by
  name); files written go into an existing, writable folder and are not
  folders themselves; the state directory (``--home``) is a writable folder
  or can be made one;
- a Monte Carlo run fits in memory: the engine's estimate of its bytes
  against what the machine has available, refused with both on one line.

:func:`install` puts the rules (:data:`RULES`, by option name) in front of
every registered command, so a command added later is checked by the names it
shares; the helpers (:func:`duration`, :func:`number` ...) are for the checks
a command makes itself.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import re
import tempfile
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqrisk._documents import MAX_NESTING, nesting
from seqrisk.exceptions import UsageError
from seqrisk.units import YEAR_S, parse_duration

__all__ = ["RULES", "available_memory_bytes", "checked", "count", "duration", "event_type", "fits_memory", "home_dir",
           "in_dir", "install", "number", "option_names", "out_dir", "out_file", "text_file"]

#: The longest duration any option takes: a century (a longer horizon or window is a typo).
MAX_DURATION_S = 100 * YEAR_S
_WITH_UNITS = re.compile(r"(\s*(\d+(\.\d*)?|\.\d+)\s*[a-z]+\s*)+", re.IGNORECASE)


def duration(text: str, field: str, *, zero: bool = False, max_s: float = MAX_DURATION_S) -> float:
    """Seconds in ``text``, which must carry a unit on every number (``90m``, ``1d12h``), be > 0 (>= 0 with
    ``zero``) and at most ``max_s``; a bare number is refused: ``2`` could be seconds or years.

    >>> duration("90m", "--window")
    5400.0
    """
    s = str(text).strip()
    if not _WITH_UNITS.fullmatch(s):
        if re.fullmatch(r"[-+]?\s*(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?", s, re.IGNORECASE):
            raise UsageError("a duration needs a unit (s, m, h, d, w, y; e.g. 90s, 2h, 30d)", field=field, value=text)
        raise UsageError("cannot read duration (use e.g. 90s, 90m, 2h, 30d, 1y)", field=field, value=text)
    seconds = parse_duration(s, field=field)
    if not math.isfinite(seconds) or seconds > max_s:
        raise UsageError(f"duration too long (at most {max_s / YEAR_S:g}y)", field=field, value=text)
    if seconds <= 0 and not (zero and seconds == 0):
        raise UsageError("duration must be > 0" + (" (or 0)" if zero else ""), field=field, value=text)
    return seconds


def number(x: float, field: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """``x`` itself, if finite and within ``[low, high]`` (an end excluded when ``*_open``)."""
    if not math.isfinite(x):
        raise UsageError("must be a finite number", field=field, value=x)
    if low is not None and (x < low or (low_open and x == low)):
        raise UsageError(f"must be {'>' if low_open else '>='} {low:g}", field=field, value=x)
    if high is not None and (x > high or (high_open and x == high)):
        raise UsageError(f"must be {'<' if high_open else '<='} {high:g}", field=field, value=x)
    return x


def count(n: int, field: str, *, low: int = 0, high: int | None = None) -> int:
    """``n`` itself, if a whole number in ``[low, high]``."""
    if n < low or (high is not None and n > high):
        rng = f">= {low}" if high is None else f"between {low} and {high}"
        raise UsageError(f"must be a whole number {rng}", field=field, value=n)
    return n


def event_type(name: str, field: str) -> str:
    """``name`` if it is an event type the outage model fits (downtime, degraded, ...)."""
    from seqrisk.stats import MODELLED_TYPES

    if name not in MODELLED_TYPES:
        raise UsageError(f"unknown or unmodelled event type (modelled: {', '.join(MODELLED_TYPES)})", field=field,
                         value=name)
    return name


def text_file(path: Path, field: str) -> Path:
    """``path`` if it is a readable regular file of UTF-8 text (YAML, JSON, CSV): not missing, not a folder,
    not binary."""
    p = Path(path)
    if not p.exists():
        raise UsageError("no such file", field=field, file=str(p))
    if not p.is_file():
        raise UsageError("not a regular file", field=field, file=str(p))
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the file: {exc.strerror or exc}", field=field, file=str(p)) from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"not a UTF-8 text file (binary? byte {exc.start} cannot be read)", field=field,
                         file=str(p)) from None
    if b"\x00" in data:
        raise UsageError("not a text file (binary: it holds NUL bytes)", field=field, file=str(p))
    if nesting(data) > MAX_NESTING:
        raise UsageError(f"nested too deeply to read (over {MAX_NESTING} levels)", field=field, file=str(p))
    return p


def _writable_folder(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried, not guessed from permission bits: root, read-only
    mounts and ACLs all answer truly); leaves nothing behind."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".seqrisk-probe-"):
            return True
    except OSError:
        return False


def out_file(path: Path, field: str) -> Path:
    """``path`` if a file can be written there: its folder exists and is writable, and it is not a folder."""
    p = Path(path)
    if p.is_dir():
        raise UsageError("is a folder; give a file name", field=field, file=str(p))
    folder = p.parent
    if not folder.is_dir():
        raise UsageError(f"folder {str(folder)!r} does not exist" if not folder.exists() else
                         f"{str(folder)!r} is not a folder", field=field, file=str(p))
    if (p.exists() and not os.access(p, os.W_OK)) or not _writable_folder(folder):
        raise UsageError("cannot write here (permission denied or read-only)", field=field, file=str(p))
    return p


def _creatable_dir(path: Path, field: str, what: str) -> Path:
    p = Path(path).expanduser()
    if p.exists():
        if not p.is_dir():
            raise UsageError(f"{what} is a file, not a folder", field=field, file=str(p))
        if not _writable_folder(p):
            raise UsageError(f"{what} is not writable (permission denied or read-only)", field=field, file=str(p))
        return p
    anc = p.parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise UsageError(f"{what} cannot be made: {str(anc)!r} is a file", field=field, file=str(p))
    if not _writable_folder(anc):
        raise UsageError(f"{what} cannot be made in {str(anc)!r} (permission denied or read-only)", field=field,
                         file=str(p))
    return p


def out_dir(path: Path, field: str) -> Path:
    """``path`` if it is a writable folder, or one that can be made (its nearest existing parent writable)."""
    return _creatable_dir(path, field, "the folder")


def in_dir(path: Path, field: str) -> Path:
    """``path`` if it is an existing folder that can be read."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise UsageError("no such folder" if not p.exists() else "not a folder", field=field, file=str(p))
    if not os.access(p, os.R_OK | os.X_OK):
        raise UsageError("cannot read the folder (permission denied)", field=field, file=str(p))
    return p


def home_dir(path: Path, field: str = "--home") -> Path:
    """The state directory if usable: a writable folder, or one that can be made; a file there is refused."""
    return _creatable_dir(path, field, "the state directory")


def available_memory_bytes() -> int | None:
    """Memory this process can still take: the kernel's MemAvailable, lowered to a cgroup's remaining limit;
    None where neither is known."""
    avail: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            left = max(int(limit) - used, 0)
            avail = left if avail is None else min(avail, left)
    except (OSError, ValueError):
        pass
    return avail


def fits_memory(paths: int, field: str = "--paths", *, n_chains: int = 1, keep_paths: bool = False,
                workers: int = 1) -> int:
    """``paths`` if a run of that many paths fits in the memory available (the engine's estimate of its peak
    bytes); otherwise a UsageError giving the estimate and the limit."""
    from seqrisk.engine.simulate import memory_estimate_bytes

    count(paths, field, low=1)
    need = memory_estimate_bytes(paths, n_chains=n_chains, keep_paths=keep_paths, workers=workers)
    have = available_memory_bytes()
    if have is not None and need > have:
        raise UsageError(f"{paths:,} paths need about {_bytes(need)} of memory, {_bytes(have)} available: use fewer "
                         "paths", field=field, value=paths)
    return paths


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n / 1e3:.3g} kB"


# The rules, by option name (an argument by its parameter name): what a value must be, checked before the
# command runs. One name means one thing in every command.
Check = Callable[[Any, str], Any]


def _dur(v: Any, f: str) -> Any:
    return duration(v, f)


def _dur0(v: Any, f: str) -> Any:
    return duration(v, f, zero=True)


def _pos(v: Any, f: str) -> Any:
    return number(v, f, low=0, low_open=True)


def _nonneg(v: Any, f: str) -> Any:
    return number(v, f, low=0)


def _unit(v: Any, f: str) -> Any:
    return number(v, f, low=0, high=1)


def _level(v: Any, f: str) -> Any:
    return number(v, f, low=0, high=1, low_open=True, high_open=True)


def _cnt0(v: Any, f: str) -> Any:
    return count(v, f, low=0)


def _cnt1(v: Any, f: str) -> Any:
    return count(v, f, low=1)


def _finite(v: Any, f: str) -> Any:
    return number(v, f)


RULES: dict[str, Check] = {
    # durations: a unit always; zero only where it means something (a trigger: every outage pays)
    **dict.fromkeys(("--horizon", "--period", "--step", "--poll", "--timeout", "--threshold", "--gap-threshold",
                     "--window", "--stall-threshold", "--bucket", "--posting-gap", "--safe-lag"), _dur),
    "--trigger": _dur0,
    # numbers
    "--block-time": _pos, "--z": _pos, "--min-interval": _nonneg, "--coinsurance": _unit, "--weight": _finite,
    "--loading": _nonneg, "--coc": _nonneg, "--level": _level,
    # counts
    "--paths": lambda v, f: fits_memory(v, f), "--workers": _cnt0,  # serve: 0 = queue only
    "--replications": _cnt1, "--chunk": _cnt1,
    "--batch-size": _cnt1, "--concurrency": _cnt1, "--retries": _cnt0, "--confirmations": _cnt0,
    "--system-txs": _cnt0, "--replica-lag": _cnt0, "--seed": _cnt0, "--from": _cnt0, "--to": _cnt0,
    "--l1-from": _cnt0, "--l1-to": _cnt0, "--chain-id": _cnt1, "--l1-chain-id": _cnt1, "--compact-above": _cnt1,
    "--port": lambda v, f: count(v, f, low=0, high=65535),
    # files read and written
    **dict.fromkeys(("--config", "--model", "--book", "portfolio", "csv_file"), text_file),
    **dict.fromkeys(("--out", "--save", "--plot"), out_file),
    "--plots": out_dir, "--dir": out_dir,
    "--home": home_dir, "--catalog-dir": in_dir, "directory": in_dir,
}


def option_names(hint: Any, name: str) -> tuple[str, ...] | None:
    """The long option names of a parameter (``("--json",)``; both of a flag pair), from its ``Annotated``
    typer metadata; None for an argument. In ``Annotated[..., typer.Option("--x")]`` typer keeps ``"--x"`` as the
    option's default and moves it to the names when it builds the command: so does this."""
    for meta in getattr(hint, "__metadata__", ()):
        if type(meta).__name__ == "ArgumentInfo":
            return None
        if type(meta).__name__ == "OptionInfo":
            decls = list(getattr(meta, "param_decls", None) or ())
            default = getattr(meta, "default", None)
            if isinstance(default, str) and default.startswith("-"):
                decls.insert(0, default)
            longs = [x for d in decls for x in d.split("/") if x.startswith("--")]
            if longs:
                return tuple(longs)
    return ("--" + name.replace("_", "-"),)


def _declared(hint: Any, name: str) -> tuple[str, str]:
    """(rule key, name shown) of a parameter: its first long option, or the argument's name (shown upper-case)."""
    names = option_names(hint, name)
    return (names[0], names[0]) if names else (name, name.upper())


def checked(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` behind its options' rules (the same function when no rule applies)."""
    hints = typing.get_type_hints(callback, include_extras=True)
    rules: dict[str, tuple[str, Check]] = {}
    for name in inspect.signature(callback).parameters:
        key, shown = _declared(hints.get(name), name)
        if key in RULES:
            rules[name] = (shown, RULES[key])
    if not rules:
        return callback

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        for name, (shown, rule) in rules.items():
            value = kwargs.get(name)
            for v in value if isinstance(value, list | tuple) else [value]:
                if v is not None and not isinstance(v, bool):
                    rule(v, shown)
        return callback(*args, **kwargs)

    return run


def install(app: Any) -> None:
    """Put :data:`RULES` in front of every command and group callback registered on the typer ``app``."""
    if app.registered_callback is not None and app.registered_callback.callback is not None:
        app.registered_callback.callback = checked(app.registered_callback.callback)
    for cmd in app.registered_commands:
        if cmd.callback is not None:
            cmd.callback = checked(cmd.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            install(group.typer_instance)
