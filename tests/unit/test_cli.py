"""The `climb` CLI: clear errors (no tracebacks) on bad input, and the commands a user reaches first."""

from __future__ import annotations

import shutil

import pandas as pd
from typer.testing import CliRunner

from climbflow.cli import app
from tests.conftest import make_params

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "stage", "sample-data", "compile", "datasets"):
        assert command in result.stdout


def test_datasets_lists_the_catalog():
    result = runner.invoke(app, ["datasets"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "ptbxl" in result.stdout and "chexpert" in result.stdout and "ecg" in result.stdout


def test_bad_params_value_fails_with_named_key(tmp_path):
    params = make_params(tmp_path, {"ptbxl": "/nowhere"}, **{"finetune.mode": "partial"})
    result = runner.invoke(app, ["stage", "ingest", "--params", str(params), "--dataset", "ptbxl"])
    assert result.exit_code == 2
    assert "finetune.mode='partial'" in result.output and "Traceback" not in result.output


def test_stage_with_missing_inputs_names_them(tmp_path):
    params = make_params(tmp_path, {"ptbxl": "/nowhere"})
    result = runner.invoke(app, ["stage", "standardize", "--params", str(params), "--dataset", "ptbxl"])
    assert result.exit_code == 2 and "--snapshot" in result.output and "--validation" in result.output
    result = runner.invoke(app, ["stage", "ingest", "--params", str(params), "--dataset", "ptbxl"])
    assert result.exit_code == 1 and "/nowhere" in result.output and "Traceback" not in result.output


def test_failed_validation_exits_nonzero_with_summary(sample_root, tmp_path):
    src = tmp_path / "ptbxl"
    shutil.copytree(sample_root / "ptbxl", src)
    db = pd.read_csv(src / "ptbxl_database.csv").drop(columns=["scp_codes"])
    db.to_csv(src / "ptbxl_database.csv", index=False)
    params = make_params(tmp_path, {"ptbxl": str(src)})
    ingest = runner.invoke(app, ["stage", "ingest", "--params", str(params), "--dataset", "ptbxl"])
    assert ingest.exit_code == 0, ingest.output
    import json

    snapshot = json.loads(ingest.stdout[ingest.stdout.index("{") :])["uri"]
    result = runner.invoke(
        app, ["stage", "validate", "--params", str(params), "--dataset", "ptbxl", "--snapshot", snapshot]
    )
    assert result.exit_code == 1
    assert "FAILED" in result.output and "scp_codes" in result.output and "Traceback" not in result.output
