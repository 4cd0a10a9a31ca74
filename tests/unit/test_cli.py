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


def test_datasets_lists_the_catalog_and_finds_local_copies(sample_root, tmp_path):
    from climbflow import catalog

    params = make_params(
        tmp_path, {"ptbxl": str(sample_root / "ptbxl"), "chexpert": str(tmp_path / "missing")}
    )
    result = runner.invoke(app, ["datasets", "--params", str(params)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 5}
    assert set(catalog.names()) <= set(rows)
    assert str(sample_root / "ptbxl")[:20] in rows["ptbxl"]  # found: its path is shown
    assert "not found" in rows["chexpert"] and "not found" in rows["tuab"]


def test_datasets_option_enables_exactly_those(tmp_path):
    from climbflow.config import ConfigError, load, select_datasets

    params = load(make_params(tmp_path, {"ptbxl": "/a", "chexpert": "/b", "tuab": "/c"}))
    chosen = select_datasets(params, ["ptbxl", "tuab"])
    assert chosen.enabled_datasets() == ["ptbxl", "tuab"]
    assert chosen.finetune.targets == ["ptbxl", "tuab"] and chosen.pretrain.modalities == ["ecg", "eeg"]
    try:
        select_datasets(params, ["nope"])
    except ConfigError as exc:
        assert "nope" in str(exc) and "configured" in str(exc)
    else:
        raise AssertionError("an unknown dataset must be refused")


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


def test_help_text_is_not_broken_where_the_source_broke_its_lines():
    """typer keeps a docstring's line breaks: on a wide terminal a sentence stopped mid-way at each of them."""
    joined = {
        "retrain": "(cached ingest -> validate -> standardize) with the data versions recorded on each target's",
        "lineage": "pipeline run (git commit, image, params) -> per dataset",
        "promote": "positive = better) and its paired patient-bootstrap 95% CI",
    }
    for command, phrase in joined.items():
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "250"}, terminal_width=250)
        assert result.exit_code == 0, result.output
        assert any(phrase in line for line in result.stdout.splitlines()), (command, result.stdout)
    # lists stay one item a line
    result = runner.invoke(app, ["retrain", "--help"], env={"COLUMNS": "250"}, terminal_width=250)
    codes = ("0  ", "10 ", "20 ", "1  ")
    items = [line.strip() for line in result.stdout.splitlines() if line.strip()[:3] in codes]
    assert [i.split()[0] for i in items] == ["0", "10", "20", "1"], result.stdout
