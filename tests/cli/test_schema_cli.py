"""``seqrisk schema book|mapping``: JSON Schemas generated from the models, checked with an independent validator
(jsonschema-rs) on every example and on books the loader refuses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from seqrisk.cli.app import app
from seqrisk.portfolio.schema import book_schema

# the independent validator comes with the development extras (not in the oldest-versions environment)
jsonschema_rs = pytest.importorskip("jsonschema_rs")

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
runner = CliRunner()


class _Yaml12(yaml.SafeLoader):
    """YAML 1.2 numbers (``8.0e6`` is a float, as in JSON), which PyYAML's 1.1 resolver reads as a string."""


_Yaml12.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(
    r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$"), list("-+0123456789."))


def _schema(name: str, tmp_path: Path) -> Any:
    r = runner.invoke(app, ["schema", name], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    out = tmp_path / f"{name}.json"
    r = runner.invoke(app, ["schema", name, "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0 and json.loads(out.read_text()) == doc
    return doc


def test_every_example_book_is_valid(tmp_path: Path) -> None:
    doc = _schema("book", tmp_path)
    assert doc == book_schema() and doc["$schema"].endswith("2020-12/schema")
    validator = jsonschema_rs.validator_for(doc)
    books = [p for p in EX.glob("*.yaml") if "positions" in (yaml.safe_load(p.read_text()) or {})]
    assert {"desk.yaml", "first-steps.yaml", "lending.yaml"} <= {p.name for p in books}
    for p in books:
        errors = [e.message for e in validator.iter_errors(yaml.load(p.read_text(), Loader=_Yaml12))]
        assert errors == [], (p.name, errors)


@pytest.mark.parametrize(("path", "value"), [
    (("positions", 0, "leverage"), 0.5),            # below 1
    (("positions", 0, "levrage"), 5),               # unknown field
    (("positions", 0, "type"), "swap"),             # unknown position type
    (("positions", 3, "expiry"), "soon"),           # not a duration
    (("assets", "ETH", "spot_usd"), -1),            # not > 0
    (("positions", 0, "maintenance_margin"), 1.5),  # a share is below 1
])
def test_books_the_loader_refuses_the_schema_refuses(tmp_path: Path, path: tuple[Any, ...], value: Any) -> None:
    from seqrisk.exceptions import SeqriskError
    from seqrisk.portfolio import book_from_dict

    validator = jsonschema_rs.validator_for(book_schema())
    doc = yaml.load((EX / "desk.yaml").read_text(), Loader=_Yaml12)
    assert validator.is_valid(doc)
    cur = doc
    for part in path[:-1]:
        cur = cur[part]
    cur[path[-1]] = value
    assert not validator.is_valid(doc)
    with pytest.raises(SeqriskError):
        book_from_dict(doc)


def test_mapping_schema_accepts_the_example_mapping(tmp_path: Path) -> None:
    validator = jsonschema_rs.validator_for(_schema("mapping", tmp_path))
    assert validator.is_valid(yaml.safe_load((EX / "venue-mapping.yaml").read_text()))
    assert not validator.is_valid({"columns": {"a": "id"}, "colums": {}})


def test_schema_out_must_be_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqrisk.cli.app import main

    with pytest.raises(SystemExit) as ei:
        main(["schema", "book", "--out", str(tmp_path / "b.yaml")])
    assert ei.value.code == 2 and not (tmp_path / "b.yaml").exists()
    assert capsys.readouterr().err.strip() == (f"error: a JSON Schema is written to a .json file (field=--out, "
                                               f"value='{tmp_path / 'b.yaml'}')")
