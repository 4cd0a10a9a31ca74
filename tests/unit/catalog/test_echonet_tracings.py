"""An empty optional VolumeTracings.csv is treated like an absent one (a warning), not a dataset failure."""

from __future__ import annotations

from climbflow import sampledata
from climbflow.catalog.base import Rejected
from climbflow.catalog.echonet import TRACINGS, EchoNetLowEF


def _index(root):
    items = list(EchoNetLowEF().index(root))
    return [i for i in items if not isinstance(i, Rejected)], [i for i in items if isinstance(i, Rejected)]


def test_empty_tracings_file_is_like_a_missing_one(tmp_path, caplog):
    root = sampledata.write("echonet", tmp_path / "echonet", 4, seed=0)
    (root / TRACINGS).write_bytes(b"")  # before: CatalogError "cannot be parsed as CSV", whole dataset failed
    empty, rejected = _index(root)
    assert len(empty) == 4 and not rejected
    assert all(r.meta["es_frame"] is None for r in empty)
    assert "empty" in caplog.text and TRACINGS in caplog.text
    (root / TRACINGS).unlink()
    missing, _ = _index(root)
    assert [r.meta for r in missing] == [r.meta for r in empty]
