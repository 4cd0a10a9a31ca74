"""When the index accepts no record, validate fails closed with the rejections, not a frame-schema error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from climbflow.stages import StageFailed, ingest, validate


def test_zero_readable_records_reports_the_top_reasons(sample_root, tmp_path, params_factory):
    src = tmp_path / "raw" / "ptbxl"
    shutil.copytree(sample_root / "ptbxl", src)
    for dat in src.rglob("*.dat"):
        dat.unlink()
    params = params_factory({"ptbxl": str(src)})
    snap = ingest.run(params, "ptbxl")
    # before: "records frame lacks column(s) ['record_id', ...]" and the rejections reported nowhere
    with pytest.raises(StageFailed, match=r"0 of 120 records readable; top reasons: missing_file \(120\)"):
        validate.run(params, "ptbxl", snap.uri)
    out = next((Path(params.workspace.root) / "validation" / "ptbxl").iterdir())
    assert len(pd.read_parquet(out / "quarantine.parquet")) == 120
    assert "missing_file" in (out / "summary.md").read_text()
