"""YAML and JSON text nested deeper than a parser can follow: how deep it is, and where it gets too deep.

The YAML reader overflows Python's recursion limit at about 450 levels and the
JSON reader at about 1,000, with a ``RecursionError``. Loaders catch it and
raise :func:`too_deep` instead: one line naming the file, the line and column
where the nesting passes :data:`MAX_NESTING` levels and the key it is under.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from seqrisk.exceptions import DataError

__all__ = ["MAX_NESTING", "deep_at", "nesting", "read_mapping", "too_deep"]

#: Deepest nesting a document may have. Books, configs and catalogs nest a handful of levels.
MAX_NESTING = 300

_BRACKET = re.compile(r"[\[\]{}]")
_KEY = re.compile(r"""(?:"([^"\n]+)"|'([^'\n]+)'|([A-Za-z_][\w.-]*))\s*:(?:\s|$)""")


def nesting(data: bytes) -> int:
    """An upper bound of the nesting depth of YAML or JSON text: open brackets, or a line's indentation."""
    depth = deepest = 0
    for ch in re.sub(rb"[^\[\]{}]", b"", data):
        depth += 1 if ch in b"[{" else -1
        deepest = max(deepest, depth)
    indent = max((len(line) - len(line.lstrip(b" ")) for line in data.splitlines()), default=0)
    return max(deepest, indent)


def deep_at(text: str, limit: int = MAX_NESTING) -> int | None:
    """The offset in ``text`` where its nesting first passes ``limit`` levels (None: it never does).

    Levels are open brackets (flow style) plus indentation levels (block style), an upper bound of the
    document's depth.
    """
    stack: list[int] = []  # indentations of the open block levels
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.lstrip(" ")
        if body.strip() and not body.startswith("#"):
            indent = len(line) - len(body)
            while stack and stack[-1] >= indent:
                stack.pop()
            stack.append(indent)
            if len(stack) > limit:
                return pos + indent
        pos += len(line)
    depth = 0
    for m in _BRACKET.finditer(text):
        depth += 1 if m.group() in "[{" else -1
        if depth > limit:
            return m.start()
    return None


def too_deep(what: str, text: str, **context: Any) -> DataError:
    """The error for a document ``text`` a parser could not follow for its depth: where it gets too deep.

    ``context`` names the file (and whatever else the caller knows); the key the deep part sits under is
    given as ``field`` when the text shows one before it.
    """
    at = deep_at(text)
    where = ""
    if at is not None:
        line = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        where = f"; it passes that at line {line}, column {col}"
        keys = list(_KEY.finditer(text, 0, at))
        if keys and "field" not in context:
            k = keys[-1]
            context["field"] = k.group(1) or k.group(2) or k.group(3)
    return DataError(f"{what} is nested too deeply to read (deeper than {MAX_NESTING} levels{where})", **context)


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The YAML (or JSON) mapping in ``path``; an empty file is an empty mapping.

    Every way the file can fail to be one (unreadable, not UTF-8, not YAML, nested too deeply, a list or a
    scalar) is one :class:`~seqrisk.exceptions.DataError` naming ``what`` and the file.
    """
    text = ""
    try:
        text = path.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot read {what}: {reason}", file=str(path)) from None
    except RecursionError:  # nested deeper than the parser can follow
        raise too_deep(what, text, file=str(path)) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise DataError(f"{what} is a mapping of settings, not {type(doc).__name__} {_short(doc)}", file=str(path))
    return doc


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."
