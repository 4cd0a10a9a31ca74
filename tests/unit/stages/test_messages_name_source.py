"""Messages that name a snapshot copy (workspace/raw/<id>/files/...) name the user's source path as well."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from climbflow.stages import StageFailed, ingest, validate


def test_layout_failure_names_the_source_file(sample_root, tmp_path, params_factory):
    src = tmp_path / "raw" / "ptbxl"
    shutil.copytree(sample_root / "ptbxl", src)
    pd.read_csv(src / "ptbxl_database.csv").drop(columns=["strat_fold"]).to_csv(
        src / "ptbxl_database.csv", index=False
    )
    params = params_factory({"ptbxl": str(src)})
    snap = ingest.run(params, "ptbxl")
    with pytest.raises(StageFailed, match="strat_fold") as err:
        validate.run(params, "ptbxl", snap.uri)
    assert "/files/ptbxl_database.csv" in str(err.value)  # the snapshot copy, as before
    assert f"(source: {src}/ptbxl_database.csv)" in str(err.value)  # before: not named
