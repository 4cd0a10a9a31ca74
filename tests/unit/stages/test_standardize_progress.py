"""standardize reports its throughput on stderr (one line when stderr is not a terminal); stdout stays clean."""

from __future__ import annotations

import re

from climbflow.stages import ingest, standardize, validate


def test_standardize_prints_one_records_per_second_line(sample_root, params_factory, capsys):
    params = params_factory({"ptbxl": str(sample_root / "ptbxl")}, **{"standardize.workers": 1})
    snap = ingest.run(params, "ptbxl")
    val = validate.run(params, "ptbxl", snap.uri)
    capsys.readouterr()
    standardize.run(params, "ptbxl", snap.uri, val.uri)
    out, err = capsys.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("standardize ptbxl:")]
    assert len(lines) == 1 and re.fullmatch(
        r"standardize ptbxl: 120 records in [\d.]+ s \([\d.]+ records/s\)", lines[0]
    )
