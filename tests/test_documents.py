"""Documents nested deeper than a parser can follow: every library reader says where, in one line.

The CLI refuses such files at its edge (tests/cli/test_checks.py); a library caller of the same readers
gets a :class:`DataError` naming the file, the line and column where the nesting passes the limit and
the key the deep part is under, never a ``RecursionError``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from seqrisk._documents import MAX_NESTING, deep_at, nesting, read_mapping
from seqrisk.catalog.load import read_records
from seqrisk.engine import load_scenario
from seqrisk.exceptions import DataError, ValidationError
from seqrisk.monitor.config import load_monitor_config
from seqrisk.outage import OutageModel
from seqrisk.portfolio import book_from_dict, load_book
from seqrisk.service.config import load_config

BOOK = Path(__file__).resolve().parents[1] / "examples" / "desk.yaml"
DOC = yaml.safe_load(BOOK.read_text())


def test_nesting_is_bounded_by_brackets_and_indentation() -> None:
    assert nesting(b"a:\n  b:\n    c: [1, {x: 2}]\n") == 4
    assert nesting(b"[" * 50 + b"]" * 50) == 50
    assert nesting(BOOK.read_bytes()) < 10


def test_deep_at_is_where_the_nesting_passes_the_limit() -> None:
    head = '{"a": 1, "b": '
    text = head + "[" * 400 + "]" * 400 + "}"
    # the outer brace is level 1, so the limit is passed by the (limit)th bracket after it
    assert deep_at(text) == len(head) + MAX_NESTING - 1
    assert deep_at(head + "[" * (MAX_NESTING - 1) + "]" * (MAX_NESTING - 1) + "}") is None
    block = "".join(" " * i + f"k{i}:\n" for i in range(400))  # block style: one more level per line
    at = deep_at(block)
    assert at is not None and block.count("\n", 0, at) == MAX_NESTING  # line MAX_NESTING + 1
    assert deep_at(BOOK.read_text()) is None


def _deep_book(tmp_path: Path, suffix: str, depth: int) -> Path:
    doc = copy.deepcopy(DOC)
    doc["positions"][1]["chain"] = "@deep@"
    text = json.dumps(doc, indent=1).replace('"@deep@"', "[" * depth + "]" * depth)
    p = tmp_path / f"book{suffix}"
    p.write_text(text)
    return p


@pytest.mark.parametrize(("suffix", "depth"), [(".yaml", 600), (".yml", 5_000), (".json", 100_000)])
def test_load_book_of_a_book_nested_too_deeply_names_file_line_and_field(tmp_path: Path, suffix: str,
                                                                       depth: int) -> None:
    path = _deep_book(tmp_path, suffix, depth)
    with pytest.raises(DataError) as ex:
        load_book(path)
    err = ex.value
    text = path.read_text()
    line = text.splitlines().index(next(x for x in text.splitlines() if "[[[" in x)) + 1
    assert err.context["file"] == str(path) and err.context["field"] == "chain"
    assert f"line {line}," in err.message and f"deeper than {MAX_NESTING} levels" in err.message
    assert "\n" not in str(err) and len(str(err)) < 400


def test_every_document_reader_refuses_deep_nesting_by_file_and_line(tmp_path: Path) -> None:
    deep_yaml = tmp_path / "deep.yaml"
    deep_yaml.write_text("name: x\nsettings:\n  " + "[" * 1500 + "]" * 1500 + "\n")
    deep_json = tmp_path / "deep.json"
    deep_json.write_text('{"kind": ' + "[" * 100_000 + "]" * 100_000 + "}")
    market = tmp_path / "m.market.yaml"
    market.write_text(deep_yaml.read_text())
    readers: list[tuple[Path, Callable[[], Any]]] = [
        (deep_yaml, lambda: load_scenario(deep_yaml)),
        (deep_yaml, lambda: load_config(deep_yaml)),
        (deep_yaml, lambda: read_records(deep_yaml)),
        (deep_json, lambda: read_records(deep_json)),
        (deep_json, lambda: OutageModel.from_json(deep_json.read_text(), file=str(deep_json))),
        (market, lambda: load_book(BOOK.with_name("desk.csv"), market=market)),
    ]
    for path, read in readers:
        with pytest.raises(DataError, match="nested too deeply") as ex:
            read()
        assert ex.value.context["file"] == str(path)
        assert ex.value.context["field"] == ("kind" if path == deep_json else "settings")
        assert "line 3, column 3" in ex.value.message if path != deep_json else "line 1, column" in ex.value.message


def test_a_deep_value_that_parses_is_named_by_position_and_field_in_one_short_line() -> None:
    deep: Any = "arbitrum"
    for _ in range(20_000):  # deeper than repr() can follow
        deep = [deep]
    doc = copy.deepcopy(DOC)
    doc["positions"][0]["chain"] = deep
    with pytest.raises(ValidationError) as ex:
        book_from_dict(doc)
    line = str(ex.value)
    assert ex.value.context["position"] == DOC["positions"][0]["id"] and ex.value.context["field"] == "chain"
    assert "value=[[[[" in line and "\n" not in line and len(line) < 400


@pytest.mark.parametrize(("what", "load"), [
    ("the scenario", load_scenario),
    ("the service config", load_config),
    ("the monitor config", load_monitor_config),
])
@pytest.mark.parametrize(("content", "says"), [
    (b"\xff\xfe\x00binary", "cannot read"),  # not UTF-8
    (b"a: [1, 2\n", "cannot read"),  # not YAML
    (b"- 1\n- 2\n", "is a mapping of settings, not list"),
    (b"42\n", "is a mapping of settings, not int"),
])
def test_every_config_reader_refuses_what_is_not_a_mapping_naming_the_file(
        tmp_path: Path, what: str, load: Callable[[Path], Any], content: bytes, says: str) -> None:
    """Scenario, service and monitor configs are read by one reader: a binary file, broken YAML, a list or a
    scalar is one DataError naming the document and the file, never a traceback and never a default config."""
    f = tmp_path / "cfg.yaml"
    f.write_bytes(content)
    with pytest.raises(DataError, match=f"{what}") as err:
        load(f)
    assert says in str(err.value) and str(f) in str(err.value)
    assert "\n" not in str(err.value)


def test_an_empty_config_is_the_defaults(tmp_path: Path) -> None:
    f = tmp_path / "empty.yaml"
    f.write_text("")
    assert load_scenario(f) == load_scenario(None)
    assert load_config(f, environ={}) == load_config(None, environ={})
    assert read_mapping(f, "x") == {}


def test_a_missing_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read the scenario") as err:
        load_scenario(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(err.value)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_an_uploaded_book_nested_too_deeply_is_refused_with_its_line(fmt: str) -> None:
    """The service's upload reads books the way the library does: a book nested past the limit is one error on
    the request's ``content`` naming the line where it gets too deep, not the parser's own complaint."""
    from seqrisk.catalog import load_catalog
    from seqrisk.service.books import BookUpload, parse_upload
    from seqrisk.service.config import ServiceConfig

    deep = "[" * (MAX_NESTING + 5) + "]" * (MAX_NESTING + 5)
    text = f'{{"name": "x", "positions": {deep}}}' if fmt == "json" else f"name: x\npositions: {deep}\n"
    with pytest.raises(DataError, match="nested too deeply") as err:
        parse_upload(BookUpload(content=text, format=fmt), load_catalog(), ServiceConfig())
    assert err.value.context["field"] == "content" and "line" in str(err.value)
