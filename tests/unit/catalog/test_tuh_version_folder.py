"""TUAB/TUEV as downloaded: the corpus sits in a version folder (``v3.0.1/edf/...``) below the given root."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from climbflow import sampledata
from climbflow.catalog.base import CatalogError, Rejected
from climbflow.catalog.tuab import TUAB
from climbflow.catalog.tuev import TUEV


@pytest.mark.parametrize(("name", "spec", "version"), [("tuab", TUAB, "v3.0.1"), ("tuev", TUEV, "v2.0.1")])
def test_version_folder_found(tmp_path: Path, name: str, spec, version: str) -> None:
    sampledata.write(name, tmp_path / version, 2)
    assert spec().detect(tmp_path)
    below = [r for r in spec().index(tmp_path / version) if not isinstance(r, Rejected)]
    above = [r for r in spec().index(tmp_path) if not isinstance(r, Rejected)]
    assert below and [r.record_id for r in above] == [r.record_id for r in below]
    assert all(r.files[0].startswith(f"{version}/edf/") for r in above)
    assert [(r.split, r.target) for r in above] == [(r.split, r.target) for r in below]
    raw, _ = spec().decode(tmp_path, above[0])
    np.testing.assert_array_equal(raw, spec().decode(tmp_path / version, below[0])[0])


def test_two_version_folders_refused(tmp_path: Path) -> None:
    sampledata.write("tuab", tmp_path / "v3.0.0", 1)
    sampledata.write("tuab", tmp_path / "v3.0.1", 1)
    with pytest.raises(CatalogError, match=r"v3\.0\.0.*v3\.0\.1"):
        list(TUAB().index(tmp_path))
