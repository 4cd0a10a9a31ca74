"""A table that is not UTF-8 fails validation naming the file (snapshot and source), the line and the rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from climbflow.stages import StageFailed, ingest, validate


def test_latin1_csv_names_file_line_and_rule(sample_root, tmp_path, params_factory):
    src = tmp_path / "raw" / "chexpert"
    shutil.copytree(sample_root / "chexpert", src)
    train = src / "CheXpert-v1.0-small" / "train.csv"
    lines = train.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace(",", ",Caf\u00e9 ", 1)  # a latin-1 "é" on line 4
    train.write_bytes("".join(lines).encode("latin-1"))
    params = params_factory({"chexpert": str(src)})
    snap = ingest.run(params, "chexpert")
    # before: "'utf-8' codec can't decode byte 0xe9 in position ..." with no file, line or rule
    with pytest.raises(StageFailed, match=r"encoding: .*train\.csv .*line 4 is not UTF-8 \(byte 0xe9") as err:
        validate.run(params, "chexpert", snap.uri)
    assert f"source: {src}/CheXpert-v1.0-small/train.csv" in str(err.value)
    out = next((Path(params.workspace.root) / "validation" / "chexpert").iterdir())
    assert "encoding" in (out / "summary.md").read_text()
