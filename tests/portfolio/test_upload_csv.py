"""A CSV book sent to the service (``format: csv``): the same book as the file loaded locally."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqrisk.catalog import load_catalog
from seqrisk.exceptions import SeqriskError
from seqrisk.portfolio import load_book
from seqrisk.service.books import BookUpload, parse_upload
from seqrisk.service.config import ServiceConfig

EX = Path(__file__).resolve().parents[2] / "examples"


def test_an_uploaded_venue_export_is_the_local_book() -> None:
    market = yaml.safe_load((EX / "venue-export.market.yaml").read_text())
    market.pop("mapping")
    up = BookUpload(name="venue-export.csv", content=(EX / "venue-export.csv").read_text(), market=market,
                    mapping=yaml.safe_load((EX / "venue-mapping.yaml").read_text()))
    _, book = parse_upload(up, load_catalog(), ServiceConfig())
    assert book == load_book(EX / "venue-export.csv")


def test_an_uploaded_market_cannot_name_a_file_to_read() -> None:
    market = yaml.safe_load((EX / "venue-export.market.yaml").read_text())  # mapping: venue-mapping.yaml
    up = BookUpload(name="venue-export.csv", content=(EX / "venue-export.csv").read_text(), market=market)
    with pytest.raises(SeqriskError, match="names a file only in a market file"):
        parse_upload(up, load_catalog(), ServiceConfig())
