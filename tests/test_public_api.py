"""The package face: every name in ``__all__`` resolves, the heavy ones lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import seqrisk

pytestmark = pytest.mark.oldest  # the smoke tier: also run in the oldest supported environment


def test_every_public_name_resolves() -> None:
    for name in seqrisk.__all__:
        assert getattr(seqrisk, name) is not None, name
    from seqrisk.engine import simulate

    assert seqrisk.simulate is simulate


def test_import_does_not_load_the_engine() -> None:
    code = "import sys, seqrisk; print('seqrisk.engine' in sys.modules, 'scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
