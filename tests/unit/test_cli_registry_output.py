"""What `climb models --at` and `climb data versions` print: words instead of a raw None, whole hashes when piped."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from climbflow.cli import app
from tests.conftest import make_params

runner = CliRunner()


def _params(tmp_path, monkeypatch):
    from climbflow.config import load
    from climbflow.pipeline_runner import resolve_paths

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # mlflow.set_tracking_uri exports it
    path = make_params(tmp_path, {"ptbxl": str(tmp_path / "no-source")})
    return path, resolve_paths(load(path), tmp_path)


def test_models_at_a_date_before_any_champion_says_so(tmp_path, monkeypatch):
    from climbflow.registry import tracking

    path, cfg = _params(tmp_path, monkeypatch)
    _, client = tracking.mlflow_client(cfg)
    client.create_registered_model("climb-ptbxl")
    run = client.create_run(tracking.experiment_id(cfg), run_name="evaluate:ptbxl")
    client.create_model_version("climb-ptbxl", "/tmp/m", run_id=run.info.run_id, await_creation_for=0)

    result = runner.invoke(app, ["models", "--params", str(path), "--at", "2026-06-01"])
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if "@champion at" in line]
    assert "None" not in line
    assert line == "climb-ptbxl: @champion at 2026-06-01T00:00:00: none (no version was @champion then)", line


def test_data_versions_piped_keeps_whole_hashes_and_dates(tmp_path, monkeypatch):
    from climbflow.stages.base import Workspace
    from climbflow.stages.common import dvc_remote
    from climbflow.store.versioning import version_and_push

    path, cfg = _params(tmp_path, monkeypatch)
    ws = Workspace.from_params(cfg).local_root
    store = ws / "standardized" / "ptbxl" / "k1"
    store.mkdir(parents=True)
    (store / "manifest.json").write_text('{"records": 3}')
    (store / "report.json").write_text("{}")
    version = version_and_push(store, ws, dvc_remote(cfg))

    result = runner.invoke(app, ["data", "versions", "ptbxl", "--params", str(path)])  # stdout: not a TTY
    assert result.exit_code == 0, result.output
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header == ["version", "kind", "created", "files", "MB", "local", "remote"]
    (row,) = rows
    assert row[0] == version.md5 and len(version.md5) == len("0" * 32 + ".dir")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row[2]), row
    assert row[1] == "standardized" and row[5] == "yes" and row[6] == version.remote
